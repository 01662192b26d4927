"""Headless Chromium (Debian's `chromium`) for tests and screenshots: DOM after JavaScript."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
# every request leaves through a proxy that does not exist: nothing outside file:// and the
# loopback (which Chromium never proxies by default) can load
OFFLINE = ["--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(url: str, extra: list[str], offline: bool, budget_ms: int) -> subprocess.CompletedProcess[str]:
    exe = chromium()
    assert exe is not None, "chromium is not installed"
    with tempfile.TemporaryDirectory() as profile:
        cmd = [exe, *FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}"]
        cmd += OFFLINE if offline else []
        return subprocess.run([*cmd, *extra, url], capture_output=True, text=True, timeout=120)


def dump_dom(url: str, *, offline: bool = False, budget_ms: int = 15000) -> str:
    """The page's DOM after its scripts ran (virtual time lets fetches and renders finish)."""
    proc = _run(url, ["--dump-dom"], offline, budget_ms)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def screenshot(url: str, out: Path, width: int = 1400, height: int = 1000, budget_ms: int = 15000) -> Path:
    proc = _run(url, [f"--window-size={width},{height}", f"--screenshot={out}"], False, budget_ms)
    assert proc.returncode == 0 and out.is_file(), proc.stderr[-2000:]
    return out
