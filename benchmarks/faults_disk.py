"""Reliability run for BENCHMARKS.md: `hpo data prepare` on a 1 MiB tmpfs filled to leave
0..256 KiB (every 8 KiB), and SIGKILLed while its pool decodes. Counts exit codes,
one-line errors, processes left behind and prepared folders that fail to load. Needs root
(mount). About a minute on 2 CPUs.

    .venv/bin/python benchmarks/faults_disk.py [--kills 10]
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hpo.data import load_prepared
from hpo.data.synth import synth_dataset
from hpo.errors import DataError
from tests.helpers.faultkit import crash_at, fill_disk, run_hpo_marked, tmpfs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=10, help="SIGKILLs during the decode (default 10)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        synth_dataset(tmp / "src", classes=16, per_class=4, image_size=16)  # 64 files: a decode pool
        codes: collections.Counter[int] = collections.Counter()
        left = bad_lines = unloadable = 0
        for leave in range(0, 257 << 10, 8 << 10):
            with tmpfs(tmp / "disk", "1m") as disk:
                fill_disk(disk, leave=leave)
                cmd = ("data", "prepare", tmp / "src", "--out", disk / "prep", "--image-size", "16", "--workers", "3")
                proc, pids = run_hpo_marked(*cmd, "--no-progress")
                codes[proc.returncode] += 1
                left += len(pids)
                lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
                if proc.returncode == 74:
                    bad_lines += not (len(lines) == 1 and lines[0].startswith("hpo: error: disk full: "))
                elif proc.returncode == 0:
                    try:
                        load_prepared(disk / "prep")
                    except DataError:
                        unloadable += 1
        print(f"full disk: {sum(codes.values())} runs, exit codes {dict(codes)}, {bad_lines} not one line, "
              f"{left} processes left behind, {unloadable} prepared folders that fail to load")  # fmt: skip
        killed = 0
        for i in range(args.kills):
            cmd = ("data", "prepare", tmp / "src", "--out", tmp / f"k{i}", "--image-size", "16", "--workers", "2")
            proc, pids = run_hpo_marked(*cmd, "--no-progress", env=crash_at("decoding"))
            killed += proc.returncode == -9
            left += len(pids)
        print(f"SIGKILL while decoding: {killed} of {args.kills} killed, {left} processes left behind in all")


if __name__ == "__main__":
    main()
