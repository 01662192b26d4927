"""`hpo --version`: what a bug report needs, in a second and without importing TensorFlow.

Every version is read from the installed distributions' metadata (importing TensorFlow takes
seconds and prints its C++ log lines); the GPUs come from `nvidia-smi`, the driver's own tool."""

from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from typing import Any

__all__ = ["TF_BUILDS", "VersionAction", "gpus", "report"]

#: distributions that each install the `tensorflow` package: two of them overwrite each other's files
TF_BUILDS = ("tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-intel", "tensorflow-macos")

#: (label, distributions that provide it; the first one installed is shown)
PACKAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("TensorFlow", TF_BUILDS),
    ("Keras", ("keras",)),
    ("Optuna", ("optuna",)),
    ("optuna-dashboard", ("optuna-dashboard",)),
    ("SQLAlchemy", ("sqlalchemy",)),
)


def _installed(names: Sequence[str]) -> str:
    for name in names:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        return version if name == names[0] else f"{version} ({name})"
    return "not installed"


def gpus(timeout: float = 10.0) -> list[str]:
    """One line per NVIDIA GPU (name, memory, driver), or a single line saying why there is none."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return ["none (nvidia-smi not found)"]
    query = ["--query-gpu=index,name,memory.total,driver_version", "--format=csv,noheader"]
    try:
        out = subprocess.run([smi, *query], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [f"unknown (nvidia-smi: {exc})"]
    lines = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    if out.returncode != 0 or not lines:
        reason = (out.stderr or out.stdout).strip().splitlines()
        return [f"none ({reason[0] if reason else f'nvidia-smi exited {out.returncode}'})"]
    return [f"GPU {index}: {name}, {memory}, driver {driver}" for index, name, memory, driver in _csv(lines)]


def _csv(lines: list[str]) -> list[tuple[str, str, str, str]]:
    rows = []
    for line in lines:
        cells = [c.strip() for c in line.split(",")]
        cells += [""] * (4 - len(cells))
        rows.append((cells[0], cells[1], cells[2], cells[3]))
    return rows


def report(hpo_version: str) -> str:
    """The lines `hpo --version` prints."""
    python = (
        f"{platform.python_version()} ({platform.python_implementation()}, {platform.system()} {platform.machine()})"
    )
    lines = [f"hpo {hpo_version}", f"Python {python}"]
    lines += [f"{label} {_installed(names)}" for label, names in PACKAGES]
    found = gpus()
    lines += [f"GPUs: {found[0]}"] if len(found) == 1 and not found[0].startswith("GPU ") else ["GPUs:", *found]
    return "\n".join(lines)


class VersionAction(argparse.Action):
    """`--version`: print `report()` and exit 0 (argparse's own action prints one fixed string)."""

    def __init__(self, option_strings: Sequence[str], version: str, dest: str = argparse.SUPPRESS, **kw: Any) -> None:
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, **kw)
        self.version = version

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        print(report(self.version))
        sys.exit(0)
