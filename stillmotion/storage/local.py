"""Files under the data dir, addressed by keys like `inputs/<sha256>.png` or `outputs/<job>/<attempt>/video.mp4`.

Keys are relative paths so several hosts sharing one data dir (and one database) agree on
them; URLs are signed with an HMAC over key and expiry, so any host can serve any result.
A worker renders straight into its attempt's directory (nothing to upload), and the API serves
files with sendfile and HTTP Range.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stillmotion.settings import Settings
from stillmotion.storage.base import UrlSigner

CHUNK = 1 << 20


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


class LocalArtifactStore(UrlSigner):
    """`ArtifactStore` on a local (or shared, NFS) directory."""

    def __init__(self, root: Path, secret: bytes, base_url: str, ttl_s: int = 3600) -> None:
        super().__init__(secret, base_url, ttl_s)
        self.root = root.resolve()
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


    @contextmanager
    def local_input(self, key: str) -> Iterator[Path]:
        path = self.path(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        yield path

    @contextmanager
    def workspace(self, prefix: str) -> Iterator[Path]:
        """The attempt's own directory: files land where they are served from."""
        path = self.path(prefix)
        path.mkdir(parents=True, exist_ok=True)
        yield path

    def publish(self, directory: Path, prefix: str) -> list[str]:
        target = self.path(prefix)
        keys = []
        for file in sorted(p for p in directory.rglob("*") if p.is_file()):
            rel = file.relative_to(directory).as_posix()
            if directory.resolve() != target:
                dest = target / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(file, dest)
            keys.append(f"{prefix}/{rel}")
        return keys

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int | None:
        try:
            return self.path(key).stat().st_size if self.exists(key) else None
        except OSError:
            return None

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        with open(self.path(key), "rb") as fh:
            fh.seek(start)
            left = None if end is None else end - start + 1
            while left is None or left > 0:
                chunk = fh.read(CHUNK if left is None else min(CHUNK, left))
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk

    def local_path(self, key: str) -> Path | None:
        return self.path(key)

    def delete_prefix(self, prefix: str) -> int:
        path = self.path(prefix.rstrip("/"))
        if not path.is_dir():
            return 0
        count = sum(1 for p in path.rglob("*") if p.is_file())
        shutil.rmtree(path, ignore_errors=True)
        return count

    def check(self) -> None:
        """Write, sync and delete 4 KB (an empty file needs only an inode: it passes on a full disk)."""
        probe = self.path(f"outputs/.ready-{secrets.token_hex(4)}")
        try:
            with open(probe, "wb") as f:
                f.write(b"\0" * 4096)
                f.flush()
                os.fsync(f.fileno())
        finally:
            probe.unlink(missing_ok=True)


