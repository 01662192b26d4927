"""`hpo data prepare`: scan, validate, decode once, de-duplicate, split, write the cache.

Output folder (see `hpo.data.cache` for the file formats):
``images.npy``, ``manifest.json`` (classes + every item's path, class, split, sha256; byte-
identical for identical inputs), ``report.json`` (used / skipped / ignored / duplicates /
classes, timings) and ``index.json``.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hpo.config.schema import DataConfig
from hpo.data.cache import (
    LOCK_FILE,
    MANIFEST_FILE,
    REPORT_FILE,
    SCRATCH_FILES,
    PreparedCache,
    mark_prepared,
    scratch_rows,
    strangers,
)
from hpo.data.decode import RESIZE_MODE, decode_many
from hpo.data.scan import DatasetScan, ScannedFile, display_label, scan_dataset
from hpo.data.split import SPLITS, check_fractions, stratified_split
from hpo.errors import DataError, OutputError
from hpo.fsutil import crash_point, disk_full, file_lock, is_disk_full, shown, write_json
from hpo.records.owned import listing, owner_above
from hpo.records.prepare import ClassCount, Duplicate, PrepareReport, Skipped

__all__ = ["REPORT_FILE", "PrepareResult", "format_summary", "prepare"]

MIN_SIZE, MAX_SIZE = 8, 1024


@dataclass(frozen=True)
class PrepareResult:
    out: Path
    report: PrepareReport


def _resolved(path: Path, what: str) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symbolic link loop (Python < 3.13)
        raise DataError(f"{what} {shown(path)} is a symbolic link loop — point it at a real folder") from None


def _check_args(src: Path, out: Path, image_size: int, val: float, test: float) -> None:
    if not MIN_SIZE <= image_size <= MAX_SIZE:
        raise DataError(f"--image-size must be between {MIN_SIZE} and {MAX_SIZE}, got {image_size}")
    check_fractions(val, test)
    flag = f"--out {shown(out)}"
    if _resolved(out, "--out").is_relative_to(_resolved(src, "dataset folder")) and src.exists():
        raise DataError(f"{flag} is inside the dataset folder {shown(src)} — write the cache elsewhere")
    if out.exists() and not out.is_dir():
        raise DataError(f"{flag} is a file, not a folder — name a folder for the prepared data")
    if (owner := owner_above(out)) is not None:
        raise OutputError(f"{flag} is inside {owner} — name a folder outside it for the prepared data")
    _check_ours(out)


def _check_ours(out: Path) -> None:
    """`OutputError` when ``out`` holds files `prepare` did not write (it never replaces them)."""
    if found := strangers(out):
        raise OutputError(
            f"--out {shown(out)} holds files not written by `hpo data prepare` ({listing(found)}) — "
            "name a new folder for the prepared data, or move them"
        )


def _make_out(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(
            f"cannot create --out {shown(out)} ({exc.strerror or exc}) — name a folder you can write"
        ) from None


def prepare(
    src: Path,
    out: Path,
    *,
    image_size: int = DataConfig.image_size,
    val: float = DataConfig.val,
    test: float = DataConfig.test,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = True,
) -> PrepareResult:
    """Prepare ``src`` (class folders, or Kaggle's ``raw-img/`` layout) into ``out``.

    ``manifest.json`` is written last and commits the preparation: a crash at any point
    leaves the previous complete cache, or one that `load_prepared` refuses and the next
    `prepare` rebuilds."""
    started = time.perf_counter()
    _check_args(src, out, image_size, val, test)
    scan = scan_dataset(src)
    if len(scan.classes) < 2:
        raise DataError(
            f"only one class folder ({scan.classes[0]!r}) in {shown(scan.root)} — a classifier needs at least two; "
            "add one sub-folder per class"
        )
    _make_out(out)
    with _locked(out):  # workers sharing a folder prepare it once, in turn
        _check_ours(out)  # again, now that no other `prepare` is writing it
        mark_prepared(out)  # before anything else: a folder hpo has written to is hpo's
        for name in SCRATCH_FILES:  # left by a prepare that was killed (we hold the lock: none is running)
            (out / name).unlink(missing_ok=True)
        return _prepare_locked(scan, out, image_size, val, test, seed, workers, progress, started)


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    """``out``'s prepare lock, or one line saying why it cannot be taken (a read-only folder)."""
    lock = out / LOCK_FILE
    held = ExitStack()
    try:
        held.enter_context(file_lock(lock))
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full(lock, 0) from None
        state = "read-only" if exc.errno == errno.EROFS else "not writable"
        raise DataError(
            f"{shown(out)} is {state} ({exc.strerror or exc}: {LOCK_FILE}) — make it writable, or use the data "
            f"prepared there as it is: hpo search/worker/export --data {shown(out)}"
        ) from None
    with held:
        yield


@dataclass
class _Sorted:
    """Each scanned file's fate, decided broken-first: an unreadable or undecodable file is
    skipped with its reason even when other files hold the same bytes; only usable images
    are de-duplicated."""

    used: dict[str, ScannedFile]  # content hash -> first file with it, in scan order
    skipped: list[Skipped]
    duplicates: list[Duplicate]


def _sort_files(
    scan: DatasetScan, hashes: dict[str, str], unreadable: dict[str, str], broken: dict[str, str]
) -> _Sorted:
    fate = _Sorted({}, [{"path": rel, "reason": reason} for rel, reason in scan.unreadable], [])
    for f in scan.files:
        sha = hashes.get(f.rel, "")
        reason = unreadable.get(f.rel) or broken.get(sha)
        if reason:
            fate.skipped.append({"path": f.rel, "reason": reason})
        elif sha in fate.used:
            fate.duplicates.append({"path": f.rel, "same_as": fate.used[sha].rel})
        else:
            fate.used[sha] = f
    return fate


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
    hashes, unreadable = cache.file_hashes(scan.files, progress)
    first: dict[str, Path] = {}
    for f in scan.files:
        if f.rel in hashes:
            first.setdefault(hashes[f.rel], f.path)
    todo = [sha for sha in first if not cache.has_row(sha) and sha not in cache.broken]
    decoded: dict[str, int] = {}
    # decoded rows land on disk, not in RAM, until they are written in manifest order
    with scratch_rows(out / SCRATCH_FILES[0], len(todo), image_size) as buf:
        n_workers = workers or os.cpu_count() or 1
        with closing(decode_many([first[sha] for sha in todo], image_size, n_workers, progress)) as results:
            for sha, result in zip(todo, results, strict=True):  # any error ends the decode processes
                if isinstance(result, str):
                    cache.broken[sha] = result
                else:
                    buf[len(decoded)] = result
                    decoded[sha] = len(decoded)
        crash_point("decoded")
        files = _sort_files(scan, hashes, unreadable, cache.broken)
        used = list(files.used)
        by_class: dict[str, list[str]] = {c: [] for c in scan.classes}
        for sha, f in files.used.items():
            by_class[f.class_name].append(sha)
        empty = [c for c, shas in by_class.items() if not shas]
        if empty:
            raise DataError(
                f"class folder {empty[0]!r} has no usable image ({shown(scan.root / empty[0])}) — "
                "add images or remove the folder"
            )
        split_of = stratified_split(by_class, val, test, seed)
        rewritten, images_sha256 = cache.write_images(used, lambda sha: np.asarray(buf[decoded[sha]]))
    cache.broken = {sha: cache.broken[sha] for sha in first if sha in cache.broken}
    cache.save_index()
    crash_point("index")

    def in_split(shas: list[str], split: str) -> int:
        return sum(split_of[h] == split for h in shas)

    classes: list[ClassCount] = [
        {
            "name": c,
            "label": display_label(c),
            "count": len(shas),
            "train": in_split(shas, "train"),
            "val": in_split(shas, "val"),
            "test": in_split(shas, "test"),
        }
        for c, shas in by_class.items()
    ]
    manifest = {
        "format": 2,
        "root": str(scan.root),
        "image_size": image_size,
        "resize": RESIZE_MODE,
        "images_sha256": images_sha256,
        "seed": seed,
        "fractions": {"val": val, "test": test},
        "classes": [{"name": c["name"], "label": c["label"]} for c in classes],
        "items": [
            {
                "path": files.used[h].rel,
                "class": files.used[h].class_name,
                "split": split_of[h],
                "sha256": h,
            }
            for h in used
        ],
    }
    write_json(out / MANIFEST_FILE, manifest)  # the commit point
    crash_point("manifest")
    report: PrepareReport = {
        "source": str(scan.root),
        "image_size": image_size,
        "used": len(used),
        "skipped": files.skipped,
        "ignored": scan.ignored,
        "duplicates": len(files.duplicates),
        "duplicate_paths": files.duplicates,
        "classes": classes,
        "splits": {s: sum(split_of[h] == s for h in used) for s in SPLITS},
        "decoded": len(todo),
        "reused": len(used) - len(decoded),
        "images_rewritten": rewritten,
        "seconds": round(time.perf_counter() - started, 3),
    }
    write_json(out / REPORT_FILE, report)
    crash_point("report")
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
        f"Prepared {r['used']} images in {len(r['classes'])} classes at {size} -> {shown(result.out)}"
        f"  (train {sp['train']} / val {sp['val']} / test {sp['test']})",
        f"  decoded {r['decoded']}, reused {r['reused']} from cache; "
        f"skipped {len(r['skipped'])} broken, ignored {r['ignored']} non-image, "
        f"dropped {r['duplicates']} duplicates; {r['seconds']:.1f} s",
        _row("class", "label", "count", "train", "val", "test"),
    ]
    lines += [
        _row(shown(c["name"]), shown(c["label"]), c["count"], c["train"], c["val"], c["test"]) for c in r["classes"]
    ]
    for s in r["skipped"][:max_skipped]:
        lines.append(f"  skipped {shown(s['path'])}: {shown(s['reason'])}")
    if len(r["skipped"]) > max_skipped:
        lines.append(f"  ... and {len(r['skipped']) - max_skipped} more skipped (see report.json)")
    return "\n".join(lines)
