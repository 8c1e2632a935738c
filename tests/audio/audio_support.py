"""Synthetic audio for the audio tests: click tracks, tones, files encoded in every format."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

RATE = 48_000
_CONTAINERS = {"wav": ("wav", "pcm_s16le", "s16"), "flac": ("flac", "flac", "s16"),
               "mp3": ("mp3", "libmp3lame", "fltp"), "m4a": ("ipod", "aac", "fltp")}


def click_track(bpm: float, seconds: float, offset: float, rate: int = RATE) -> tuple[np.ndarray, np.ndarray]:
    """Stereo clicks (short decaying noise bursts) every beat from `offset`; and their times."""
    n = int(seconds * rate)
    x = np.zeros(n, np.float32)
    times = np.arange(offset, seconds - 0.05, 60.0 / bpm)
    k = int(0.01 * rate)
    burst = (np.random.default_rng(1).standard_normal(k) * np.exp(-np.arange(k) / (0.002 * rate))).astype(np.float32)
    for t in times:
        i = int(round(t * rate))
        x[i: i + k] += 0.5 * burst[: n - i]
    return np.stack([x, x], axis=1), times


def tone(freq: float, seconds: float, rate: int = RATE, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    mono = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([mono, mono], axis=1)


def encode(samples: np.ndarray, fmt: str, rate: int = RATE) -> bytes:
    """`samples` ((n, 2) float32) as a file of format wav, flac, mp3 or m4a."""
    container_fmt, codec, sample_fmt = _CONTAINERS[fmt]
    buf = io.BytesIO()
    with av.open(buf, "w", format=container_fmt) as c:
        stream = c.add_stream(codec, rate=rate)
        stream.layout = "stereo"
        stream.format = sample_fmt
        frame_size = stream.codec_context.frame_size or 1024
        planar = np.ascontiguousarray(samples.T.astype(np.float32))
        for start in range(0, planar.shape[1], frame_size):
            block = planar[:, start: start + frame_size]
            if sample_fmt == "s16":
                data = (np.clip(block, -1, 1) * 32767).astype(np.int16).T.reshape(1, -1)
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format="s16", layout="stereo")
            else:
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="fltp", layout="stereo")
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = Fraction(1, rate)
            for packet in stream.encode(frame):
                c.mux(packet)
        for packet in stream.encode(None):
            c.mux(packet)
    return buf.getvalue()


def decode_track(path: Path) -> np.ndarray:
    """The audio of an MP4 as (n, 2) float32, cut to the length its stream declares."""
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        data = np.concatenate([f.to_ndarray() for f in c.decode(stream)], axis=1).T
        declared = int(round(float(stream.duration * stream.time_base) * RATE))
    return np.ascontiguousarray(data[:declared], np.float32)


def band_energy(x: np.ndarray, lo: float, hi: float, rate: int = RATE) -> float:
    """Fraction of the signal's energy between lo and hi Hz."""
    mono = x.mean(axis=1) if x.ndim == 2 else x
    spec = np.abs(np.fft.rfft(mono)) ** 2
    f = np.fft.rfftfreq(len(mono), 1 / rate)
    total = spec.sum()
    return float(spec[(f >= lo) & (f < hi)].sum() / total) if total > 0 else 0.0
