"""Builders for odd and broken image files, shared by the data and predict tests."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

#: file name -> expected to decode?
ODD_FILES: dict[str, bool] = {
    "cmyk.jpg": True,
    "gray.jpg": True,
    "rgba.png": True,
    "sixteen_bit.png": True,
    "palette_transparent.png": True,
    "anim.gif": True,
    "bitmap.bmp": True,
    "photo.webp": True,
    "UPPER.JPEG": True,
    "one_pixel.png": True,
    "strip_4000x40.jpg": True,
    "rotated_exif.jpg": True,
    "zero_bytes.jpg": False,
    "truncated.jpg": False,
    "text_named.jpg": False,
    "random_bytes.png": False,
}
IGNORED_FILES = (".DS_Store", "Thumbs.db", "notes.txt")


def _gradient(w: int, h: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 // max(w - 1, 1), yy * 255 // max(h - 1, 1), (xx + yy) % 256], -1)
    return np.clip(base + rng.integers(-10, 10, base.shape), 0, 255).astype(np.uint8)


def _jpeg_bytes(img: Image.Image, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", **kw)
    return buf.getvalue()


def write_odd_files(folder: Path) -> dict[str, bool]:
    """Write every `ODD_FILES` entry (and `IGNORED_FILES`) into ``folder``; returns ODD_FILES."""
    folder.mkdir(parents=True, exist_ok=True)
    rgb = Image.fromarray(_gradient(120, 90))
    rgb.convert("CMYK").save(folder / "cmyk.jpg", "JPEG")
    rgb.convert("L").save(folder / "gray.jpg", "JPEG")
    rgba = rgb.convert("RGBA")
    rgba.putalpha(Image.fromarray(_gradient(120, 90)[..., 0]))
    rgba.save(folder / "rgba.png")
    deep = (np.linspace(0, 65535, 80 * 60).reshape(60, 80)).astype(np.uint16)
    Image.fromarray(deep).save(folder / "sixteen_bit.png")
    pal = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pal.info["transparency"] = 0
    pal.save(folder / "palette_transparent.png", transparency=0)
    frames = [Image.fromarray(_gradient(40, 40, s)).convert("P") for s in range(3)]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:], duration=50)
    rgb.save(folder / "bitmap.bmp")
    rgb.save(folder / "photo.webp")
    rgb.save(folder / "UPPER.JPEG", "JPEG")
    Image.new("RGB", (1, 1), (200, 10, 10)).save(folder / "one_pixel.png")
    Image.fromarray(_gradient(4000, 40)).save(folder / "strip_4000x40.jpg")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise on display
    Image.fromarray(_gradient(80, 40)).save(folder / "rotated_exif.jpg", exif=exif.tobytes())
    (folder / "zero_bytes.jpg").write_bytes(b"")
    full = _jpeg_bytes(rgb)
    (folder / "truncated.jpg").write_bytes(full[: len(full) // 2])
    (folder / "text_named.jpg").write_text("this is not an image\n")
    (folder / "random_bytes.png").write_bytes(np.random.default_rng(7).bytes(2048))
    for name in IGNORED_FILES:
        (folder / name).write_bytes(b"\x00\x01junk")
    return ODD_FILES
