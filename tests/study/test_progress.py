"""What a user sees during a search: the live status line on a (pseudo-)terminal, plain lines
in a pipe, per-epoch lines with -v; and the CLI's manners (a closed pipe, flags after the
subcommand)."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hpo.study.progress import SearchProgress, format_duration
from tests.helpers import ROOT, run_hpo
from tests.helpers.studyfiles import write_study

STATUS = re.compile(r"\r\x1b\[2K(\d+)/(\d+) finished · #(\d+) epoch (\d+)/(\d+)")


def _run_in_pty(*args: str | Path, timeout: float = 300) -> str:
    """Run the CLI with a pseudo-terminal as stdout and stderr, as a user's shell would."""
    master, slave = pty.openpty()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TERM": "xterm", "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hpo", *map(str, args)], cwd=ROOT, stdout=slave, stderr=slave, env=env
    )
    os.close(slave)
    chunks: list[bytes] = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=30) == 0, b"".join(chunks).decode(errors="replace")[-3000:]
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.slow
def test_status_line_moves_within_a_trial_on_a_terminal(synth_dir: Path, tmp_path: Path) -> None:
    toml = write_study(tmp_path, "live", synth_dir, study={"n_trials": 2, "timeout": 3600}, training={"max_epochs": 4})
    out = _run_in_pty("search", toml)
    epochs_of_trial0 = [int(m.group(4)) for m in STATUS.finditer(out) if m.group(3) == "0"]
    assert epochs_of_trial0[:1] == [1] and max(epochs_of_trial0) == 4, epochs_of_trial0  # it moved, in trial 0
    assert re.search(r"epoch 2/4 val 0\.\d{3} · .*left", out)  # latest val accuracy and the time left
    assert "trial    0  COMPLETE" in out and "Study live: 2/2 trials finished" in out


@pytest.mark.slow
def test_a_pipe_gets_plain_lines_and_epochs_with_v_after_the_subcommand(synth_dir: Path, tmp_path: Path) -> None:
    toml = write_study(tmp_path, "plain", synth_dir, study={"n_trials": 1}, training={"max_epochs": 3})
    proc = run_hpo("search", toml, "-v")
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stdout and "\x1b" not in proc.stdout
    assert re.findall(r"trial    0  epoch   (\d)/3", proc.stdout) == ["1", "2", "3"]
    quiet = run_hpo("trials", toml, "-q")
    assert quiet.returncode == 0 and "COMPLETE" in quiet.stdout and quiet.stderr == ""


def test_closed_pipe_is_not_a_traceback(searched: dict[str, Path]) -> None:
    def shell(cmd: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, cwd=ROOT)

    hpo = f"{sys.executable} -m hpo"
    head = shell(f"{hpo} best {searched['toml']} | head -2")
    assert head.stdout.count("\n") == 2 and head.stderr == ""
    gone = shell(f"{hpo} trials {searched['toml']} | true")  # the reader is gone before hpo writes
    assert "Traceback" not in gone.stderr and "BrokenPipe" not in gone.stderr, gone.stderr
    assert gone.returncode == 141  # as a process killed by SIGPIPE


def test_status_text() -> None:
    p = SearchProgress(40, 1800, live=False)
    p.finished, p.best = 6, (0.6012, 4)
    p.running = {7: (3, 15, 0.512)}
    text = p.status()
    assert text.startswith("6/40 finished · #7 epoch 3/15 val 0.512 · best 0.6012 (#4) · 0s, 30m00s left"), text
    assert [format_duration(s) for s in (42, 723, 11100)] == ["42s", "12m03s", "3h05m"]
