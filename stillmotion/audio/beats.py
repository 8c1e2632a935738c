"""Beat tracking for is_rec: onset envelope, tempo, then beat times (Ellis' dynamic programme).

1. Onset strength: half-wave rectified spectral flux of the log-magnitude spectrum pooled into
   BANDS log-spaced bands (so a kick's few low bins weigh as much as a hi-hat's hundreds), 100
   frames per second, with the local mean removed. The low bands' flux alone is kept too.
2. Tempo: the autocorrelation of that envelope between 60 and 180 BPM, weighted by a
   log-normal prior around 120 BPM (people tap there), refined to a fraction of a frame,
   then halved when the midpoints between beats are as strong as the beats.
3. Beats: the sequence that best balances strong onsets against steady spacing; moved by half a
   period when the low bands (kick drums) hit between its beats rather than on them (a hi-hat on
   every off-beat must not pull the beat off the kick); each beat then placed where its onset
   rises (half its peak, sub-frame): a kick's flux peaks tens of ms after the attack one hears.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

HOP = 480  # 10 ms at 48 kHz
N_FFT = 1024
FPS = 100.0
MIN_BPM, MAX_BPM, PRIOR_BPM = 60.0, 180.0, 120.0
TIGHTNESS = 100.0
BANDS = 48
LOW_HZ = 180.0
OFFBEAT_RATIO = 1.5  # the low bands this much stronger half a period off: the beats move there
HALVE_RATIO = 3.0  # the low bands this much stronger on every other beat: those alone are the beats
# A Hann-windowed flux peaks when the onset reaches the window's steepest slope, a quarter
# window after its centre; frames are centred, so beat times move back by that much.
_LAG_S = N_FFT / 4 / 48_000


@dataclass(frozen=True)
class Beats:
    tempo_bpm: float
    times: tuple[float, ...]  # seconds from the start of the clip

    def facts(self) -> dict[str, object]:
        return {"tempo_bpm": round(self.tempo_bpm, 2), "beats": len(self.times),
                "beat_times": [round(t, 3) for t in self.times]}


def _band_flux(x: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Rectified log-spectral flux per log-spaced band: (frames, BANDS), and band centres in Hz."""
    mono = (x if x.ndim == 1 else x.mean(axis=1)).astype(np.float32)
    if rate != 48_000:
        raise ValueError("onset_envelope expects 48 kHz audio")
    padded = np.pad(mono, (N_FFT // 2, N_FFT // 2))
    count = 1 + (len(padded) - N_FFT) // HOP
    if count < 3:
        return np.zeros((max(count, 0), BANDS), np.float32), np.zeros(BANDS)
    frames = np.lib.stride_tricks.as_strided(
        padded, shape=(count, N_FFT), strides=(padded.strides[0] * HOP, padded.strides[0]))
    spec = np.log1p(1000.0 * np.abs(np.fft.rfft(frames * np.hanning(N_FFT).astype(np.float32), axis=1)))
    edges = np.unique(np.round(np.geomspace(1, N_FFT // 2, BANDS + 1)).astype(int))
    pooled = np.add.reduceat(spec[:, : edges[-1]], edges[:-1], axis=1) / np.diff(edges)
    flux = np.maximum(np.diff(pooled, axis=0, prepend=pooled[:1]), 0)
    centres = np.sqrt(edges[:-1] * edges[1:]) * rate / N_FFT
    return flux, centres


def _normalised_envelope(flux: np.ndarray) -> np.ndarray:
    k = int(FPS)  # one-second local mean
    local = np.convolve(flux, np.ones(k) / k, mode="same")
    env = np.maximum(flux - local, 0)
    peak = env.max() if env.size else 0.0
    return (env / peak if peak > 0 else env).astype(np.float32)


def onset_envelope(x: np.ndarray, rate: int = 48_000) -> np.ndarray:
    """Spectral-flux onset strength at 100 frames/s (mono mixdown of `x`), bands weighed alike."""
    flux, _ = _band_flux(x, rate)
    return _normalised_envelope(flux.mean(axis=1)) if len(flux) else np.zeros(0, np.float32)


def low_envelope(x: np.ndarray, rate: int = 48_000) -> np.ndarray:
    """The same from the bands under LOW_HZ only: where kick drums (and bass notes) start."""
    flux, centres = _band_flux(x, rate)
    low = centres < LOW_HZ
    return _normalised_envelope(flux[:, low].mean(axis=1)) if len(flux) and low.any() else np.zeros(len(flux), np.float32)


def estimate_period(env: np.ndarray) -> float:
    """Beat period in frames (fractional)."""
    lo, hi = int(60 * FPS / MAX_BPM), int(60 * FPS / MIN_BPM) + 1
    smooth = gaussian_filter1d(env.astype(np.float64), 1.0)  # fractional periods keep their peak
    centred = smooth - smooth.mean()
    ac = np.correlate(centred, centred, mode="full")[len(env) - 1:]
    hi = min(hi, len(ac) - 2)
    if hi <= lo:
        return 60 * FPS / PRIOR_BPM
    lags = np.arange(lo, hi + 1)
    prior = np.exp(-0.5 * (np.log2(60 * FPS / lags / PRIOR_BPM)) ** 2)
    double = np.where(2 * lags < len(ac), ac[np.minimum(2 * lags, len(ac) - 1)], 0.0)
    score = (ac[lo: hi + 1] + 0.5 * np.maximum(double, 0)) * prior  # a true beat repeats at 2x
    i = int(np.argmax(score))
    lag = float(lags[i])
    if 0 < i < len(score) - 1:  # parabolic refinement
        a, b, c = score[i - 1], score[i], score[i + 1]
        denom = a - 2 * b + c
        lag += 0.5 * (a - c) / denom if denom else 0.0
    return lag


def _comb(env: np.ndarray, period: float, phase: float) -> float:
    """Mean onset strength at phase + k * period (each point the best of itself and its neighbours)."""
    idx = np.round(np.arange(phase, len(env) - 1, period)).astype(int)
    if idx.size == 0:
        return 0.0
    near = np.maximum(env[np.maximum(idx - 1, 0)], np.maximum(env[idx], env[np.minimum(idx + 1, len(env) - 1)]))
    return float(near.mean())


def resolve_octave(env: np.ndarray, period: float) -> float:
    """Halve the period when the midpoints between beats are as strong as the beats.

    Autocorrelation at a fractional period (160 BPM is 37.5 frames) is blurred and can lose to
    twice the period; a click or a drum on every midpoint says the faster tempo is the real one.
    """
    if 60 * FPS / (period / 2) > MAX_BPM:
        return period
    phases = np.arange(0, period, 1.0)
    strength = [_comb(env, period, p) for p in phases]
    best = float(phases[int(np.argmax(strength))])
    on, mid = max(strength), _comb(env, period, best + period / 2)
    return period / 2 if on > 0 and mid >= 0.5 * on else period


def _dp_beats(env: np.ndarray, period: float) -> list[int]:
    """Ellis (2007): best-scoring beat sequence with spacing near `period`."""
    n = len(env)
    score = env.astype(np.float64).copy()
    back = np.full(n, -1)
    lo, hi = int(round(period / 2)), int(round(period * 2))
    offsets = np.arange(lo, hi + 1)
    penalty = -TIGHTNESS * np.log(offsets / period) ** 2
    for t in range(lo, n):
        prev = t - offsets
        ok = prev >= 0
        if not ok.any():
            continue
        cand = score[prev[ok]] + penalty[ok]
        j = int(np.argmax(cand))
        if cand[j] > 0:  # else this frame starts a sequence afresh
            score[t] = env[t] + cand[j]
            back[t] = prev[ok][j]
    # end on the best-scoring frame in the last period that has a real onset behind it
    tail = np.arange(max(0, n - int(period) - 1), n)
    t = int(tail[np.argmax(score[tail])])
    path = [t]
    while back[path[-1]] >= 0:
        path.append(int(back[path[-1]]))
    return path[::-1]


def _refine(env: np.ndarray, frame: int) -> float:
    """Where the onset near `frame` rises through half its peak, to a fraction of a frame."""
    a, b = max(frame - 2, 0), min(frame + 3, len(env))
    i = a + int(np.argmax(env[a:b]))
    half = 0.5 * float(env[i])
    j = i
    while j > 0 and j > i - 6 and env[j - 1] > half:
        j -= 1
    if j > 0 and env[j] > env[j - 1]:  # linear between the last frame under half and the first over
        return (j - 1) + (half - env[j - 1]) / (env[j] - env[j - 1])
    return float(j)


def _on_the_kick(low: np.ndarray, frames: list[int], period: float) -> list[int]:
    """`frames`, or the frames half a period later when the low bands hit there instead, or
    every other frame when the low bands hit only there (hi-hats between kicks doubled the tempo)."""
    if not frames or not low.size or low.max() <= 0:
        return frames
    half = int(round(period / 2))
    shifted = [f + half for f in frames if f + half < len(low)]

    def strength(fs: list[int]) -> float:
        return float(np.mean([low[max(f - 2, 0): f + 3].max() for f in fs])) if fs else 0.0

    if strength(shifted) > OFFBEAT_RATIO * strength(frames):
        earlier = [f - half for f in frames[:1] if f - half >= 0]
        return earlier + shifted
    even, odd = frames[0::2], frames[1::2]  # kicks on every other beat: the beat is twice as long
    if 60 * FPS / (2 * period) >= MIN_BPM and len(odd) >= 2:
        if strength(even) > HALVE_RATIO * strength(odd):
            return even
        if strength(odd) > HALVE_RATIO * strength(even):
            return odd
    return frames


def track_beats(x: np.ndarray, rate: int = 48_000) -> Beats:
    """Tempo and beat times of `x` ((n,) or (n, channels) float at 48 kHz)."""
    env = onset_envelope(x, rate)
    if len(env) < 3 or env.max() <= 0:
        return Beats(0.0, ())
    period = resolve_octave(env, estimate_period(env))
    frames = _on_the_kick(low_envelope(x, rate), _dp_beats(env, period), period)
    if len(frames) > 2:
        period = float(frames[-1] - frames[0]) / (len(frames) - 1)
    threshold = 0.1 * float(np.median([env[f] for f in frames])) if frames else 0.0
    times = [float(_refine(env, f)) / FPS + _LAG_S for f in frames if env[f] > threshold]
    seconds = len(x) / rate
    return Beats(float(60 * FPS / period), tuple(t for t in times if 0 <= t < seconds))
