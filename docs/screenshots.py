"""Screenshots of the dashboard and the report of a study, made by headless Chromium.

    python docs/screenshots.py studies/cifar10-mini.toml [--storage URL]
                                               # -> docs/dashboard.png, docs/report.png

The study must exist (run `hpo search` first); the report is rebuilt.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.browser import screenshot  # noqa: E402  (the browser the tests use)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("study", nargs="?", default="studies/demo.toml")
    ap.add_argument("--storage", help="storage URL (overrides the study file)")
    args = ap.parse_args()
    study = Path(args.study)
    storage = ["--storage", args.storage] if args.storage else []
    report = ROOT / "docs" / "report.html"
    cmd = [sys.executable, "-m", "hpo", "report", str(study), "--out", str(report), *storage]
    subprocess.run(cmd, check=True, cwd=ROOT)
    screenshot(report.as_uri(), ROOT / "docs" / "report.png", 1300, 2600)
    report.unlink()
    port = 8097
    dash = subprocess.Popen(
        [sys.executable, "-m", "hpo", "dashboard", str(study), "--port", str(port), *storage],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert dash.stdout is not None
        url = dash.stdout.readline().split()[3]
        time.sleep(3)
        screenshot(url, ROOT / "docs" / "dashboard.png", 1400, 1000)
    finally:
        dash.send_signal(signal.SIGINT)
        dash.wait(timeout=30)
    print("wrote docs/report.png and docs/dashboard.png")


if __name__ == "__main__":
    main()
