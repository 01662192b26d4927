"""`hpo dashboard` on a real SQLite study, loaded in headless Chromium (DOM after JavaScript)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import ROOT, assert_user_error, require, run_hpo
from tests.helpers.browser import chromium, dump_dom

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listening on {port}")


def test_dashboard_shows_the_study_and_its_metric(searched: dict[str, Path]) -> None:
    require(chromium() is not None, "Debian chromium is not installed (.ci/run installs it)")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hpo", "dashboard", str(searched["toml"]), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/dashboard/studies/" in first
        url = first.split()[first.split().index("(Ctrl-C") - 1]
        _wait_for_port(port)
        shell = urllib.request.urlopen(url, timeout=10).read().decode()
        assert "val_accuracy" not in shell  # the served page is an app shell: the DOM below is JS-built
        dom = dump_dom(url)
        assert "tiny" in dom and "val_accuracy" in dom
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "dashboard stopped" in out


def test_dashboard_bad_input(searched: dict[str, Path], tmp_path: Path) -> None:
    ghost = tmp_path / "ghost.toml"
    ghost.write_text(f'[study]\nstorage = "sqlite:///{searched["db"]}"\n[data]\nsource = "x"\n')
    assert_user_error(run_hpo("dashboard", ghost), "no study 'ghost'", "studies there: tiny")
    assert_user_error(
        run_hpo("dashboard", "--storage", "postgresql://u:secret@127.0.0.1:1/db"),
        "cannot open storage",
        "u:***@",
        code=75,  # nothing answers on port 1: worth retrying, unlike bad input
    )
    assert_user_error(run_hpo("dashboard"), "give a STUDY.toml or --storage URL")
