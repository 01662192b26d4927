"""What a long search shows while it runs.

On a terminal: one status line, redrawn after every epoch and every second, with the study's
finished trials against its cap, the running trial's epoch and latest val accuracy, the best
so far, the time spent and the time left before ``timeout``; finished trials print their line
above it. Elsewhere (logs, CI, a notebook reading a pipe): plain lines only, no control
characters — one per finished trial, and one per epoch with ``-v``. ``-q`` keeps the trial
lines and drops the status line and the epoch lines.

`SearchProgress` is fed by the process that trains (``epoch``/``trial_line`` callbacks) or, for
the `--workers` launcher, by polling the study (`poll`), so both show the same line.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from typing import TextIO

import optuna
from optuna.trial import TrialState

__all__ = ["SearchProgress", "format_duration", "is_terminal"]

_CLEAR = "\r\x1b[2K"


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is an interactive terminal that understands a redrawn line."""
    return stream.isatty() and os.environ.get("TERM", "") != "dumb"


def format_duration(seconds: float) -> str:
    """``42s``, ``12m03s``, ``3h05m``."""
    s = round(max(0.0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class SearchProgress:
    """The status line and the lines printed above it (thread-safe: the launcher's workers
    print from several threads)."""

    def __init__(
        self,
        cap: int,
        timeout: float | None = None,
        *,
        stream: TextIO | None = None,
        verbose: bool = False,
        quiet: bool = False,
        live: bool | None = None,
    ) -> None:
        self.stream = stream or sys.stdout
        self.live = (is_terminal(self.stream) if live is None else live) and not quiet
        self.cap, self.timeout, self.verbose, self.quiet = cap, timeout, verbose, quiet
        self.started = time.monotonic()
        self.finished = 0
        self.best: tuple[float, int] | None = None
        self.running: dict[int, tuple[int, int, float | None]] = {}  # trial -> (epoch, epochs, val)
        self._status = ""
        self._lock = threading.Lock()

    # -- fed by the training process ---------------------------------------------------------
    def epoch(self, trial: int, epoch: int, epochs: int, val_accuracy: float | None) -> None:
        """Epoch ``epoch`` (1-based) of ``epochs`` of ``trial`` ended."""
        self.running[trial] = (epoch, epochs, val_accuracy)
        if self.verbose and not self.live and not self.quiet:
            val = f"{val_accuracy:.4f}" if val_accuracy is not None else "-"
            self.line(f"trial {trial:>4}  epoch {epoch:>3}/{epochs}  val_accuracy {val}")
        self.redraw()

    def trial_done(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        self.running.pop(trial.number, None)
        self.refresh(study)

    def refresh(self, study: optuna.Study) -> None:
        """Re-read the finished count and the best trial from the study."""
        from hpo.study.study import FINISHED, accuracy, best_by_accuracy

        trials = study.get_trials(deepcopy=False)
        self.finished = sum(t.state in FINISHED for t in trials)
        top = best_by_accuracy(trials)
        top_acc = accuracy(top) if top is not None else None
        self.best = (top_acc, top.number) if top is not None and top_acc is not None else None
        self.redraw()

    # -- fed by polling the study (the --workers launcher) -------------------------------------
    def poll(self, study: optuna.Study, epochs: int) -> None:
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        self.running = {
            t.number: (len(t.intermediate_values), epochs, t.intermediate_values[max(t.intermediate_values)])
            if t.intermediate_values
            else (0, epochs, None)
            for t in running
        }
        self.refresh(study)

    # -- output ---------------------------------------------------------------------------------
    def status(self) -> str:
        elapsed = time.monotonic() - self.started
        parts = [f"{self.finished}/{self.cap} finished"]
        for number, (epoch, epochs, val) in sorted(self.running.items())[:4]:
            parts.append(f"#{number} epoch {epoch}/{epochs}" + (f" val {val:.3f}" if val is not None else ""))
        if self.best is not None:
            parts.append(f"best {self.best[0]:.4f} (#{self.best[1]})")
        parts.append(format_duration(elapsed))
        if self.timeout:
            parts[-1] += f", {format_duration(self.timeout - elapsed)} left"
        return " · ".join(parts)

    def redraw(self) -> None:
        if not self.live:
            return
        with self._lock:
            width = shutil.get_terminal_size((100, 20)).columns - 1
            self._status = self.status()[:width]
            self.stream.write(_CLEAR + self._status)
            self.stream.flush()

    def line(self, text: str) -> None:
        """A permanent line (a finished trial, a warning), above the status line."""
        with self._lock:
            self.stream.write((_CLEAR if self.live else "") + text + "\n")
            if self.live and self._status:
                self.stream.write(self._status)
            self.stream.flush()

    @contextlib.contextmanager
    def shown(self, every: float = 1.0) -> Iterator[SearchProgress]:
        """Redraw every ``every`` s inside the block (the clock moves between epochs); the
        status line is cleared on the way out, before any message that follows."""
        stop = threading.Event()

        def run() -> None:
            while not stop.wait(every):
                self.redraw()

        if self.live:
            threading.Thread(target=run, daemon=True, name="hpo-status").start()
        try:
            yield self
        finally:
            stop.set()
            self.close()

    def close(self) -> None:
        """Clear the status line (the summary that follows is printed as plain lines)."""
        if self.live:
            with self._lock:
                self.stream.write(_CLEAR)
                self.stream.flush()
                self._status = ""
