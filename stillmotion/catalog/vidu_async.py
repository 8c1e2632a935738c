"""Vidu Q3 pro and turbo on the async-task dialect (seeds 003, 004): the body is the args.

The mode is fixed by the model, so both price with Q3's per-second rates for that mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stillmotion.catalog import common
from stillmotion.catalog.entry import ModelEntry
from stillmotion.catalog.fields import BoolField, ChoiceField, ImageListField, UrlField
from stillmotion.catalog.vidu_q3 import q3_rates
from stillmotion.domain import AudioSpec

POSITIONS = ("top-left", "top-right", "bottom-left", "bottom-right")
# compat: Vidu numbers watermark corners 1-4; JSON clients send them as ints or strings.
POSITION_NUMBERS: dict[Any, str] = {
    **{i: p for i, p in enumerate(POSITIONS, 1)},
    **{str(i): p for i, p in enumerate(POSITIONS, 1)},
}


def _images() -> ImageListField:
    return ImageListField(name="images", required=True, count=1,
                          description="Exactly one reference image")


def pro_audio(args: Mapping[str, Any]) -> AudioSpec:
    if "audio" in args:
        return AudioSpec(kind="music", music_url=args["audio"], is_rec=args.get("is_rec", False))
    return AudioSpec()


def turbo_audio(args: Mapping[str, Any]) -> AudioSpec:
    if args.get("audio"):
        return AudioSpec(kind=args.get("audio_type", "all"), is_rec=args.get("is_rec", False))
    return AudioSpec(kind="none")


def entries() -> list[ModelEntry]:
    pro_rates, turbo_rates = q3_rates()["pro"], q3_rates()["turbo"]
    return [
        ModelEntry(
            id="vidu-q3-pro-i2v",
            task_type="VIDU_Q3_PRO_I2V",
            title="Vidu Q3 Pro image-to-video",
            fixed_mode="pro",
            fields=(
                _images(),
                common.async_prompt(1500),
                common.async_duration(),
                common.resolution(),
                common.seed(),
                UrlField(name="audio", what="URL of background music",
                         description="Background music URL (mp3/wav/m4a/flac, at most 20 MB)"),
                ChoiceField(name="style", options=("general", "anime"), default="general",
                            description="general = realistic, anime = animated"),
                ChoiceField(name="aspect_ratio", options=("16:9", "9:16", "4:3", "3:4", "1:1"),
                            default="16:9", description="Output aspect ratio"),
                BoolField(name="watermark", default=False, description="Watermark the output"),
                UrlField(name="wm_url", what="URL of a watermark image",
                         description="Watermark image URL (at most 10 MB)"),
                ChoiceField(name="wm_position", options=POSITIONS, aliases=POSITION_NUMBERS,
                            default="bottom-right",
                            description="Watermark corner; 1-4 = top-left, top-right, "
                                        "bottom-left, bottom-right"),
                common.is_rec(),
                common.off_peak(),
            ),
            rates={"pro": pro_rates},
            audio=pro_audio,
        ),
        ModelEntry(
            id="vidu-q3-turbo-i2v",
            task_type="VIDU_Q3_TURBO_I2V",
            title="Vidu Q3 Turbo image-to-video",
            fixed_mode="turbo",
            fields=(
                _images(),
                common.async_prompt(5000),
                common.async_duration(),
                common.resolution(),
                common.seed(),
                BoolField(name="audio", default=True, description="Generate audio with the video"),
                ChoiceField(name="audio_type", options=("all", "speech_only", "sound_effect_only"),
                            default="all", description="Used when audio is true"),
                common.is_rec(),
                common.off_peak(),
            ),
            rates={"turbo": turbo_rates},
            audio=turbo_audio,
        ),
    ]
