"""Decode any image file the pipeline accepts into a square RGB uint8 array.

Resize contract (used by `prepare`, `predict` and recorded in exports): EXIF orientation is
applied, the image is converted to RGB (transparent pixels composited on white, 16-bit
scaled to 8-bit, CMYK/grayscale/palette converted), its shorter side is scaled to ``size``
and the centre ``size`` x ``size`` square is kept (aspect-preserving resize, centre crop),
with Pillow's antialiased bicubic filter.
"""

from __future__ import annotations

import ctypes
import io
import multiprocessing
import os
import signal
import sys
import warnings
from collections.abc import Generator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from tqdm import tqdm

from hpo.data.scan import MAX_FILE_BYTES, open_image, os_reason
from hpo.errors import DecodeError
from hpo.fsutil import crash_point

__all__ = [
    "RESIZE_MODE",
    "DecodeError",
    "decode_bytes",
    "decode_file",
    "decode_many",
    "fit_square",
    "to_rgb",
]

RESIZE_MODE = "shorter-side-bicubic-center-crop"
_SERIAL_BELOW = 64  # fewer files than this: decode in-process, a pool costs more than it saves

_HIGH_DEPTH_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I", "F"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB."""
    mode = img.mode
    if mode in _HIGH_DEPTH_MODES:
        arr = np.asarray(img, dtype=np.float64)
        peak = float(arr.max()) if arr.size else 0.0
        scale = 1.0 if peak <= 1.0 and mode == "F" else 255.0 if peak <= 255.0 else 65535.0
        arr8 = np.clip(arr / scale * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(arr8).convert("RGB")
    if mode in _ALPHA_MODES or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode == "RGB":
        return img
    try:
        return img.convert("RGB")
    except ValueError as exc:
        raise DecodeError(f"unsupported colour mode {mode}") from exc


def fit_square(img: Image.Image, size: int) -> Image.Image:
    """Scale the shorter side to ``size`` and keep the centre square."""
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) / 2, (h - side) / 2
    box = (left, top, left + side, top + side)
    return img.resize((size, size), Image.Resampling.BICUBIC, box=box, reducing_gap=3.0)


def decode_bytes(data: bytes, size: int) -> np.ndarray:
    """Decode an encoded image to a ``(size, size, 3)`` uint8 array, or raise `DecodeError`."""
    if not data:
        raise DecodeError("empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # EXIF/ICC chatter from web images
            with Image.open(io.BytesIO(data)) as img:
                if img.format == "JPEG":
                    img.draft(img.mode, (size, size))  # DCT-domain downscale: much faster
                img.load()
                oriented = ImageOps.exif_transpose(img)
                rgb = to_rgb(oriented)
                return np.asarray(fit_square(rgb, size), dtype=np.uint8)
    except DecodeError:
        raise
    except UnidentifiedImageError as exc:
        raise DecodeError("not a recognised image format") from exc
    except Image.DecompressionBombError as exc:
        raise DecodeError(f"too many pixels ({exc})") from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError) as exc:
        raise DecodeError(f"corrupt or truncated image ({exc})") from exc


def decode_file(path: Path, size: int) -> np.ndarray:
    """`decode_bytes` on a file's contents; only a regular file of a usable size is read
    (`open_image`: a FIFO or ``/dev/zero`` named ``x.jpg`` is a `DecodeError`, not a hang)."""
    with open_image(path) as fh:
        try:
            data = fh.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise DecodeError(os_reason(exc, path)) from exc
    if len(data) > MAX_FILE_BYTES:  # it grew after the check
        raise DecodeError(f"too large (over {MAX_FILE_BYTES:,} bytes)")
    return decode_bytes(data, size)


def _decode_job(job: tuple[str, int]) -> np.ndarray | str:
    try:
        return decode_file(Path(job[0]), job[1])
    except DecodeError as exc:
        return str(exc)


def _die_with(parent: int) -> None:
    """In a decode process (Linux): be SIGKILLed when ``parent`` dies, whatever kills it
    (SIGKILL, SIGBUS, the OOM killer), so that no decode process outlives it holding its
    output pipes."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # it died before prctl
        os._exit(1)


def decode_many(
    paths: Sequence[Path], size: int, workers: int, progress: bool
) -> Generator[np.ndarray | str, None, None]:
    """Decode ``paths`` in order, in parallel processes when there are many; each result is
    an array or the reason the file is unusable.

    The processes are terminated when the iterator ends, whether used up, closed early, or
    left by an exception (close it: ``with contextlib.closing(decode_many(...))``)."""
    jobs = [(str(p), size) for p in paths]
    bar = tqdm(total=len(jobs), desc="decode", unit="img", disable=None if progress else True)
    with bar:
        if workers <= 1 or len(jobs) < _SERIAL_BELOW:
            for job in jobs:
                yield _decode_job(job)
                bar.update()
            return
        ctx = multiprocessing.get_context("spawn")  # safe even if TensorFlow is loaded here
        with ctx.Pool(workers, initializer=_die_with, initargs=(os.getpid(),)) as pool:  # exit: terminate()
            for i, result in enumerate(pool.imap(_decode_job, jobs, chunksize=32)):
                yield result
                bar.update()
                if i == 0:
                    crash_point("decoding")
