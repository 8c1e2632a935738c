"""Output frame size: `Np` names the short side, the long side follows the aspect, both even.

Exact rational arithmetic so 16:9 at 720p is 1280, not 1279.9999. Even sides because
H.264 yuv420p needs them.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

MIN_ASPECT = Fraction(1, 4)  # the inputs' documented aspect limits (1:4 .. 4:1)
MAX_ASPECT = Fraction(4, 1)


def parse_aspect(ratio: str) -> Fraction:
    """ "16:9" -> Fraction(16, 9)."""
    w, _, h = ratio.partition(":")
    return Fraction(int(w), int(h))


def short_side(resolution: str) -> int:
    if not resolution.endswith("p") or not (resolution[:-1].isascii() and resolution[:-1].isdigit()):
        raise ValueError(f"resolution must look like '720p', got {resolution!r}")
    return int(resolution[:-1])


def _even(x: Fraction) -> int:
    """Nearest even integer, halves rounded up (deterministic, unlike round()'s banker's rule)."""
    return max(2, 2 * math.floor(x / 2 + Fraction(1, 2)))


@functools.lru_cache(maxsize=1024)  # a few resolutions times the aspects of images sent
def output_size(resolution: str, aspect: float | Fraction) -> tuple[int, int]:
    """(width, height) for `resolution` at `aspect` = width / height.

    The aspect is clamped to 1:4 .. 4:1: images outside that are refused at input, and the
    clamp keeps a stray value from asking an engine for a 20000-pixel frame.
    """
    # A float w/h carries rounding noise that would flip exact ties (1001/720 * 720 = 1000.99...);
    # the nearest fraction with a denominator up to 10**6 is the true ratio of any image size.
    a = Fraction(aspect).limit_denominator(10**6) if isinstance(aspect, float) else Fraction(aspect)
    if a <= 0:
        raise ValueError(f"aspect must be positive, got {aspect!r}")
    a = min(max(a, MIN_ASPECT), MAX_ASPECT)
    short = short_side(resolution)
    if a >= 1:
        return _even(short * a), _even(Fraction(short))
    return _even(Fraction(short)), _even(short / a)
