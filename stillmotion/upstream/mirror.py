"""Bring an upstream result home: download through the SSRF guard with size and time limits,
decode it (PyAV) to check it is a video, store it where the worker stores its own."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stillmotion.errors import StillmotionError
from stillmotion.media.netguard import fetch_url
from stillmotion.media.video import probe, read_frames, write_cover
from stillmotion.settings import Settings
from stillmotion.storage import ArtifactStore

MAX_COVER_BYTES = 20 * 1024 * 1024


class NotAVideo(Exception):
    """The upstream's result does not decode as a video."""


def download(url: str, settings: Settings, max_bytes: int, field: str) -> bytes:
    """Raises StillmotionError (refused address, HTTP error, timeout, too large)."""
    limited = settings.model_copy(update={"download_timeout_s": settings.upstream_download_timeout_s})
    return asyncio.run(fetch_url(url, field=field, settings=limited, max_bytes=max_bytes))


Fetch = Callable[[str, int, str], bytes]  # (url, max bytes, field) -> body


def mirror(prefix: str, spec: dict[str, Any], video_url: str, cover_url: str | None,
           settings: Settings, artifacts: ArtifactStore,
           fetch: Fetch | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Download, check and store under `prefix` (this hop's own key, so a late mirror never
    replaces another's); the job's `result` and the metadata of the check. `fetch`: how to
    download (default: through the SSRF guard)."""
    fetch = fetch or (lambda url, max_bytes, field: download(url, settings, max_bytes, field))
    data = fetch(video_url, settings.upstream_max_result_bytes, "result")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        video = out / "video.mp4"
        video.write_bytes(data)
        try:
            info = probe(video)
        except Exception as exc:  # PyAV raises its own error types for every kind of bad file
            raise NotAVideo(f"the result is not a video ({type(exc).__name__}: {str(exc)[:200]})") from None
        if info.frames < 1 or info.width < 1 or info.height < 1:
            raise NotAVideo(f"the result has no picture ({info.frames} frames, {info.width}x{info.height})")
        cover = out / "cover.jpg"
        if not _fetch_cover(cover_url, cover, fetch):
            write_cover(next(read_frames(video)), cover)
        artifacts.publish(out, prefix)  # streamed to the store (copied into place when local)
    wanted = float(spec.get("duration") or 0)
    duration: float = spec.get("duration") if abs(info.duration - wanted) < 0.5 else round(info.duration, 2)
    result = {
        "video": f"{prefix}/video.mp4", "cover": f"{prefix}/cover.jpg",
        "duration": duration, "width": info.width, "height": info.height,
        "fps": round(info.fps) if info.fps and abs(info.fps - round(info.fps)) < 0.01 else info.fps,
        "frames": info.frames, "has_audio": info.has_audio,
    }
    checked = {"codec": info.codec, "width": info.width, "height": info.height, "frames": info.frames,
               "duration_s": round(info.duration, 3), "bytes": len(data)}
    return result, checked


def _fetch_cover(url: str | None, path: Path, fetch: Fetch) -> bool:
    """The upstream's cover when it gives a JPEG; else False (made from the first frame)."""
    if not url:
        return False
    try:
        data = fetch(url, MAX_COVER_BYTES, "cover")
    except StillmotionError:
        return False
    if not data.startswith(b"\xff\xd8\xff"):  # stored as cover.jpg
        return False
    path.write_bytes(data)
    return True
