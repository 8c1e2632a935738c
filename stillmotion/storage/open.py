"""Choose the artifact store from `STILLMOTION_STORAGE_URL`: `file:///dir` (default: the data
dir) or `s3://bucket/prefix` (endpoint, region and credentials from the standard `AWS_*`
variables, `AWS_ENDPOINT_URL` for MinIO, R2, Ceph and the like)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from stillmotion.settings import Settings
from stillmotion.storage.base import ArtifactStore
from stillmotion.storage.local import LocalArtifactStore

RESULT_URL_MODES = ("proxy", "presigned")


def open_store(settings: Settings, secret: bytes) -> ArtifactStore:
    url = settings.storage_url or ""
    if settings.result_urls not in RESULT_URL_MODES:
        raise ValueError(f"STILLMOTION_RESULT_URLS must be proxy or presigned, got {settings.result_urls!r}")
    parts = urlsplit(url)
    if not url or parts.scheme == "file":
        if settings.result_urls == "presigned":
            raise ValueError("STILLMOTION_RESULT_URLS=presigned needs an s3:// STILLMOTION_STORAGE_URL")
        root = Path(unquote(parts.path)) if url else settings.data_dir
        return LocalArtifactStore(root, secret, settings.base_url, settings.url_ttl_s)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError(f"STILLMOTION_STORAGE_URL {url!r} names no bucket (s3://bucket/prefix)")
        from stillmotion.storage.s3 import S3ArtifactStore

        return S3ArtifactStore(parts.netloc, parts.path.strip("/"), secret, settings.base_url, settings.url_ttl_s,
                               presigned=settings.result_urls == "presigned")
    raise ValueError(f"STILLMOTION_STORAGE_URL must be file:// or s3://, got {url!r}")
