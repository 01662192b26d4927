"""`hpo data synth`: a deterministic, learnable class-folder JPEG dataset (no download).

Each class is a shape (circle, square, triangle, ...) drawn in a class-typical hue with
random position, size, colour jitter, a textured background and pixel noise, so a small CNN
learns it in a few epochs but not in one step. Same arguments, same bytes.
"""

from __future__ import annotations

import colorsys
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from hpo.errors import DataError

__all__ = ["SHAPES", "synth_dataset"]

SHAPES = (
    "circle",
    "square",
    "triangle",
    "cross",
    "ring",
    "diamond",
    "hbars",
    "vbars",
    "checker",
    "dots",
)
MAX_CLASSES = 100


def _colour(rng: np.random.Generator, hue: float, jitter: float) -> tuple[int, int, int]:
    h = (hue + rng.uniform(-jitter, jitter)) % 1.0
    r, g, b = colorsys.hsv_to_rgb(h, rng.uniform(0.5, 1.0), rng.uniform(0.55, 1.0))
    return int(r * 255), int(g * 255), int(b * 255)


def _draw_shape(
    draw: ImageDraw.ImageDraw,
    shape: str,
    cx: float,
    cy: float,
    r: float,
    fill: tuple[int, int, int],
) -> None:
    box = (cx - r, cy - r, cx + r, cy + r)
    w = max(1, int(r / 3))
    if shape == "circle":
        draw.ellipse(box, fill=fill)
    elif shape == "square":
        draw.rectangle(box, fill=fill)
    elif shape == "triangle":
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
    elif shape == "cross":
        draw.rectangle((cx - w, cy - r, cx + w, cy + r), fill=fill)
        draw.rectangle((cx - r, cy - w, cx + r, cy + w), fill=fill)
    elif shape == "ring":
        draw.ellipse(box, outline=fill, width=w)
    elif shape == "diamond":
        draw.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=fill)
    elif shape == "hbars":
        for off in (-r, 0.0, r):
            draw.rectangle((cx - r, cy + off - w / 2, cx + r, cy + off + w / 2), fill=fill)
    elif shape == "vbars":
        for off in (-r, 0.0, r):
            draw.rectangle((cx + off - w / 2, cy - r, cx + off + w / 2, cy + r), fill=fill)
    elif shape == "checker":
        step = r / 2
        for i in range(4):
            for j in range(4):
                if (i + j) % 2 == 0:
                    x0, y0 = cx - r + i * step, cy - r + j * step
                    draw.rectangle((x0, y0, x0 + step, y0 + step), fill=fill)
    else:  # dots
        for k in range(5):
            a = 2 * math.pi * k / 5
            x, y = cx + 0.7 * r * math.cos(a), cy + 0.7 * r * math.sin(a)
            draw.ellipse((x - w, y - w, x + w, y + w), fill=fill)


def _image(rng: np.random.Generator, shape: str, hue: float, size: int) -> Image.Image:
    bg = np.array(_colour(rng, rng.uniform(), 0.5), dtype=np.float64) * 0.5
    yy, xx = np.mgrid[0:size, 0:size] / size
    wave = np.sin(2 * math.pi * (rng.uniform(1, 4) * xx + rng.uniform(1, 4) * yy + rng.uniform()))
    arr = bg + 40 * wave[..., None] + rng.normal(0, 12, (size, size, 3))
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    r = size * rng.uniform(0.18, 0.34)
    cx, cy = rng.uniform(r, size - r), rng.uniform(r, size - r)
    _draw_shape(draw, shape, cx, cy, r, _colour(rng, hue, 0.12))
    noisy = np.asarray(img, dtype=np.float64) + rng.normal(0, 10, (size, size, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def synth_dataset(
    out: Path, *, classes: int = 10, per_class: int = 100, image_size: int = 64, seed: int = 0
) -> list[str]:
    """Write ``out/<class>/<nnnn>.jpg``; returns the class folder names."""
    if not 2 <= classes <= MAX_CLASSES:
        raise DataError(f"--classes must be between 2 and {MAX_CLASSES}, got {classes}")
    if per_class < 1:
        raise DataError(f"--per-class must be at least 1, got {per_class}")
    if not 8 <= image_size <= 1024:
        raise DataError(f"--image-size must be between 8 and 1024, got {image_size}")
    names = []
    for c in range(classes):
        shape = SHAPES[c % len(SHAPES)]
        name = shape if classes <= len(SHAPES) else f"{shape}_{c // len(SHAPES)}"
        hue = (c * 0.61803398875) % 1.0  # golden-ratio hues: neighbours differ
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            rng = np.random.default_rng([seed, c, i])
            _image(rng, shape, hue, image_size).save(folder / f"{i:04d}.jpg", quality=90)
        names.append(name)
    return names
