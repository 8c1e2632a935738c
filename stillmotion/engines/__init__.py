"""Engines turn a GenerationSpec into frames. They never see HTTP, the database or wire names."""

from __future__ import annotations

from stillmotion.engines.base import Engine, RenderContext


def get_engine(name: str) -> Engine:
    """Build an engine by name, importing its (possibly heavy) module only now."""
    if name == "motion":
        from stillmotion.engines.motion import MotionEngine

        return MotionEngine()
    raise ValueError(f"unknown engine {name!r}")


__all__ = ["Engine", "RenderContext", "get_engine"]
