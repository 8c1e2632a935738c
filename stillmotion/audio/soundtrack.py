"""One clip's soundtrack from its spec: what `AudioSpec.kind` asks for, mixed and measured.

Two steps, because they happen at different moments of a render:

- `prepare_music(spec, settings)`, before the engine runs: fetch and fit the music and track
  its beats, so an is_rec render can hand the beats to the engine (ctx.beats).
- `make_soundtrack(spec, metadata=..., ...)`, once the engine has reported its plan (the
  motion metadata is set before its first frame): speech, effects and music, mixed.

kind -> layers: "all" speech + effects; "speech_only" speech; "sound_effect_only" effects;
"music" the music bed + effects + speech. Every track has a quiet room tone underneath. An
engine that made its own audio (ctx.audio) supplies the lead layer instead of speech+effects.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from math import gcd
from typing import Any

import numpy as np

from stillmotion.audio.beats import Beats, track_beats
from stillmotion.audio.dialogue import find_dialogue
from stillmotion.audio.dsp import RATE
from stillmotion.audio.effects import Motion, effects_layer
from stillmotion.audio.mix import mix
from stillmotion.audio.music import load_music
from stillmotion.audio.scenes import room_tone
from stillmotion.audio.speech import speak_lines
from stillmotion.domain import GenerationSpec
from stillmotion.settings import Settings

SPEECH_KINDS = {"all", "speech_only", "music"}
EFFECT_KINDS = {"all", "sound_effect_only", "music"}


@dataclass
class Music:
    samples: np.ndarray  # (n, 2) at 48 kHz, fitted to the clip
    facts: dict[str, Any]
    beats: Beats


@dataclass
class Soundtrack:
    samples: np.ndarray  # (n, 2) float32
    rate: int
    facts: dict[str, Any] = field(default_factory=dict)


def clip_samples(spec: GenerationSpec) -> int:
    """Samples at 48 kHz in exactly the video's length (num_frames / fps)."""
    return spec.num_frames * RATE // spec.fps


def prepare_music(spec: GenerationSpec, settings: Settings) -> Music | None:
    """The fitted music bed and its beats, or None when the spec has no music URL."""
    if spec.audio.kind == "none" or not spec.audio.music_url:
        return None
    samples, facts = load_music(spec.audio.music_url, clip_samples(spec), settings)
    return Music(samples, facts, track_beats(samples))


def _engine_track(audio: tuple[np.ndarray, int], n: int) -> np.ndarray:
    """An engine's own (samples, rate) as 48 kHz stereo of exactly n samples."""
    from scipy.signal import resample_poly

    samples, rate = audio
    x = np.asarray(samples, np.float32)
    x = x[:, None] if x.ndim == 1 else x
    x = np.repeat(x[:, :1], 2, axis=1) if x.shape[1] == 1 else x[:, :2]
    if rate != RATE:
        g = gcd(RATE, int(rate))
        x = resample_poly(x, RATE // g, int(rate) // g, axis=0).astype(np.float32)
    return np.pad(x, ((0, max(0, n - len(x))), (0, 0)))[:n]


def make_soundtrack(
    spec: GenerationSpec,
    *,
    metadata: dict[str, Any],
    engine_audio: tuple[np.ndarray, int] | None = None,
    music: Music | None = None,
    target_lufs: float = -16.0,
) -> Soundtrack | None:
    """The clip's (n, 2) 48 kHz track and the facts for the job's metadata; None for no audio."""
    kind = spec.audio.kind
    if kind == "none":
        return None
    n = clip_samples(spec)
    seconds = n / RATE
    facts: dict[str, Any] = {"kind": kind, "speech": None, "effects": None, "music": None}
    lead = effects = None
    if engine_audio is not None:
        lead = _engine_track(engine_audio, n)
        facts["source"] = "engine"
    else:
        facts["source"] = "procedural"
        if kind in SPEECH_KINDS:
            lines = find_dialogue(spec.prompt)
            speech = speak_lines(lines, seconds=seconds, voice_id=spec.audio.voice_id, seed=spec.seed)
            if speech is not None:
                lead = speech.samples
                facts["speech"] = speech.facts()
            else:
                facts["speech_note"] = "no dialogue in the prompt" if not lines else "no words fit the clip"
        if kind in EFFECT_KINDS:
            motion = Motion.from_metadata(metadata, seconds)
            rhythm = spec.audio.is_rec and music is None and bool(motion.accents)
            effects, facts["effects"] = effects_layer(spec.prompt, n, spec.seed, motion, rhythm=rhythm)
    if music is not None:
        facts["music"] = {**music.facts, **music.beats.facts()}
    room = room_tone(np.random.default_rng([spec.seed, 3]), n)
    samples, mixed = mix(n, room=room, target=target_lufs, lead=lead, effects=effects,
                         music=music.samples if music is not None else None)
    facts.update(mixed)
    facts["seconds"] = round(seconds, 4)
    return Soundtrack(samples, RATE, facts)


class ClipAudio:
    """A render's audio, in the two steps a render needs (see the module docstring).

    Built before the engine starts, so a bad music URL fails the job before any frame is made;
    `attach` runs when the first frame arrives and gives the writer its track.
    """

    def __init__(self, spec: GenerationSpec, settings: Settings) -> None:
        self.spec = spec
        self.target = settings.audio_target_lufs
        t0 = time.monotonic()
        self.music = prepare_music(spec, settings)
        self.prepare_s = time.monotonic() - t0
        self.has_audio = False

    @property
    def beats(self) -> tuple[float, ...]:
        """Beat times for the engine to put its accents on (is_rec with music only)."""
        return self.music.beats.times if self.music is not None and self.spec.audio.is_rec else ()

    def attach(self, writer: Any, metadata: dict[str, Any], engine_audio: tuple[np.ndarray, int] | None) -> None:
        """Make the soundtrack from what the engine reported and add it to `writer`."""
        t0 = time.monotonic()
        track = make_soundtrack(self.spec, metadata=metadata, engine_audio=engine_audio, music=self.music,
                                target_lufs=self.target)
        if track is None:
            return
        writer.add_audio(track.samples, track.rate)
        self.has_audio = True
        track.facts["is_rec"] = self.spec.audio.is_rec
        track.facts["beats_to_engine"] = len(self.beats)
        track.facts["audio_s"] = round(time.monotonic() - t0 + self.prepare_s, 3)  # music fetch included
        metadata["audio"] = _plain(track.facts)


def _plain(value: Any) -> Any:
    """Facts as JSON-ready Python values (the job store serialises metadata as JSON)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
