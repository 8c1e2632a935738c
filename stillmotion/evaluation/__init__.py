"""Quality metrics for clips (used by `stillmotion eval`, the tests and the benchmark).

Imports stay light: OpenCV and PyAV load when a metric runs, not when the CLI starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stillmotion.evaluation.report import VideoReport

__all__ = ["evaluate_video"]


def evaluate_video(video: Any, **kwargs: Any) -> VideoReport:
    """See stillmotion.evaluation.report.evaluate_video."""
    from stillmotion.evaluation.report import evaluate_video as run

    return run(video, **kwargs)
