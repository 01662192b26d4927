"""`hpo dashboard` on a big study (issue 35): seconds and bytes of the study page's data request
(the one optuna-dashboard polls while the page is open), twice, and whether headless Chromium
renders the study page within a 60 s virtual-time budget (120 s wall).

    python benchmarks/dashboard_large.py STUDY.toml    # e.g. the one benchmarks/large_studies.py wrote
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.browser import dump_dom  # noqa: E402
from tests.helpers.workerkit import free_port  # noqa: E402


def main() -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "hpo", "dashboard", sys.argv[1], "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        url = re.search(r"http://\S+", proc.stdout.readline())
        assert url is not None
        study_id = url.group(0).rstrip("/").split("/")[-1]
        time.sleep(3)
        for i in range(2):
            t0 = time.monotonic()
            api = f"http://127.0.0.1:{port}/api/studies/{study_id}?after=0"
            with urllib.request.urlopen(api, timeout=300) as r:
                body = r.read()
            print(f"data request {i + 1}: {time.monotonic() - t0:.1f} s, {len(body) / 1e6:.1f} MB", flush=True)
        t0 = time.monotonic()
        try:
            dom = dump_dom(url.group(0), budget_ms=60000)
            print(f"chromium: {time.monotonic() - t0:.1f} s, plotly graphs drawn: {dom.count('main-svg')}")
        except subprocess.TimeoutExpired:
            print(f"chromium: no page after {time.monotonic() - t0:.0f} s (gave up)")
    finally:
        proc.kill()  # busy serving, it may not stop on SIGINT for minutes
        proc.wait()


if __name__ == "__main__":
    main()
