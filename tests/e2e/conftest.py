"""Fixtures the end-to-end modules share."""

from __future__ import annotations

import pytest

from tests.e2e.receiver import Receiver


@pytest.fixture(scope="module")
def hooks():
    """A loopback webhook receiver that records every delivery, one per test module."""
    receiver = Receiver()
    yield receiver
    receiver.close()
