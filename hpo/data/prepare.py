"""`hpo data prepare`: scan, validate, decode once, de-duplicate, split, write the cache.

Output folder (see `hpo.data.cache` for the file formats):
``images.npy``, ``manifest.json`` (classes + every item's path, class, split, sha256; byte-
identical for identical inputs), ``report.json`` (used / skipped / ignored / duplicates /
classes, timings) and ``index.json``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hpo.data.cache import MANIFEST_FILE, PreparedCache, scratch_rows
from hpo.data.decode import RESIZE_MODE, decode_many
from hpo.data.scan import DatasetScan, ScannedFile, display_label, scan_dataset
from hpo.data.split import SPLITS, check_fractions, stratified_split
from hpo.errors import DataError
from hpo.fsutil import file_lock, write_json

__all__ = ["REPORT_FILE", "PrepareResult", "format_summary", "prepare"]

REPORT_FILE = "report.json"
MIN_SIZE, MAX_SIZE = 8, 1024


@dataclass(frozen=True)
class PrepareResult:
    out: Path
    report: dict[str, Any]


def _check_args(src: Path, out: Path, image_size: int, val: float, test: float) -> None:
    if not MIN_SIZE <= image_size <= MAX_SIZE:
        raise DataError(f"--image-size must be between {MIN_SIZE} and {MAX_SIZE}, got {image_size}")
    check_fractions(val, test)
    if out.resolve().is_relative_to(src.resolve()) and src.exists():
        raise DataError(f"--out {out} is inside the dataset folder {src} — write the cache elsewhere")


def prepare(
    src: Path,
    out: Path,
    *,
    image_size: int = 64,
    val: float = 0.15,
    test: float = 0.15,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = True,
) -> PrepareResult:
    """Prepare ``src`` (class folders, or Kaggle's ``raw-img/`` layout) into ``out``."""
    started = time.perf_counter()
    _check_args(src, out, image_size, val, test)
    scan = scan_dataset(src)
    out.mkdir(parents=True, exist_ok=True)
    with file_lock(out / ".prepare-lock"):  # workers sharing a folder prepare it once, in turn
        return _prepare_locked(scan, out, image_size, val, test, seed, workers, progress, started)


def _prepare_locked(
    scan: DatasetScan,
    out: Path,
    image_size: int,
    val: float,
    test: float,
    seed: int,
    workers: int | None,
    progress: bool,
    started: float,
) -> PrepareResult:
    cache = PreparedCache(out, image_size)
    hashes = cache.file_hashes(scan.files, progress)

    unique: dict[str, ScannedFile] = {}
    duplicate_paths: list[dict[str, str]] = []
    for f, sha in zip(scan.files, hashes, strict=True):
        if sha in unique:
            duplicate_paths.append({"path": f.rel, "same_as": unique[sha].rel})
        else:
            unique[sha] = f

    todo = [sha for sha in unique if not cache.has_row(sha) and sha not in cache.broken]
    decoded: dict[str, int] = {}
    # decoded rows land on disk, not in RAM, until they are written in manifest order
    with scratch_rows(out / ".decoded.tmp.npy", len(todo), image_size) as buf:
        n_workers = workers or os.cpu_count() or 1
        results = decode_many([unique[sha].path for sha in todo], image_size, n_workers, progress)
        for sha, result in zip(todo, results, strict=True):
            if isinstance(result, str):
                cache.broken[sha] = result
            else:
                buf[len(decoded)] = result
                decoded[sha] = len(decoded)

        used = [sha for sha in unique if sha not in cache.broken]
        skipped = [{"path": f.rel, "reason": cache.broken[sha]} for sha, f in unique.items() if sha in cache.broken]
        by_class: dict[str, list[str]] = {c: [] for c in scan.classes}
        for sha in used:
            by_class[unique[sha].class_name].append(sha)
        empty = [c for c, shas in by_class.items() if not shas]
        if empty:
            raise DataError(
                f"class folder '{empty[0]}' has no usable image ({scan.root / empty[0]}) — "
                "add images or remove the folder"
            )
        split_of = stratified_split(by_class, val, test, seed)
        rewritten = cache.write_images(used, lambda sha: np.asarray(buf[decoded[sha]]))
    cache.broken = {sha: cache.broken[sha] for sha in unique if sha in cache.broken}
    cache.save_index()

    classes = [
        {
            "name": c,
            "label": display_label(c),
            "count": len(shas),
            **{s: sum(split_of[h] == s for h in shas) for s in SPLITS},
        }
        for c, shas in by_class.items()
    ]
    manifest = {
        "format": 1,
        "root": str(scan.root),
        "image_size": image_size,
        "resize": RESIZE_MODE,
        "seed": seed,
        "fractions": {"val": val, "test": test},
        "classes": [{"name": c["name"], "label": c["label"]} for c in classes],
        "items": [
            {
                "path": unique[h].rel,
                "class": unique[h].class_name,
                "split": split_of[h],
                "sha256": h,
            }
            for h in used
        ],
    }
    write_json(out / MANIFEST_FILE, manifest)
    report = {
        "source": str(scan.root),
        "image_size": image_size,
        "used": len(used),
        "skipped": skipped,
        "ignored": scan.ignored,
        "duplicates": len(duplicate_paths),
        "duplicate_paths": duplicate_paths,
        "classes": classes,
        "splits": {s: sum(split_of[h] == s for h in used) for s in SPLITS},
        "decoded": len(todo),
        "reused": len(used) - len(decoded),
        "images_rewritten": rewritten,
        "seconds": round(time.perf_counter() - started, 3),
    }
    write_json(out / REPORT_FILE, report)
    return PrepareResult(out, report)


def _row(name: str, label: str, *counts: object) -> str:
    n, tr, va, te = counts
    return f"  {name[:15]:<16}{label[:11]:<12}{n:>7}{tr:>7}{va:>6}{te:>6}"


def format_summary(result: PrepareResult, max_skipped: int = 10) -> str:
    """Human summary printed at the end of `hpo data prepare`."""
    r = result.report
    sp = r["splits"]
    size = f"{r['image_size']}x{r['image_size']}"
    lines = [
        f"Prepared {r['used']} images in {len(r['classes'])} classes at {size} -> {result.out}"
        f"  (train {sp['train']} / val {sp['val']} / test {sp['test']})",
        f"  decoded {r['decoded']}, reused {r['reused']} from cache; "
        f"skipped {len(r['skipped'])} broken, ignored {r['ignored']} non-image, "
        f"dropped {r['duplicates']} duplicates; {r['seconds']:.1f} s",
        _row("class", "label", "count", "train", "val", "test"),
    ]
    lines += [_row(c["name"], c["label"], c["count"], c["train"], c["val"], c["test"]) for c in r["classes"]]
    for s in r["skipped"][:max_skipped]:
        lines.append(f"  skipped {s['path']}: {s['reason']}")
    if len(r["skipped"]) > max_skipped:
        lines.append(f"  ... and {len(r['skipped']) - max_skipped} more skipped (see report.json)")
    return "\n".join(lines)
