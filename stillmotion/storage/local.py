"""Files under the data dir, addressed by keys like `inputs/<sha256>.png` or `outputs/<job>/video.mp4`.

Keys are relative paths so several hosts sharing one data dir (and one database) agree on
them; URLs are signed with an HMAC over key and expiry, so any host can serve any result.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path
from urllib.parse import quote, urlencode

from stillmotion.settings import Settings


def load_secret(settings: Settings) -> bytes:
    """The URL-signing secret: from settings, else a file created once in the data dir."""
    if settings.secret:
        return settings.secret.encode()
    path = settings.data_dir / "secret"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(secrets.token_hex(32))
        try:
            os.link(tmp, path)  # atomic create-if-absent: two processes agree on one secret
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text().strip().encode()


class ArtifactStore:
    def __init__(self, root: Path, secret: bytes, base_url: str, ttl_s: int = 3600) -> None:
        self.root = root.resolve()
        self.secret = secret
        self.base_url = base_url.rstrip("/")
        self.ttl_s = ttl_s
        (self.root / "inputs").mkdir(parents=True, exist_ok=True)
        (self.root / "outputs").mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        """Absolute path of a key; refuses keys that would leave the root."""
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"bad artifact key {key!r}")
        return path

    def put_input(self, data: bytes, sha256: str, ext: str) -> str:
        """Store an input once by content hash (resubmits of one image share one file)."""
        key = f"inputs/{sha256}.{ext}"
        path = self.path(key)
        if not path.exists():
            tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
            try:
                tmp.write_bytes(data)
                os.replace(tmp, path)
            except BaseException:  # a full disk leaves no partial file behind
                tmp.unlink(missing_ok=True)
                raise
        return key

    def output_dir(self, job_id: str) -> Path:
        path = self.path(f"outputs/{job_id}")
        path.mkdir(parents=True, exist_ok=True)
        return path

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
        return hmac.compare_digest(self._signature(key, expires), sig)
