"""Small signal-processing building blocks shared by the sound scenes, music and the mix.

Everything is vectorised numpy/scipy on whole buffers (a 16 s stereo clip is 1.5 M samples),
float32 in [-1, 1], stereo as (n, 2). Randomness always comes from a passed Generator.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.signal import butter, sosfilt

RATE = 48_000


@lru_cache(maxsize=64)
def _sos(kind: str, lo: float, hi: float, order: int) -> np.ndarray:
    nyq = RATE / 2
    if kind == "band":
        return butter(order, [lo / nyq, min(hi, nyq * 0.98) / nyq], btype="bandpass", output="sos")
    return butter(order, lo / nyq, btype=kind, output="sos")


def lowpass(x: np.ndarray, hz: float, order: int = 2) -> np.ndarray:
    return sosfilt(_sos("low", hz, 0.0, order), x, axis=0).astype(np.float32)


def highpass(x: np.ndarray, hz: float, order: int = 2) -> np.ndarray:
    return sosfilt(_sos("high", hz, 0.0, order), x, axis=0).astype(np.float32)


def bandpass(x: np.ndarray, lo: float, hi: float, order: int = 2) -> np.ndarray:
    return sosfilt(_sos("band", lo, hi, order), x, axis=0).astype(np.float32)


def white(rng: np.random.Generator, n: int, channels: int = 2) -> np.ndarray:
    return rng.standard_normal((n, channels), dtype=np.float32)


def pink(rng: np.random.Generator, n: int, channels: int = 2) -> np.ndarray:
    """1/f noise by spectral shaping; each channel independent (a wide, decorrelated bed)."""
    spec = np.fft.rfft(white(rng, n, channels), axis=0)
    f = np.fft.rfftfreq(n, 1 / RATE)
    f[0] = f[1] if n > 1 else 1.0
    spec *= (1.0 / np.sqrt(np.maximum(f, 20.0)))[:, None]
    out = np.fft.irfft(spec, n=n, axis=0).astype(np.float32)
    return out / (np.std(out) + 1e-9)


def brown(rng: np.random.Generator, n: int, channels: int = 2) -> np.ndarray:
    """1/f^2 noise: integrated white noise, high-passed so it cannot drift."""
    out = highpass(np.cumsum(white(rng, n, channels), axis=0), 20.0)
    return out / (np.std(out) + 1e-9)


def smooth_curve(rng: np.random.Generator, n: int, points_per_s: float, lo: float, hi: float) -> np.ndarray:
    """A slow random modulation in [lo, hi] (gusts, swells): random knots, cosine-interpolated
    at a 1 kHz control rate, then linearly to the sample rate (cheap, and smooth to the ear)."""
    k = max(2, int(n / RATE * points_per_s) + 2)
    knots = rng.uniform(lo, hi, k)
    m = max(2, n // 48 + 2)
    pos = np.linspace(0, k - 1, m)
    i = np.minimum(pos.astype(int), k - 2)
    frac = (1 - np.cos(np.pi * (pos - i))) / 2
    ctrl = knots[i] * (1 - frac) + knots[i + 1] * frac
    return np.interp(np.linspace(0, m - 1, n), np.arange(m), ctrl).astype(np.float32)


def decay(n: int, attack_s: float, decay_s: float) -> np.ndarray:
    """An event envelope: linear attack, exponential decay (-60 dB at decay_s)."""
    t = np.arange(n, dtype=np.float32) / RATE
    att = np.clip(t / max(attack_s, 1e-4), 0, 1)
    return (att * np.exp(-6.9 * np.maximum(t - attack_s, 0) / max(decay_s, 1e-4))).astype(np.float32)


def pan(mono: np.ndarray, position: float | np.ndarray) -> np.ndarray:
    """Equal-power pan; position -1 (left) .. 1 (right), scalar or per sample."""
    angle = (np.clip(position, -1, 1) + 1) * np.pi / 4
    return np.stack([mono * np.cos(angle), mono * np.sin(angle)], axis=-1).astype(np.float32)


def place(out: np.ndarray, event: np.ndarray, start: int) -> None:
    """Add `event` into `out` at sample `start`, clipped to the buffer."""
    if start >= len(out) or start + len(event) <= 0:
        return
    a, b = max(start, 0), min(start + len(event), len(out))
    out[a:b] += event[a - start: b - start]


def make_loop(x: np.ndarray, xfade: int) -> np.ndarray:
    """A seamless loop of len(x) - xfade samples: the tail is crossfaded into the head.

    Tiling the result has no jump at the seam: the sample after the loop's last one is the
    original continuation x[len - xfade]. Equal-power, since the parts are uncorrelated noise.
    """
    length = len(x) - xfade
    if xfade <= 0 or length < xfade:
        return x
    t = np.linspace(0, np.pi / 2, xfade, dtype=np.float32)
    shape = (-1,) + (1,) * (x.ndim - 1)
    loop = x[:length].copy()
    loop[:xfade] = x[:xfade] * np.sin(t).reshape(shape) + x[length:] * np.cos(t).reshape(shape)
    return loop


def tile(loop: np.ndarray, n: int) -> np.ndarray:
    reps = -(-n // len(loop))
    return np.concatenate([loop] * reps, axis=0)[:n]


def fade(x: np.ndarray, in_s: float, out_s: float) -> np.ndarray:
    """Raised-cosine fade in and out (in place and returned)."""
    for seconds, head in ((in_s, True), (out_s, False)):
        k = min(int(seconds * RATE), len(x))
        if k <= 0:
            continue
        ramp = (0.5 - 0.5 * np.cos(np.linspace(0, np.pi, k, dtype=np.float32)))
        ramp = ramp if head else ramp[::-1]
        sl = slice(0, k) if head else slice(len(x) - k, len(x))
        x[sl] *= ramp.reshape((-1,) + (1,) * (x.ndim - 1))
    return x


def rms_envelope(x: np.ndarray, window_s: float = 0.05) -> np.ndarray:
    """Per-sample RMS over a sliding window (mono or the mean of the channels)."""
    mono = x if x.ndim == 1 else x.mean(axis=1)
    power = uniform_filter1d(mono.astype(np.float64) ** 2, max(1, int(window_s * RATE)), mode="nearest")
    return np.sqrt(np.maximum(power, 0)).astype(np.float32)


def db(x: float) -> float:
    return 10 ** (x / 20)
