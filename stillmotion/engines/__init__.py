"""Engines turn a GenerationSpec into frames. They never see HTTP, the database or wire names."""

from __future__ import annotations

from stillmotion.engines.base import Engine, RenderContext
from stillmotion.settings import Settings


def get_engine(name: str, settings: Settings | None = None) -> Engine:
    """Build an engine by name, importing its (possibly heavy) module only now."""
    if name == "motion":
        from stillmotion.engines.motion import MotionEngine

        settings = settings or Settings.defaults()  # never a second read of the environment
        return MotionEngine(settings.depth_model_dir, workers=settings.render_threads or None)
    if name == "diffusers":
        from stillmotion.engines.diffusers import DiffusersEngine

        return DiffusersEngine.from_settings(settings)
    raise ValueError(f"unknown engine {name!r}")


__all__ = ["Engine", "RenderContext", "get_engine"]
