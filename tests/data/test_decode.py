from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hpo.data.decode import DecodeError, decode_bytes, decode_file, fit_square
from tests.helpers.imagefiles import ODD_FILES, write_odd_files


@pytest.fixture(scope="module")
def odd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("odd")
    write_odd_files(folder)
    return folder


@pytest.mark.parametrize("name", [n for n, ok in ODD_FILES.items() if ok])
def test_every_decodable_odd_file_becomes_square_rgb_uint8(odd: Path, name: str) -> None:
    arr = decode_file(odd / name, 24)
    assert arr.shape == (24, 24, 3)
    assert arr.dtype == np.uint8


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("zero_bytes.jpg", "empty file"),
        ("truncated.jpg", "corrupt or truncated"),
        ("text_named.jpg", "not a recognised image format"),
        ("random_bytes.png", "not a recognised image format"),
    ],
)
def test_broken_files_raise_decode_error_with_reason(odd: Path, name: str, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode_file(odd / name, 24)


def test_sixteen_bit_is_scaled_not_clipped(odd: Path) -> None:
    arr = decode_file(odd / "sixteen_bit.png", 16)
    # a 0..65535 ramp must span the 8-bit range, not saturate at 255
    assert arr.min() < 40 and arr.max() > 215
    assert 90 < arr.mean() < 165


def test_transparent_pixels_become_white() -> None:
    img = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    from io import BytesIO

    buf = BytesIO()
    img.save(buf, "PNG")
    assert (decode_bytes(buf.getvalue(), 8) == 255).all()


def test_exif_orientation_is_applied(odd: Path) -> None:
    # 80x40 stored, displayed as 40x80 portrait: the centre crop sees the rotated image
    raw = np.asarray(Image.open(odd / "rotated_exif.jpg").convert("RGB"))
    assert raw.shape[:2] == (40, 80)
    arr = decode_file(odd / "rotated_exif.jpg", 40)
    # in the stored image the red channel grows left->right; after a 90° rotation it
    # grows top->bottom in the decoded one
    col_trend = arr[..., 0].mean(axis=1)
    assert col_trend[-1] > col_trend[0] + 50


def test_fit_square_keeps_the_centre() -> None:
    arr = np.zeros((10, 30, 3), np.uint8)
    arr[:, 10:20] = 255  # white centre third of a wide image
    out = np.asarray(fit_square(Image.fromarray(arr), 10))
    assert out.shape == (10, 10, 3)
    assert out.min() > 200


def test_unreadable_path_is_a_decode_error(tmp_path: Path) -> None:
    with pytest.raises(DecodeError, match="cannot read"):
        decode_file(tmp_path / "missing.jpg", 8)
