"""Background music from a URL: fetched through the SSRF guard, decoded with PyAV, fitted.

The file is fetched when the job renders (not at submit), under the same guards as images and
at most `settings.max_audio_bytes` (20 MB). Anything wrong with it (refused address, HTTP
error, too large, not audio, an unsupported container) raises a GenerationFailed subclass
whose message names the `audio` field, so the job fails visibly and is refunded.
Fitting: leading silence skipped, then trimmed to the clip, or looped with a crossfaded seam
when shorter; faded in and out.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from stillmotion.audio.dsp import RATE, fade, make_loop, tile
from stillmotion.errors import GenerationFailed, StillmotionError
from stillmotion.media.netguard import fetch_url, size_text
from stillmotion.settings import Settings

# compat: the only model with a music URL (Vidu Q3 pro) calls it `audio`; errors name that field.
MUSIC_FIELD = "audio"
# PyAV demuxer name -> the format the seed lists (mp3, wav, m4a, flac)
FORMATS = {"mp3": "mp3", "wav": "wav", "mov,mp4,m4a,3gp,3g2,mj2": "m4a", "flac": "flac"}
SILENCE = 10 ** (-45 / 20)
MAX_LEAD_SILENCE_S = 3.0


class AudioDownloadFailure(GenerationFailed):
    """The music URL could not be fetched (refused, unreachable, HTTP error, too large)."""

    reason = "AudioDownloadFailure"


class AudioInvalid(GenerationFailed):
    """The music file is not decodable audio in a supported format."""

    reason = "AudioInvalid"


@dataclass
class Decoded:
    samples: np.ndarray  # (n, 2) float32 at 48 kHz, possibly only the head of a long file
    format: str
    seconds: float  # of the whole file, as its container states it (or what was decoded)


def fetch_music(url: str, settings: Settings) -> bytes:
    """Download the music file (blocking; runs in a worker thread, never on an event loop)."""
    try:
        return asyncio.run(fetch_url(url, field=MUSIC_FIELD, settings=settings, max_bytes=settings.max_audio_bytes))
    except StillmotionError as exc:
        raise AudioDownloadFailure(exc.message) from exc


def decode_music(data: bytes, max_seconds: float) -> Decoded:
    """Decode at most `max_seconds` of the first audio stream, as 48 kHz stereo float32."""
    import av

    limit = int(max_seconds * RATE)
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            fmt = container.format.name
            if fmt not in FORMATS or not container.streams.audio:
                what = "has no audio stream" if not container.streams.audio else f"is {fmt}"
                raise AudioInvalid(f"not a supported audio file (mp3, wav, m4a or flac): the file {what}",
                                   field=MUSIC_FIELD)
            stream = container.streams.audio[0]
            seconds = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else (
                container.duration / 1_000_000 if container.duration else 0.0)
            chunks = _decode(container, stream, limit)
    except av.error.FFmpegError as exc:
        raise AudioInvalid(f"not a readable audio file (mp3, wav, m4a or flac): {exc.strerror or exc}",
                           field=MUSIC_FIELD) from exc
    samples = np.concatenate(chunks, axis=1).T if chunks else np.zeros((0, 2), np.float32)
    if samples.shape[0] < RATE // 10 or float(np.abs(samples).max(initial=0.0)) < SILENCE:
        raise AudioInvalid("the file holds no audible audio", field=MUSIC_FIELD)
    return Decoded(np.ascontiguousarray(samples, np.float32), FORMATS[fmt], seconds or samples.shape[0] / RATE)


def _decode(container: Any, stream: Any, limit: int) -> list[np.ndarray]:
    import av

    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=RATE)
    chunks: list[np.ndarray] = []
    total = 0
    for frame in container.decode(stream):
        for out in resampler.resample(frame):
            chunks.append(out.to_ndarray())
            total += out.samples
        if total >= limit:
            return chunks
    chunks += [out.to_ndarray() for out in resampler.resample(None)]
    return chunks


def fit_music(decoded: Decoded, n: int) -> tuple[np.ndarray, dict[str, Any]]:
    """The music as long as the clip: trimmed, or looped with a crossfade; faded in and out."""
    x = decoded.samples
    loud = np.flatnonzero(np.abs(x).max(axis=1) > SILENCE)
    skip = min(int(loud[0]), int(MAX_LEAD_SILENCE_S * RATE)) if loud.size else 0
    x = x[skip:]
    facts: dict[str, Any] = {"format": decoded.format, "source_s": round(decoded.seconds, 3),
                             "skipped_silence_s": round(skip / RATE, 3)}
    if len(x) >= n:
        out = x[:n].copy()
        facts.update(fit="trimmed", loops=1)
    else:
        xfade = min(RATE, len(x) // 4)
        loop = make_loop(x, xfade)
        out = tile(loop, n)
        facts.update(fit="looped", loops=-(-n // len(loop)), loop_s=round(len(loop) / RATE, 3),
                     crossfade_s=round(xfade / RATE, 3))
    seconds = n / RATE
    fade_in, fade_out = min(0.5, 0.1 * seconds), min(1.5, 0.2 * seconds)
    facts.update(fade_in_s=round(fade_in, 3), fade_out_s=round(fade_out, 3))
    return fade(out, fade_in, fade_out), facts


def load_music(url: str, n: int, settings: Settings) -> tuple[np.ndarray, dict[str, Any]]:
    """Fetch, decode and fit the music for a clip of `n` samples at 48 kHz."""
    data = fetch_music(url, settings)
    decoded = decode_music(data, n / RATE + MAX_LEAD_SILENCE_S + 1.0)
    samples, facts = fit_music(decoded, n)
    facts["bytes"] = len(data)
    facts["limit"] = size_text(settings.max_audio_bytes)
    return samples, facts
