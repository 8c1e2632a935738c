"""F3: inputs decoded as a colour-managed viewer shows them, each mode checked against an
independent reference conversion written here in numpy (not Pillow's `convert`)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from PIL import Image

from stillmotion.media.imaging import BACKGROUND, load_rgb

RNG = np.random.default_rng(7)


def saved(im: Image.Image, tmp_path, name: str = "in.png", **kw) -> str:
    path = tmp_path / name
    im.save(path, **kw)
    return str(path)


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * np.power(linear, 1 / 2.4) - 0.055)


def test_16_bit_greyscale_is_scaled_not_clipped(tmp_path):
    grey = np.linspace(0, 65535, 200 * 160).reshape(160, 200).astype(np.uint16)
    out = load_rgb(saved(Image.fromarray(grey), tmp_path))
    reference = np.round(grey / 257.0)
    assert out.shape == (160, 200, 3) and np.abs(out[..., 0] - reference).max() <= 1
    assert (out[..., 0] == out[..., 2]).all() and 120 < out.mean() < 135  # a grey ramp, not white


def test_palette_with_a_transparent_index_shows_the_background(tmp_path):
    idx = RNG.integers(0, 4, (128, 128), dtype=np.uint8)
    palette = [200, 10, 10, 10, 200, 10, 10, 10, 200, 50, 60, 70] + [0] * (256 * 3 - 12)
    im = Image.fromarray(idx, "P")
    im.putpalette(palette)
    out = load_rgb(saved(im, tmp_path, transparency=3))
    colours = np.array(palette[:12]).reshape(4, 3)
    reference = colours[idx]
    reference[idx == 3] = BACKGROUND
    assert (out == reference).all()


@pytest.mark.parametrize("mode", ["LA", "RGBA"])
def test_alpha_is_composited_on_the_documented_background(tmp_path, mode):
    channels = 2 if mode == "LA" else 4
    arr = RNG.integers(0, 256, (128, 160, channels), dtype=np.uint8)
    out = load_rgb(saved(Image.fromarray(arr, mode), tmp_path)).astype(np.float64)
    colour = np.repeat(arr[..., :1], 3, axis=2) if mode == "LA" else arr[..., :3]
    alpha = arr[..., -1:] / 255.0
    reference = colour * alpha + np.array(BACKGROUND) * (1 - alpha)
    assert np.abs(out - reference).max() <= 1.0


def test_cmyk_jpeg_without_a_profile(tmp_path):
    cmyk = RNG.integers(0, 256, (128, 128, 4), dtype=np.uint8)
    out = load_rgb(saved(Image.fromarray(cmyk, "CMYK"), tmp_path, "in.tif"))
    c, k = cmyk[..., :3].astype(np.float64), cmyk[..., 3:].astype(np.float64)
    reference = (255 - c) * (255 - k) / 255  # the naive separation, for files with no profile
    assert np.abs(out - reference).max() <= 1.0


@pytest.mark.parametrize("orientation, turn", [(3, 2), (6, -1), (8, 1)])
def test_exif_orientation_is_applied(tmp_path, orientation, turn):
    arr = RNG.integers(0, 256, (128, 192, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = load_rgb(saved(Image.fromarray(arr), tmp_path, exif=exif.tobytes()))
    assert (out == np.rot90(arr, turn)).all()


# -- ICC: a hand-built RGB profile whose red and green colorants are sRGB's swapped ------------

SRGB_D50 = {"r": (0.4361, 0.2225, 0.0139), "g": (0.3851, 0.7169, 0.0971), "b": (0.1431, 0.0606, 0.7141)}


def _s15(x: float) -> bytes:
    return struct.pack(">i", round(x * 65536))


def _xyz(v: tuple[float, float, float]) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(_s15(x) for x in v)


def swapped_profile() -> bytes:
    """An ICC v2 matrix/TRC display profile: sRGB's tone curve (a `para` curve) and primaries,
    but with red and green exchanged, so (r, g, b) tagged with it is (g, r, b) in sRGB."""
    para = b"para\0\0\0\0" + struct.pack(">HH", 3, 0) + b"".join(
        _s15(x) for x in (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045))
    text = b"swapped\0"
    desc = b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + b"\0" * 4 + b"\0" * 4 + b"\0" * 3 + b"\0" * 67
    tags = [(b"desc", desc), (b"wtpt", _xyz((0.9642, 1.0, 0.8249))), (b"rXYZ", _xyz(SRGB_D50["g"])),
            (b"gXYZ", _xyz(SRGB_D50["r"])), (b"bXYZ", _xyz(SRGB_D50["b"])), (b"rTRC", para), (b"gTRC", para),
            (b"bTRC", para)]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for sig, data in tags:
        data += b"\0" * (-len(data) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (struct.pack(">I", size) + b"\0" * 4 + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ "
              + b"\0" * 12 + b"acsp" + b"\0" * 24 + struct.pack(">I", 0) + _s15(0.9642) + _s15(1.0) + _s15(0.8249)
              + b"\0" * 48)
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


def test_an_icc_profile_is_converted_to_srgb(tmp_path):
    arr = RNG.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    out = load_rgb(saved(Image.fromarray(arr), tmp_path, icc_profile=swapped_profile())).astype(int)
    reference = arr[..., [1, 0, 2]].astype(int)  # red and green trade places
    assert np.abs(out - reference).max() <= 3, np.abs(out - reference).max()
    plain = load_rgb(saved(Image.fromarray(arr), tmp_path, "plain.png"))
    assert (plain == arr).all()  # no profile: taken as sRGB, untouched


def test_a_huge_jpeg_is_decoded_at_a_reduced_scale(tmp_path):
    big = np.kron(RNG.integers(0, 256, (60, 80, 3), dtype=np.uint8), np.ones((40, 40, 1), np.uint8))  # 3200x2400
    path = saved(Image.fromarray(big), tmp_path, "big.jpg", quality=90)
    small = load_rgb(path, max_side=600)
    assert 600 <= max(small.shape[:2]) < 3200 and small.shape[1] * 3 == small.shape[0] * 4
    assert load_rgb(path).shape == (2400, 3200, 3)
