"""A moto S3 server on loopback (real HTTP), shared by the storage tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.helpers import free_port


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def aws_env(endpoint: str) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture
def s3_env(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """AWS_* pointing at the moto server, and a fresh bucket; its name."""
    for name, value in aws_env(moto_url).items():
        monkeypatch.setenv(name, value)
    import boto3

    bucket = f"sm-{os.urandom(4).hex()}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return bucket
