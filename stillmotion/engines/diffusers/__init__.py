"""The `diffusers` engine: open image-to-video models on a GPU (CPU for tests).

Importing this package does not import torch or diffusers; only the engine's child process
does (see runner.py and pipeline.py).
"""

from __future__ import annotations

from stillmotion.engines.diffusers.engine import DiffusersEngine
from stillmotion.engines.diffusers.kinds import KINDS, ModelKind, get_kind

__all__ = ["KINDS", "DiffusersEngine", "ModelKind", "get_kind"]
