"""`output.serve_kernel_port_as_iframe`: what Colab's proxy would show, fetched from the port."""

from __future__ import annotations

import urllib.error
import urllib.request

from google.colab import record


def serve_kernel_port_as_iframe(
    port: int, path: str = "/", width: str = "100%", height: str = "400", cache_in_notebook: bool = False
) -> None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
            status = response.status
    except (urllib.error.URLError, OSError) as exc:
        status = str(exc)
    record("output.serve_kernel_port_as_iframe", port=port, path=path, status=status)
