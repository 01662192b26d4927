"""Headless Chromium (Debian's `chromium`) for tests and screenshots: DOM after JavaScript."""

from __future__ import annotations

import re
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


# appended to a copy of a page: once plotly.js has drawn, each graph div carries the number of
# data points plotly.js holds for it (points, bars, cells, heat-map rows, parcoords lines)
_COUNT_POINTS = """<script>
addEventListener("load", () => {
  const len = (a) => (a && a.length) || 0;
  const points = (t) => Math.max(t._length || 0, len(t.x), len(t.y), len(t.z), len(((t.cells || {}).values || [])[0]),
                                 ...(t.dimensions || []).map((d) => len(d.values)));
  for (const gd of document.querySelectorAll(".js-plotly-plot")) {
    gd.setAttribute("data-points", String((gd._fullData || []).reduce((n, t) => n + points(t), 0)));
  }
});
</script>"""


def rendered_sections(page: Path, offline: bool = True) -> dict[str, str]:
    """The DOM of each ``<section>`` of an HTML report after plotly.js ran, by its ``<h2>`` title;
    every plotly graph div in it carries ``data-points="N"`` (what plotly.js holds to draw)."""
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / page.name
        probe.write_text(page.read_text().replace("</body>", _COUNT_POINTS + "</body>"))
        dom = dump_dom(probe.as_uri(), offline=offline)
    sections = re.findall(r"<section><h2>(.*?)</h2>(.*?)</section>", dom, re.S)
    return {title: body for title, body in sections}
