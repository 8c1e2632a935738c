"""`ArtifactStore` on S3-compatible object storage (AWS S3, MinIO, Cloudflare R2, Ceph RGW) via boto3.

Configuration is boto3's own: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION` /
`AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_S3`) for a non-AWS endpoint
(addressed path-style: `http://minio:9000/bucket/key`), profiles and instance roles. Nothing is held whole in memory: inputs are downloaded to a
temporary file, results uploaded from the worker's temporary directory with s3transfer
(multipart above 8 MiB, streamed from disk), and served by the API in ranged chunks.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from stillmotion.storage.base import StorageUnavailable, UrlSigner, media_type

CHUNK = 1 << 20
TRANSFER = TransferConfig(multipart_threshold=8 << 20, multipart_chunksize=8 << 20, max_concurrency=4)
_MISSING = {"404", "NoSuchKey", "NotFound"}


def _missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in _MISSING


@contextmanager
def _unavailable(what: str) -> Iterator[None]:
    """Connection failures and refusals become StorageUnavailable, naming what was tried."""
    try:
        yield
    except ClientError as exc:
        if _missing(exc):
            raise FileNotFoundError(what) from exc
        raise StorageUnavailable(f"object store refused {what}: {exc}") from exc
    except (BotoCoreError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise StorageUnavailable(f"object store unreachable for {what}: {exc}") from exc


class S3ArtifactStore(UrlSigner):
    def __init__(self, bucket: str, prefix: str, secret: bytes, base_url: str, ttl_s: int = 3600, *,
                 presigned: bool = False, client: Any = None) -> None:
        super().__init__(secret, base_url, ttl_s)
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.presigned = presigned
        # SigV4 everywhere (R2, MinIO and newer AWS regions refuse V2 presigned URLs); path-style
        # addressing on a custom endpoint (MinIO at http://minio:9000 has no per-bucket DNS names)
        custom = bool(os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"))
        config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30,
                        max_pool_connections=32, signature_version="s3v4",
                        s3={"addressing_style": "path" if custom else "auto"})
        self.client = client or boto3.client("s3", config=config)

    def _key(self, key: str) -> str:
        if key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"bad artifact key {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def put_input(self, data: bytes, sha256: str, ext: str) -> str:
        """Store an input once by content hash (resubmits of one image share one object)."""
        key = f"inputs/{sha256}.{ext}"
        if not self.exists(key):
            with _unavailable(key):
                self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=media_type(key))
        return key

    @contextmanager
    def local_input(self, key: str) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="stillmotion-in-") as tmp:
            path = Path(tmp) / Path(key).name
            with _unavailable(key):
                self.client.download_file(self.bucket, self._key(key), str(path), Config=TRANSFER)
            yield path

    @contextmanager
    def workspace(self, prefix: str) -> Iterator[Path]:
        tmp = Path(tempfile.mkdtemp(prefix="stillmotion-out-"))
        try:
            yield tmp
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def publish(self, directory: Path, prefix: str) -> list[str]:
        keys = []
        for file in sorted(p for p in directory.rglob("*") if p.is_file() and ".part." not in p.name):
            key = f"{prefix}/{file.relative_to(directory).as_posix()}"
            with _unavailable(key):
                self.client.upload_file(str(file), self.bucket, self._key(key), Config=TRANSFER,
                                        ExtraArgs={"ContentType": media_type(key)})
            keys.append(key)
        return keys

    def size(self, key: str) -> int | None:
        try:
            with _unavailable(key):
                head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except FileNotFoundError:
            return None
        return int(head["ContentLength"])

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key)}
        if start or end is not None:
            args["Range"] = f"bytes={start}-{'' if end is None else end}"
        with _unavailable(key):
            body = self.client.get_object(**args)["Body"]
        try:
            with _unavailable(key):
                yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def local_path(self, key: str) -> Path | None:
        return None

    def delete_prefix(self, prefix: str) -> int:
        root = self._key(prefix.rstrip("/")) + "/"
        done = 0
        with _unavailable(prefix):
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=root):
                batch = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if batch:
                    self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
                    done += len(batch)
        return done

    def sign(self, key: str, ttl_s: int | None = None, now: float | None = None) -> str:
        if not self.presigned:
            return super().sign(key, ttl_s, now)
        return str(self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._key(key)}, ExpiresIn=ttl_s or self.ttl_s))

    def check(self) -> None:
        key = self._key("outputs/.ready")
        with _unavailable("a readiness probe"):
            self.client.put_object(Bucket=self.bucket, Key=key, Body=b"")
            self.client.delete_object(Bucket=self.bucket, Key=key)
