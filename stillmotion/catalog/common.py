"""Field builders shared by the families, so a limit written once reads the same everywhere."""

from __future__ import annotations

from stillmotion.catalog.fields import BoolField, ChoiceField, IntField, StrField

RESOLUTIONS = ("540p", "720p", "1080p")
SEED_MAX = 2_147_483_647


def resolution() -> ChoiceField:
    return ChoiceField(name="resolution", options=RESOLUTIONS, default="720p",
                       description="Output video resolution; Np is the short side")


def job_duration(maximum: int) -> IntField:
    # compat: the job dialect's pages type duration as a string; "5" and 5 both work.
    return IntField(name="duration", minimum=1, maximum=maximum, default=5, digit_strings=True,
                    description="Video length in seconds")


def async_duration() -> IntField:
    return IntField(name="duration", minimum=1, maximum=16, default=5,
                    description="Video length in seconds")


def job_prompt(max_length: int) -> StrField:
    return StrField(name="prompt", required=True, non_blank=True, max_length=max_length,
                    description="Text prompt describing the motion")


def async_prompt(max_length: int) -> StrField:
    return StrField(name="prompt", default="", max_length=max_length,
                    description="Motion description; may be empty")


def mode(options: tuple[str, ...]) -> ChoiceField:
    return ChoiceField(name="mode", options=options, default="pro",
                       description="Video generation mode")


def seed(*, extension: bool = False) -> IntField:
    text = "Random seed for reproducibility; 0 or omitted = random"
    if extension:
        text += " (stillmotion extension: the hosted job dialect has no seed)"
    return IntField(name="seed", minimum=0, maximum=SEED_MAX, description=text)


def is_rec() -> BoolField:
    return BoolField(name="is_rec", default=False,
                     description="Match the audio's rhythm to the video's motion")


def off_peak() -> BoolField:
    return BoolField(name="off_peak", default=False,
                     description="Off-peak: cheaper, runs when the service is idle")
