"""Vidu Q3 image-to-video on the job dialect (seed 000): flat per-second rates."""

from __future__ import annotations

from stillmotion.catalog import common
from stillmotion.catalog.entry import ModelEntry
from stillmotion.catalog.fields import ImageField
from stillmotion.catalog.pricing import Rate, rate

MODES = ("pro", "turbo")


def q3_rates() -> dict[str, dict[str, Rate]]:
    """Per second, as seed 000 prints them; the async Q3 models reuse these."""
    return {
        "pro": {"540p": rate("0.056"), "720p": rate("0.12"), "1080p": rate("0.128")},
        "turbo": {"540p": rate("0.032"), "720p": rate("0.048"), "1080p": rate("0.064")},
    }


def entries() -> list[ModelEntry]:
    return [
        ModelEntry(
            id="vidu/vidu-q3/image-to-video",
            task_type="VIDU_Q3_I2V",
            title="Vidu Q3 image-to-video",
            fields=(
                common.mode(MODES),
                common.job_prompt(5000),
                common.job_duration(16),
                ImageField(name="image", required=True, description="Reference image"),
                common.resolution(),
                common.seed(extension=True),
            ),
            rates=q3_rates(),
        ),
    ]
