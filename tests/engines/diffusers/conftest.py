"""Session fixtures: tiny diffusers pipelines built once and saved to a temporary directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("diffusers", reason="the gpu extra (stillmotion[gpu]) is not installed")

from tiny_pipelines import save_tiny  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """kind -> a save_pretrained directory of that kind's tiny pipeline (built on first use)."""
    root = tmp_path_factory.mktemp("tiny-models")
    built: dict[str, Path] = {}

    def get(kind: str) -> Path:
        if kind not in built:
            built[kind] = save_tiny(kind, root / kind)
        return built[kind]

    return get
