"""Procedural sound scenes: each a seeded numpy/scipy recipe for one kind of place or source.

A scene is `fn(rng, n, hits) -> (n, 2) float32`. Stationary textures (rain, a stream, fire,
crowd babble) are made once for a few seconds and looped with a crossfaded seam
(`dsp.make_loop`), so a long clip costs no more and the loop point does not click. Event
scenes (birds, thunder, footsteps, passing cars, claps) are laid out over the whole clip;
when `hits` (seconds) is given, their rhythmic events land on those times instead of at random.
Levels are relative; the mix sets the final loudness.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.signal import fftconvolve

from stillmotion.audio.dsp import (
    RATE, bandpass, brown, decay, highpass, lowpass, make_loop, pan, pink, place, smooth_curve, tile, white,
)

Scene = Callable[[np.random.Generator, int, Sequence[float]], np.ndarray]
LOOP_S = 4.0
XFADE = int(0.25 * RATE)


def _bed(make: Callable[[np.random.Generator, int], np.ndarray], rng: np.random.Generator, n: int) -> np.ndarray:
    """A stationary texture made for LOOP_S and looped seamlessly to n samples."""
    m = int(LOOP_S * RATE)
    if n <= m:
        return make(rng, n)
    return tile(make_loop(make(rng, m + XFADE), XFADE), n)


def _impulses(rng: np.random.Generator, n: int, per_s: float, amp_sigma: float = 0.6) -> np.ndarray:
    """Randomly timed stereo impulses with log-normal amplitudes and random pan."""
    k = rng.poisson(per_s * n / RATE)
    out = np.zeros((n, 2), np.float32)
    at = rng.integers(0, n, k)
    amp = np.minimum(rng.lognormal(0, amp_sigma, k), 4.0).astype(np.float32)  # no freak spikes
    angle = rng.uniform(0, np.pi / 2, k)
    np.add.at(out[:, 0], at, amp * np.cos(angle))
    np.add.at(out[:, 1], at, amp * np.sin(angle))
    return out


def _times(rng: np.random.Generator, n: int, every_s: float, hits: Sequence[float], jitter: float = 0.5) -> list[float]:
    """Event times: on the hits when given, else about every `every_s` with jitter."""
    seconds = n / RATE
    if hits:
        return [t for t in hits if 0 <= t < seconds]
    out, t = [], float(rng.uniform(0.1, every_s))
    while t < seconds:
        out.append(t)
        t += every_s * float(rng.uniform(1 - jitter, 1 + jitter))
    return out


def _tone(freqs: np.ndarray) -> np.ndarray:
    return np.sin(2 * np.pi * np.cumsum(freqs) / RATE).astype(np.float32)


# ---- stationary textures ---------------------------------------------------------------------


def rain(rng: np.random.Generator, n: int, hits: Sequence[float]) -> np.ndarray:
    def make(rng: np.random.Generator, m: int) -> np.ndarray:
        hiss = bandpass(pink(rng, m), 500, 9000) * 0.5
        drops = bandpass(_impulses(rng, m, 300), 1800, 7000) * 0.8
        return hiss + drops
    return _bed(make, rng, n)


def stream(rng: np.random.Generator, n: int, hits: Sequence[float]) -> np.ndarray:
    def make(rng: np.random.Generator, m: int) -> np.ndarray:
        flow = bandpass(pink(rng, m), 250, 3000) * smooth_curve(rng, m, 6, 0.6, 1.0)[:, None]
        bubbles = np.zeros((m, 2), np.float32)
        for at in rng.integers(0, m, rng.poisson(30 * m / RATE)):
            k = int(rng.uniform(0.012, 0.03) * RATE)
            f0 = rng.uniform(400, 1400)
            blip = _tone(np.linspace(f0, f0 * 1.5, k)) * decay(k, 0.001, k / RATE)
            place(bubbles, pan(blip * rng.uniform(0.2, 0.6), rng.uniform(-0.7, 0.7)), int(at))
        return flow + bubbles
    return _bed(make, rng, n)


def fire(rng: np.random.Generator, n: int, hits: Sequence[float]) -> np.ndarray:
    def make(rng: np.random.Generator, m: int) -> np.ndarray:
        roar = lowpass(brown(rng, m), 250) * 0.6
        hiss = highpass(pink(rng, m), 3000) * 0.05 * smooth_curve(rng, m, 2, 0.3, 1.0)[:, None]
        crackle = highpass(_impulses(rng, m, 14, amp_sigma=1.0), 1500) * 2.0
        return roar + hiss + crackle
    return _bed(make, rng, n)


def crowd(rng: np.random.Generator, n: int, hits: Sequence[float]) -> np.ndarray:
    def make(rng: np.random.Generator, m: int) -> np.ndarray:
        out = np.zeros((m, 2), np.float32)
        for _ in range(10):  # ten talkers: speech-band noise with syllable-rate bursts
            syllables = smooth_curve(rng, m, rng.uniform(8, 12), 0.0, 1.0) ** 2
            phrases = smooth_curve(rng, m, 0.6, 0.0, 1.0)
            voice = bandpass(white(rng, m, 1)[:, 0], rng.uniform(200, 350), rng.uniform(2200, 3500))
            out += pan(voice * syllables * phrases, rng.uniform(-0.8, 0.8))
        return out
    return _bed(make, rng, n)


def ambience(rng: np.random.Generator, n: int, hits: Sequence[float]) -> np.ndarray:
    """Open air: what a place sounds like when the prompt names no source."""
    def make(rng: np.random.Generator, m: int) -> np.ndarray:
        return lowpass(pink(rng, m), 900) * smooth_curve(rng, m, 0.5, 0.6, 1.0)[:, None]
    return _bed(make, rng, n)


def room_tone(rng: np.random.Generator, n: int) -> np.ndarray:
    """The quiet bed under everything, so pauses never drop to digital silence."""
    def make(rng: np.random.Generator, m: int) -> np.ndarray:
        return lowpass(brown(rng, m), 400) * 0.7 + lowpass(pink(rng, m), 6000) * 0.08
    return _bed(make, rng, n)


# ---- long-form and event scenes --------------------------------------------------------------


def wind(rng: np.random.Generator, n: int, hits: Sequence[float]) -> np.ndarray:
    gusts = smooth_curve(rng, n, 0.4, 0.15, 1.0)[:, None]
    body = lowpass(pink(rng, n), 700) * gusts
    whistle = bandpass(pink(rng, n), 800, 1100, order=4) * (gusts**2) * 0.6
    return body + whistle


def waves(rng: np.random.Generator, n: int, hits: Sequence[float]) -> np.ndarray:
    t = np.arange(n) / RATE
    env = np.zeros(n, np.float32)
    start = -rng.uniform(0, 3)
    while start < n / RATE:
        period = rng.uniform(5, 8)
        x = (t - start) / period
        rise, fall = np.clip(x / 0.4, 0, 1), np.exp(-np.maximum(x - 0.4, 0) * 5)
        env = np.maximum(env, (np.sin(rise * np.pi / 2) ** 2 * fall * (x >= 0)).astype(np.float32))
        start += period * rng.uniform(0.7, 1.0)
    body = lowpass(pink(rng, n), 1500) * (0.25 + env)[:, None]
    crash = highpass(pink(rng, n), 2000) * (env**3)[:, None] * 0.5
    return body + crash


def birds(rng: np.random.Generator, n: int, hits: Sequence[float]) -> np.ndarray:
    out = np.zeros((n, 2), np.float32)
    for b in range(3):
        base, place_at = rng.uniform(2500, 5000), rng.uniform(-0.8, 0.8)
        for t in _times(rng, n, rng.uniform(1.2, 2.2), hits if b == 0 else ()):
            pos = int(t * RATE)
            for _ in range(int(rng.integers(2, 6))):
                k = int(rng.uniform(0.04, 0.14) * RATE)
                f = np.linspace(base * rng.uniform(0.8, 1.1), base * rng.uniform(0.9, 1.4), k)
                f *= 1 + 0.05 * np.sin(2 * np.pi * rng.uniform(25, 45) * np.arange(k) / RATE)
                note = _tone(f) * np.hanning(k).astype(np.float32) * rng.uniform(0.3, 0.8)
                place(out, pan(note, place_at), pos)
                pos += k + int(rng.uniform(0.02, 0.08) * RATE)
    return out


def thunder(rng: np.random.Generator, n: int, hits: Sequence[float]) -> np.ndarray:
    out = np.zeros((n, 2), np.float32)
    seconds = n / RATE
    strikes = [seconds * f for f in sorted(rng.uniform(0.08, 0.6, 1 if seconds < 6 else 2))]
    if hits:  # on the rhythm: the nearest hit
        strikes = [min(hits, key=lambda h, s=s: abs(h - s)) for s in strikes]
    for s in strikes:
        k = min(n, int(rng.uniform(3.0, 5.0) * RATE))
        crack = highpass(white(rng, k), 1200) * decay(k, 0.002, 0.25)[:, None] * 0.7
        rumble = lowpass(brown(rng, k), 140) * (decay(k, 0.15, k / RATE) * smooth_curve(rng, k, 3, 0.3, 1.0))[:, None]
        place(out, crack + rumble * 1.6, int(s * RATE))
    return out


def traffic(rng: np.random.Generator, n: int, hits: Sequence[float]) -> np.ndarray:
    out = lowpass(brown(rng, n), 250) * 0.5 + bandpass(pink(rng, n), 300, 2500) * 0.12
    for t in _times(rng, n, 2.5, ()):
        k = int(rng.uniform(2.5, 4.0) * RATE)
        g = np.exp(-0.5 * ((np.arange(k) / k - 0.5) / 0.15) ** 2).astype(np.float32)
        car = bandpass(white(rng, k, 1)[:, 0], 90, 1800) * g
        sweep = np.linspace(-1, 1, k) * (1 if rng.random() < 0.5 else -1)
        place(out, pan(car * rng.uniform(0.6, 1.2), sweep), int((t - 1.0) * RATE))
    if rng.random() < 0.4:  # a distant horn now and then
        k = int(0.35 * RATE)
        horn = (np.sign(_tone(np.full(k, 415.0))) + np.sign(_tone(np.full(k, 523.0)))) * 0.08
        place(out, pan(lowpass(horn, 2000) * decay(k, 0.01, 0.6), rng.uniform(-0.6, 0.6)),
              int(rng.uniform(0.2, 0.8) * n))
    return out


def footsteps(rng: np.random.Generator, n: int, hits: Sequence[float]) -> np.ndarray:
    out = np.zeros((n, 2), np.float32)
    steps = list(hits) if hits else _times(rng, n, 0.55, (), jitter=0.06)
    for i, t in enumerate(steps):
        k = int(0.12 * RATE)
        thump = _tone(np.linspace(110, 70, k)) * decay(k, 0.002, 0.06)
        scuff = bandpass(white(rng, k, 1)[:, 0], 800, 4000) * decay(k, 0.004, 0.07) * 0.25
        place(out, pan((thump + scuff) * rng.uniform(0.7, 1.0), 0.15 if i % 2 else -0.15), int(t * RATE))
    return out


def engine(rng: np.random.Generator, n: int, hits: Sequence[float]) -> np.ndarray:
    rpm = smooth_curve(rng, n, 0.5, 0.85, 1.2) * rng.uniform(32, 50)
    phase = 2 * np.pi * np.cumsum(rpm) / RATE
    tone = sum(np.sin(h * phase) / h for h in range(1, 8)).astype(np.float32)
    pulses = ((0.5 + 0.5 * np.cos(phase)) ** 6).astype(np.float32)
    grit = lowpass(white(rng, n, 1)[:, 0], 900) * pulses
    mono = lowpass(tone * 0.6 + grit * 0.8, 1200)
    return np.stack([mono, np.roll(mono, int(0.0007 * RATE))], axis=1)


def applause(rng: np.random.Generator, n: int, hits: Sequence[float]) -> np.ndarray:
    swell = smooth_curve(rng, n, 0.5, 0.6, 1.0)[:, None]
    claps = _impulses(rng, n, 45, amp_sigma=0.4)
    for t in hits:  # rhythmic clapping on top, on the hits
        place(claps, _impulses(rng, int(0.03 * RATE), 600, amp_sigma=0.3), int(t * RATE))
    k = int(0.012 * RATE)
    burst = (rng.standard_normal(k) * decay(k, 0.0005, 0.012)).astype(np.float32)
    body = np.stack([fftconvolve(claps[:, c], burst)[:n] for c in (0, 1)], axis=1)
    return bandpass(body, 700, 5000) * swell


def crickets(rng: np.random.Generator, n: int, hits: Sequence[float]) -> np.ndarray:
    out = np.zeros((n, 2), np.float32)
    for _ in range(3):
        f, place_at = rng.uniform(4000, 5000), rng.uniform(-0.8, 0.8)
        for t in _times(rng, n, rng.uniform(0.5, 0.9), (), jitter=0.15):
            pos = int(t * RATE)
            for _ in range(int(rng.integers(3, 5))):
                k = int(0.015 * RATE)
                place(out, pan(_tone(np.full(k, f)) * np.hanning(k).astype(np.float32) * 0.4, place_at), pos)
                pos += int(0.03 * RATE)
    return out


SCENES: dict[str, Scene] = {
    "rain": rain, "wind": wind, "ocean_waves": waves, "flowing_water": stream, "fire": fire,
    "birds": birds, "thunder": thunder, "city_traffic": traffic, "crowd": crowd,
    "footsteps": footsteps, "engine": engine, "applause": applause, "crickets": crickets,
    "ambience": ambience,
}
