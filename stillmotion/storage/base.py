"""What every artifact store offers: inputs in, outputs out, result URLs, retention.

Keys are relative paths (`inputs/<sha256>.png`, `outputs/<job>/<attempt>/video.mp4`), the same
on every host, so a key stored in the database means one object whichever host reads it. Workers
never hold a whole clip in memory: they read inputs from a local file (`local_input`) and render
into a local directory (`workspace`) that `publish` streams to the store.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlencode

from stillmotion.errors import StorageFailure

MEDIA_TYPES = {".mp4": "video/mp4", ".jpg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
               ".m4a": "audio/mp4", ".wav": "audio/wav"}


class StorageUnavailable(StorageFailure):
    """The store could not be reached or refused the request (the caller retries or fails visibly)."""


def media_type(key: str) -> str:
    return MEDIA_TYPES.get(Path(key).suffix.lower(), "application/octet-stream")


class ArtifactStore(Protocol):
    ttl_s: int

    def put_input(self, data: bytes, sha256: str, ext: str) -> str:
        """Store an input once by content hash; its key."""

    def local_input(self, key: str) -> AbstractContextManager[Path]:
        """A local file holding the object while the context lasts (the file itself when local)."""

    def workspace(self, prefix: str) -> AbstractContextManager[Path]:
        """A local directory to render one attempt's files into, `publish`ed under `prefix`."""

    def publish(self, directory: Path, prefix: str) -> list[str]:
        """Make the directory's files objects under `prefix` (streamed); their keys."""

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int | None:
        """Bytes of the object; None when absent."""

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The object's bytes `start..end` (inclusive), in chunks."""

    def local_path(self, key: str) -> Path | None:
        """The object's file when the store is a local directory (served with sendfile), else None."""

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix/` (retention, cancel, a refused attempt); how many."""

    def sign(self, key: str, ttl_s: int | None = None, now: float | None = None) -> str:
        """A URL a client can fetch the result from until it expires."""

    def verify(self, key: str, expires: int, sig: str, now: float | None = None) -> bool: ...

    def check(self) -> None:
        """Raise when the store cannot be written (readiness)."""


class UrlSigner:
    """stillmotion's own result URLs: `/files/<key>?expires=..&sig=..`, an HMAC over key and
    expiry, so any API host with the secret serves any result (proxied from the store)."""

    def __init__(self, secret: bytes, base_url: str, ttl_s: int = 3600) -> None:
        self.secret = secret
        self.base_url = base_url.rstrip("/")
        self.ttl_s = ttl_s

    def _signature(self, key: str, expires: int) -> str:
        msg = f"{key}\n{expires}".encode()
        return hmac.new(self.secret, msg, hashlib.sha256).hexdigest()[:32]

    def sign(self, key: str, ttl_s: int | None = None, now: float | None = None) -> str:
        expires = int((now if now is not None else time.time()) + (ttl_s or self.ttl_s))
        query = urlencode({"expires": expires, "sig": self._signature(key, expires)})
        return f"{self.base_url}/files/{quote(key)}?{query}"

    def verify(self, key: str, expires: int, sig: str, now: float | None = None) -> bool:
        if expires < (now if now is not None else time.time()):
            return False
        return sig.isascii() and hmac.compare_digest(self._signature(key, expires), sig)
