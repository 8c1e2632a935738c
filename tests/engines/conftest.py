"""Fixtures for engine tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from motion_support import save_png, textured


@pytest.fixture
def texture_png(tmp_path: Path) -> Callable[..., str]:
    def make(width: int = 320, height: int = 180, seed: int = 0, name: str = "in.png") -> str:
        return save_png(tmp_path / name, textured(width, height, seed))

    return make
