"""Ask pip's real resolver what `pip install '.[extras]'` would install (needs the package
index; nothing is installed): the TensorFlow distributions and how many packages in all.

    python benchmarks/check_install.py [--extras "" gpu postgres,kaggle gpu,postgres,kaggle]

The offline twin of this check is tests/test_install.py. Prints Markdown rows for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TF_BUILDS = {"tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-intel", "tensorflow-macos"}


def resolve(extras: str) -> tuple[list[str], int, int]:
    """(TensorFlow distributions, packages, NVIDIA packages) of ``.[extras]``, on a clean slate."""
    target = f".[{extras}]" if extras else "."
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--dry-run",
                "--ignore-installed",
                "--quiet",
                "--report",
                report,
                target,
            ],
            cwd=ROOT,
            check=True,
        )
        names = [i["metadata"]["name"].lower() for i in json.loads(report.read_text())["install"]]
    return (
        sorted(n for n in names if n.replace("_", "-") in TF_BUILDS),
        len(names),
        sum(n.startswith("nvidia") for n in names),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extras", nargs="+", default=["", "gpu", "postgres,kaggle", "gpu,postgres,kaggle,dev"])
    args = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d')}, pip resolver, Python {sys.version.split()[0]}, {sys.platform}")
    print("| install | TensorFlow distributions | packages | of them NVIDIA |")
    print("|---|---|---|---|")
    for extras in args.extras:
        tf, total, nvidia = resolve(extras)
        print(f"| `.[{extras}]` | {', '.join(tf) or 'none'} | {total} | {nvidia} |", flush=True)


if __name__ == "__main__":
    main()
