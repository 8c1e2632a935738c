"""Output frame sizes: Np is the short side, the long side follows the aspect, both even."""

from __future__ import annotations

from fractions import Fraction

import pytest

from stillmotion.catalog import output_size

RATIOS = {"16:9": 16 / 9, "9:16": 9 / 16, "4:3": 4 / 3, "3:4": 3 / 4, "1:1": 1.0}
EXPECTED = {
    "540p": {"16:9": (960, 540), "9:16": (540, 960), "4:3": (720, 540), "3:4": (540, 720), "1:1": (540, 540)},
    "720p": {"16:9": (1280, 720), "9:16": (720, 1280), "4:3": (960, 720), "3:4": (720, 960), "1:1": (720, 720)},
    "1080p": {"16:9": (1920, 1080), "9:16": (1080, 1920), "4:3": (1440, 1080), "3:4": (1080, 1440),
              "1:1": (1080, 1080)},
}


@pytest.mark.parametrize("res", EXPECTED)
@pytest.mark.parametrize("ratio", RATIOS)
def test_every_resolution_and_ratio(res, ratio):
    assert output_size(res, RATIOS[ratio]) == EXPECTED[res][ratio]
    w, h = map(int, ratio.split(":"))
    assert output_size(res, Fraction(w, h)) == EXPECTED[res][ratio]


@pytest.mark.parametrize("res,w,h,want", [
    ("720p", 1000, 800, (900, 720)),
    ("720p", 800, 1000, (720, 900)),
    ("720p", 1000, 4000, (720, 2880)),   # 1:4
    ("720p", 4000, 1000, (2880, 720)),   # 4:1
    ("540p", 1000, 4000, (540, 2160)),
    ("1080p", 4000, 1000, (4320, 1080)),
    ("720p", 1000, 5000, (720, 2880)),   # beyond 1:4 is clamped
    ("720p", 6000, 1000, (2880, 720)),
    ("720p", 1001, 720, (1002, 720)),    # odd 1001 -> 1002
    ("720p", 1003, 720, (1004, 720)),
    ("720p", 1366, 768, (1280, 720)),    # 1280.625 -> 1280
    ("720p", 1000, 563, (1278, 720)),    # 1278.86 -> 1278 (nearest even)
    ("540p", 640, 427, (810, 540)),      # 809.37 -> 810
    ("540p", 541, 540, (542, 540)),      # 541 exactly: halves round up
    ("720p", 720, 1001, (720, 1002)),
    ("1080p", 1920, 1080, (1920, 1080)),
    ("540p", 1920, 1080, (960, 540)),
])
def test_image_aspects(res, w, h, want):
    got = output_size(res, w / h)
    assert got == want
    assert output_size(res, Fraction(w, h)) == want
    assert got[0] % 2 == 0 and got[1] % 2 == 0


def test_bad_inputs():
    with pytest.raises(ValueError):
        output_size("720p", 0)
    with pytest.raises(ValueError):
        output_size("hd", 1.0)
