"""The voice table: every valid `voice_id` and how espeak-ng speaks it.

Plain data, importable without espeak-ng, so the catalog can validate `voice_id` at submit and
`GET /v1/voices` can list the ids without loading the speech library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Voice:
    """One selectable voice: an espeak-ng language voice plus a timbre variant and prosody.

    rate: words per minute at which lines are first tried (fitting may speed them up).
    pitch: espeak-ng base pitch 0-100 (50 is the voice's own); range: pitch movement 0-100.
    """

    id: str
    language: str  # BCP 47 tag
    gender: str  # female | male
    espeak: str  # espeak-ng language voice name
    variant: str  # espeak-ng variant (voices/!v) giving the timbre
    rate: int
    pitch: int
    range: int
    description: str

    @property
    def espeak_name(self) -> str:
        return f"{self.espeak}+{self.variant}"

    @property
    def whisper_name(self) -> str:
        """The same language voice, whispered (for lines the prompt says are whispered)."""
        return f"{self.espeak}+{'whisperf' if self.gender == 'female' else 'whisper'}"

    def to_dict(self) -> dict[str, Any]:
        """The public description (GET /v1/voices): no engine internals."""
        return {"id": self.id, "language": self.language, "gender": self.gender,
                "rate_wpm": self.rate, "pitch": self.pitch, "description": self.description}


VOICES: tuple[Voice, ...] = (
    Voice("female-1", "en-US", "female", "en-us", "f3", 165, 55, 50, "English (US), female, warm, mid pitch"),
    Voice("female-2", "en-US", "female", "en-us", "f5", 175, 64, 60, "English (US), female, bright and lively"),
    Voice("female-3", "en-GB", "female", "en-gb-x-rp", "f2", 160, 54, 45, "English (UK, RP), female, measured"),
    Voice("female-4", "en-US", "female", "en-us", "f4", 170, 70, 55, "English (US), female, light and young"),
    Voice("male-1", "en-US", "male", "en-us", "m3", 160, 34, 40, "English (US), male, deep"),
    Voice("male-2", "en-US", "male", "en-us", "m1", 165, 45, 45, "English (US), male, calm"),
    Voice("male-3", "en-GB", "male", "en-gb-x-rp", "m7", 158, 40, 40, "English (UK, RP), male, low and even"),
    Voice("male-4", "en-US", "male", "en-us", "m2", 185, 50, 60, "English (US), male, energetic"),
    Voice("narrator", "en-US", "male", "en-us", "m6", 150, 40, 35, "English (US), male narrator, slow and steady"),
    Voice("elder-female", "en-US", "female", "en-us", "grandma", 145, 50, 40, "English (US), older woman"),
    Voice("elder-male", "en-US", "male", "en-us", "grandpa", 140, 42, 40, "English (US), older man"),
    Voice("child", "en-US", "female", "en-us", "f4", 175, 88, 65, "English (US), child-like, high pitch"),
    Voice("es-female-1", "es-ES", "female", "es", "f3", 170, 55, 50, "Spanish (Spain), female"),
    Voice("es-male-1", "es-ES", "male", "es", "m3", 165, 40, 45, "Spanish (Spain), male"),
    Voice("fr-female-1", "fr-FR", "female", "fr", "f2", 165, 56, 50, "French, female"),
    Voice("fr-male-1", "fr-FR", "male", "fr", "m1", 160, 42, 45, "French, male"),
    Voice("de-female-1", "de-DE", "female", "de", "f3", 160, 55, 50, "German, female"),
    Voice("de-male-1", "de-DE", "male", "de", "m3", 155, 38, 40, "German, male"),
    Voice("it-female-1", "it-IT", "female", "it", "f3", 165, 56, 50, "Italian, female"),
    Voice("pt-br-female-1", "pt-BR", "female", "pt-br", "f3", 165, 55, 50, "Portuguese (Brazil), female"),
    Voice("zh-female-1", "zh-CN", "female", "cmn", "f3", 150, 55, 55, "Mandarin Chinese, female"),
)

BY_ID: dict[str, Voice] = {v.id: v for v in VOICES}
DEFAULT_FEMALE = "female-1"
DEFAULT_MALE = "male-2"


def voice_ids() -> list[str]:
    return [v.id for v in VOICES]


def get_voice(voice_id: str) -> Voice:
    """The voice for `voice_id`; KeyError names the valid ids (the catalog refuses earlier)."""
    try:
        return BY_ID[voice_id]
    except KeyError:
        raise KeyError(f"unknown voice_id {voice_id!r}; valid: {', '.join(voice_ids())}") from None
