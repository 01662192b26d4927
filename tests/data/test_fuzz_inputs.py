"""Seeded fuzz: corrupted variants of real JPEG/PNG files (truncated, bit-flipped, zeroed, wrong
extension, zero-length, text, huge dimensions in the header) through `hpo data prepare` and
`hpo predict`, as real processes: no traceback, every decodable file used, every other one
listed with a reason."""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hpo.data.decode import DecodeError, decode_file
from tests.helpers import run_hpo

pytestmark = pytest.mark.slow

SEED = 15
SIZE = 16  # the `searched` export's input size, and the prepare size: the same decode in both
#: (class folder in the fuzz dataset, shared dataset, class folder there)
SOURCES = (
    ("airplane", "cifar", "airplane"),
    ("cat", "cifar", "cat"),
    ("cane", "animals", "cane"),
    ("gatto", "animals", "gatto"),
)
ORIGINALS_PER_CLASS = 5


def _png(data: bytes) -> bytes:
    buf = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(buf, "PNG")
    return buf.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _huge_png() -> bytes:
    """A valid PNG header claiming 100000 x 100000 pixels (a decompression bomb's header)."""
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _huge_jpeg(data: bytes) -> bytes:
    """The JPEG with its frame header (SOF0/SOF2) claiming 65500 x 65500 pixels."""
    at = max(data.find(b"\xff\xc0"), data.find(b"\xff\xc2"))
    return data[: at + 5] + struct.pack(">HH", 65500, 65500) + data[at + 9 :]


def _flip(data: bytes, rng: np.random.Generator, n: int) -> bytes:
    out = bytearray(data)
    for pos in rng.integers(0, len(out), n):
        out[pos] ^= 1 << int(rng.integers(0, 8))
    return bytes(out)


def _zero_block(data: bytes, rng: np.random.Generator) -> bytes:
    start = int(rng.integers(0, len(data)))
    return data[:start] + bytes(min(256, len(data) - start)) + data[start + 256 :]


def variants(data: bytes, rng: np.random.Generator, i: int) -> Iterator[tuple[str, str, bytes]]:
    """(kind, file name, bytes): twelve corruptions of one JPEG (and of its PNG re-encoding)."""
    png = _png(data)
    cut = rng.uniform(0.05, 0.95, 3)
    yield "truncated", f"{i}_trunc.jpg", data[: int(len(data) * cut[0])]
    yield "truncated", f"{i}_trunc.png", png[: int(len(png) * cut[1])]
    yield "truncated", f"{i}_header.jpg", data[: int(rng.integers(1, 48))]
    yield "bit-flipped", f"{i}_flip1.jpg", _flip(data, rng, 1)
    yield "bit-flipped", f"{i}_flip16.jpg", _flip(data, rng, 16)
    yield "bit-flipped", f"{i}_flip8.png", _flip(png, rng, 8)
    yield "zeroed", f"{i}_zeroed.jpg", _zero_block(data, rng)
    yield "wrong-extension", f"{i}_png_named.jpg", png
    yield "wrong-extension", f"{i}_jpeg_named.png", data[: int(len(data) * cut[2])] if i % 2 else data
    yield "zero-length", f"{i}_empty.jpg", b""
    yield "text", f"{i}_text.png", f"<html>not an image {i}</html>\n".encode()
    yield "huge-dimensions", f"{i}_huge.png" if i % 2 else f"{i}_huge.jpg", _huge_png() if i % 2 else _huge_jpeg(data)


def write_fuzz_dataset(dst: Path, shared: dict[str, Path]) -> dict[str, str]:
    """The seeded dataset: per class, a few originals and their variants; returns path -> kind."""
    rng = np.random.default_rng(SEED)
    kinds: dict[str, str] = {}
    for folder, dataset, cls in SOURCES:
        (dst / folder).mkdir(parents=True)
        originals = sorted(p for p in (shared[dataset] / cls).iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
        for i, src in enumerate(originals[:ORIGINALS_PER_CLASS]):
            data = src.read_bytes()
            (dst / folder / f"{i}_original.jpg").write_bytes(data)
            kinds[f"{folder}/{i}_original.jpg"] = "original"
            for kind, name, payload in variants(data, rng, i):
                (dst / folder / name).write_bytes(payload)
                kinds[f"{folder}/{name}"] = kind
    return kinds


def _decodable(root: Path, rel: str) -> bool:
    try:
        decode_file(root / rel, SIZE)
    except DecodeError:
        return False
    return True


def test_corrupted_files_through_prepare_and_predict(
    cifar10_mini: Path, animals10_sample: Path, searched: dict[str, Path], tmp_path: Path
) -> None:
    src = tmp_path / "fuzz"
    kinds = write_fuzz_dataset(src, {"cifar": cifar10_mini, "animals": animals10_sample / "raw-img"})
    variants_n = sum(k != "original" for k in kinds.values())
    assert variants_n >= 200
    good = {rel for rel in kinds if _decodable(src, rel)}
    assert all(kinds[rel] not in ("zero-length", "text", "huge-dimensions") for rel in good)

    out = tmp_path / "prepared"
    proc = run_hpo("data", "prepare", src, "--out", out, "--image-size", SIZE, "--no-progress")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    report = json.loads((out / "report.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    used = {it["path"] for it in manifest["items"]} | {d["path"] for d in report["duplicate_paths"]}
    skipped = {s["path"]: s["reason"] for s in report["skipped"]}
    assert used == good  # every decodable file is used (or is a byte-identical copy of a used one)
    assert skipped.keys() == kinds.keys() - good and all(skipped.values())  # every other one, with a reason

    proc = run_hpo("predict", searched["out"], src, "--json", "--no-progress")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    records = {Path(r["path"]).relative_to(src).as_posix(): r for r in json.loads(proc.stdout)}
    assert records.keys() == kinds.keys()
    assert {rel for rel, r in records.items() if "top" in r} == good
    assert all(r["error"] for rel, r in records.items() if rel not in good)

    by_reason = Counter(reason.split(" (")[0] for reason in skipped.values())
    by_kind = Counter(f"{kinds[rel]}: {'used' if rel in good else 'skipped'}" for rel in kinds)
    print(f"\n{variants_n} variants + {len(kinds) - variants_n} originals; used {len(good)}, skipped {len(skipped)}")
    print("by kind:", dict(sorted(by_kind.items())), "\nskipped by reason:", dict(by_reason.most_common()))
