"""Vidu Q2 on the job dialect (seeds 001, 002): start price, 2 s exceptions, per-second rate."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stillmotion.catalog import common
from stillmotion.catalog.entry import ModelEntry, RefuseWhen, RequiredWhen
from stillmotion.catalog.fields import BoolField, ImageField, VoiceField
from stillmotion.catalog.pricing import Rate, rate
from stillmotion.domain import AudioSpec

MODES = ("turbo", "pro", "pro-fast")
# The seeds state no prompt limit for Q2; Q3's 5000 is the family's documented ceiling.
PROMPT_MAX = 5000

NO_540P_IN_PRO_FAST = RefuseWhen(field="resolution", value="540p", when="mode", equals="pro-fast",
                                 message="540p is not supported in pro-fast mode")


def q2_rates() -> dict[str, dict[str, Rate]]:
    """rate(per_sec, start, two_sec) as seeds 001/002 print them; pro-fast has no 540p."""
    return {
        "turbo": {"540p": rate("0.01", "0.03"), "720p": rate("0.05", "0.04", "0.05"),
                  "1080p": rate("0.05", "0.175")},
        "pro": {"540p": rate("0.025", "0.04", "0.05"), "720p": rate("0.05", "0.075"),
                "1080p": rate("0.075", "0.275")},
        "pro-fast": {"720p": rate("0.01", "0.04"), "1080p": rate("0.02", "0.08")},
    }


def q2_audio(args: Mapping[str, Any]) -> AudioSpec:
    if args.get("generate_audio"):
        return AudioSpec(kind="all", voice_id=args.get("voice_id"))
    return AudioSpec()


def entries() -> list[ModelEntry]:
    return [
        ModelEntry(
            id="vidu/vidu-q2/image-to-video",
            task_type="VIDU_Q2_I2V",
            title="Vidu Q2 image-to-video",
            fields=(
                common.mode(MODES),
                common.job_prompt(PROMPT_MAX),
                common.job_duration(10),
                ImageField(name="image", required=True, description="Reference image"),
                common.resolution(),
                # compat: the page lists the options as "true"/"false", so strings are accepted.
                BoolField(name="generate_audio", default=False, strings=True,
                          description="Generate original audio; requires voice_id"),
                VoiceField(name="voice_id",
                           description="Timbre of the voice (GET /v1/voices lists the ids); "
                                       "required when generate_audio is true"),
                common.seed(extension=True),
            ),
            rules=(
                NO_540P_IN_PRO_FAST,
                RequiredWhen(field="voice_id", when="generate_audio", equals=True,
                             message="is required when generate_audio is true"),
            ),
            rates=q2_rates(),
            audio=q2_audio,
        ),
        ModelEntry(
            id="vidu/vidu-q2/start-end-to-video",
            task_type="VIDU_Q2_START_END",
            title="Vidu Q2 start-end-to-video",
            fields=(
                common.mode(MODES),
                common.job_prompt(PROMPT_MAX),
                common.job_duration(8),
                ImageField(name="image", required=True, description="Start frame"),
                ImageField(name="image_tail", required=True, description="End frame"),
                common.resolution(),
                common.seed(extension=True),
            ),
            rules=(NO_540P_IN_PRO_FAST,),
            rates=q2_rates(),
        ),
    ]
