"""Fixtures shared by the test packages: a loopback file server and a real service."""

from __future__ import annotations

import pytest

from tests.helpers import FileServer, Service


@pytest.fixture(scope="module")
def files():
    """A loopback HTTP server for inputs (images, audio, marks) and webhook receivers."""
    server = FileServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """A real `stillmotion serve` with private URLs allowed (inputs and callbacks on loopback)."""
    svc = Service(tmp_path_factory.mktemp("svc") / "data", "--workers", "1")
    yield svc
    svc.stop()
