"""Contract: the artifact store, on a local directory and on S3 (moto's server on loopback, real
HTTP through boto3). Also the `/files` proxy with Range on the S3 store."""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from stillmotion.settings import Settings
from stillmotion.storage import (
    ArtifactStore,
    LocalArtifactStore,
    StorageUnavailable,
    open_store,
)

SECRET = b"contract-secret"


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    if request.param == "local":
        settings = Settings(data_dir=tmp_path / "data", storage_url=None)
    else:
        bucket = request.getfixturevalue("s3_env")
        settings = Settings(data_dir=tmp_path / "data", storage_url=f"s3://{bucket}/some/prefix")
    return open_store(settings, SECRET)


def put(store: ArtifactStore, data: bytes, ext: str = "png") -> str:
    return store.put_input(data, hashlib.sha256(data).hexdigest(), ext)


def test_inputs_are_stored_once_by_content_and_read_back_as_local_files(store: ArtifactStore) -> None:
    data = os.urandom(300_000)
    key = put(store, data)
    assert key == f"inputs/{hashlib.sha256(data).hexdigest()}.png"
    assert put(store, data) == key and store.exists(key) and store.size(key) == len(data)
    with store.local_input(key) as path:
        assert path.is_file() and path.read_bytes() == data
    with pytest.raises(FileNotFoundError), store.local_input("inputs/absent.png"):
        pass


def test_a_workspace_is_published_under_its_prefix_and_read_in_ranges(store: ArtifactStore) -> None:
    video = os.urandom(9 * 1024 * 1024 + 123)  # above the multipart threshold on S3
    with store.workspace("outputs/job1/a1-aa") as out:
        (out / "video.mp4").write_bytes(video)
        (out / "cover.jpg").write_bytes(b"jpeg")
        keys = store.publish(out, "outputs/job1/a1-aa")
    assert sorted(keys) == ["outputs/job1/a1-aa/cover.jpg", "outputs/job1/a1-aa/video.mp4"]
    assert store.size("outputs/job1/a1-aa/video.mp4") == len(video)
    assert b"".join(store.read("outputs/job1/a1-aa/video.mp4")) == video
    assert b"".join(store.read("outputs/job1/a1-aa/video.mp4", 100, 199)) == video[100:200]
    assert b"".join(store.read("outputs/job1/a1-aa/video.mp4", len(video) - 5)) == video[-5:]
    assert store.size("outputs/job1/a1-aa/none.mp4") is None and not store.exists("outputs/job1/none")


def test_delete_prefix_removes_every_attempt_of_a_job_and_nothing_else(store: ArtifactStore) -> None:
    for prefix in ("outputs/j1/a1-x", "outputs/j1/a2-y", "outputs/j10/a1-z"):
        with store.workspace(prefix) as out:
            (out / "video.mp4").write_bytes(b"v")
            store.publish(out, prefix)
    assert store.delete_prefix("outputs/j1/a1-x") == 1
    assert store.delete_prefix("outputs/j1") == 1
    assert not store.exists("outputs/j1/a2-y/video.mp4")
    assert store.exists("outputs/j10/a1-z/video.mp4")  # a sibling sharing the name's start is kept
    assert store.delete_prefix("outputs/none") == 0


def test_signed_urls_verify_until_they_expire(store: ArtifactStore) -> None:
    url = store.sign("outputs/j/a1/video.mp4", ttl_s=60, now=1000.0)
    query = dict(part.split("=") for part in url.split("?", 1)[1].split("&"))
    assert "/files/outputs/j/a1/video.mp4?" in url
    assert store.verify("outputs/j/a1/video.mp4", int(query["expires"]), query["sig"], now=1000.0)
    assert not store.verify("outputs/j/a1/other.mp4", int(query["expires"]), query["sig"], now=1000.0)
    assert not store.verify("outputs/j/a1/video.mp4", int(query["expires"]), query["sig"], now=1061.0)


def test_keys_cannot_leave_the_store(store: ArtifactStore) -> None:
    with pytest.raises(ValueError):
        store.size("../secret")
    store.check()


def test_presigned_urls_fetch_the_object_from_the_store(s3_env: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, storage_url=f"s3://{s3_env}", result_urls="presigned")
    store = open_store(settings, SECRET)
    with store.workspace("outputs/j/a1") as out:
        (out / "video.mp4").write_bytes(b"0123456789")
        store.publish(out, "outputs/j/a1")
    url = store.sign("outputs/j/a1/video.mp4")
    assert "X-Amz-Signature=" in url  # SigV4
    got = httpx.get(url, headers={"Range": "bytes=2-4"})
    assert got.status_code == 206 and got.content == b"234"


def test_an_unreachable_store_raises_storage_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    for name, value in {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{dead}", "AWS_ACCESS_KEY_ID": "t",
                        "AWS_SECRET_ACCESS_KEY": "t", "AWS_DEFAULT_REGION": "us-east-1",
                        "AWS_MAX_ATTEMPTS": "1"}.items():
        monkeypatch.setenv(name, value)
    store = open_store(Settings(data_dir=tmp_path, storage_url="s3://b"), SECRET)
    with pytest.raises(StorageUnavailable):
        store.put_input(b"x", "00", "png")
    with pytest.raises(StorageUnavailable):
        store.check()


@pytest.mark.parametrize(("url", "mode", "message"), [
    ("ftp://x", "proxy", "file:// or s3://"),
    ("s3://", "proxy", "names no bucket"),
    (None, "presigned", "needs an s3://"),
    (None, "sometimes", "proxy or presigned"),
])
def test_bad_storage_settings_stop_the_start(url: Any, mode: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=message):
        open_store(Settings(data_dir=tmp_path, storage_url=url, result_urls=mode), SECRET)


def test_the_local_store_is_the_data_dir_by_default_or_a_file_url(tmp_path: Path) -> None:
    assert isinstance(open_store(Settings(data_dir=tmp_path), SECRET), LocalArtifactStore)
    other = open_store(Settings(data_dir=tmp_path, storage_url=f"file://{tmp_path / 'elsewhere'}"), SECRET)
    assert isinstance(other, LocalArtifactStore) and other.root == (tmp_path / "elsewhere").resolve()
