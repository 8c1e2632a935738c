"""The sound-effects layer: scenes chosen from the prompt, plus sounds that follow the motion.

Scenes come from words in the prompt (at most MAX_SCENES, in the order the prompt names them);
a prompt that names no source gets a soft open-air ambience. The motion layer reads the
engine's plan (ctx.metadata["motion"]: "segments" and "accents"; else "camera"): a whoosh
over every fast move, in the direction the picture moves. With `rhythm` (is_rec with no music
to follow) each accent gets a short swish-and-thump and the rhythmic scenes (footsteps, bird
calls, claps, thunder) fall on the accents too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from stillmotion.audio.dsp import RATE, bandpass, decay, lowpass, pan, place, rms_envelope, white
from stillmotion.audio.scenes import SCENES

MAX_SCENES = 3
_WORDS: dict[str, str] = {
    "rain": r"rain\w*|drizzl\w*|downpour|raindrops?|showers?",
    "wind": r"wind|windy|breezes?|breezy|gusts?|gusty|blizzards?|storms?|stormy",
    "ocean_waves": r"oceans?|seas?|waves?|surf|beach(?:es)?|shores?|coast\w*|seaside",
    "flowing_water": r"rivers?|streams?|creeks?|brooks?|waterfalls?|fountains?|flowing\s+water|rapids",
    "fire": r"fires?|campfires?|fireplaces?|flames?|bonfires?|burning|embers|torch(?:es)?",
    "birds": r"birds?|birdsong|chirp\w*|songbirds?|sparrows?|robins?|forest|woods|meadow|garden",
    "thunder": r"thunder\w*|lightning|storms?|stormy",
    "city_traffic": r"city|cities|streets?|traffic|downtown|highways?|roads?|avenues?|cars|intersection|urban",
    "crowd": r"crowds?|people|market\w*|cafes?|caf\u00e9s?|restaurants?|bars?|party|parties|festival|station|mall",
    "footsteps": r"walk\w*|footsteps?|steps|strides?|stroll\w*|march\w*|hik\w*|runs|running|runner|jogg\w*",
    "engine": r"engines?|motor\w*|car\s+drives|driving|drives|trucks?|motorcycles?|race\s?cars?|tractors?|boat\s+motor",
    "applause": r"applau\w*|clapping|claps?|ovation|audience|concert|stage|cheer\w*",
    "crickets": r"crickets?|night\w*|insects?|cicadas?|summer\s+evening|midnight",
}
_RX = {name: re.compile(rf"\b(?:{words})\b", re.IGNORECASE) for name, words in _WORDS.items()}
_GAIN = {  # relative level of each scene when it is active
    "rain": 1.0, "wind": 0.8, "ocean_waves": 1.0, "flowing_water": 0.8, "fire": 0.9, "birds": 0.55,
    "thunder": 1.1, "city_traffic": 0.8, "crowd": 0.7, "footsteps": 0.9, "engine": 0.75,
    "applause": 0.9, "crickets": 0.4, "ambience": 0.6,
}
_FAST = {"fast", "very_fast"}


def choose_scenes(prompt: str) -> list[str]:
    """The scenes the prompt names, first mention first; ["ambience"] when it names none."""
    found = []
    for name, rx in _RX.items():
        m = rx.search(prompt or "")
        if m:
            found.append((m.start(), name))
    return [name for _, name in sorted(found)][:MAX_SCENES] or ["ambience"]


@dataclass(frozen=True)
class Motion:
    """What the audio needs from the engine's motion plan, in seconds."""

    segments: tuple[dict[str, Any], ...] = ()  # {"move", "start", "end", "speed"}
    accents: tuple[float, ...] = ()

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any], seconds: float) -> Motion:
        motion = metadata.get("motion") or {}
        accents = []
        for a in motion.get("accents") or ():
            t = a if isinstance(a, (int, float)) else (a.get("t", a.get("time")) if isinstance(a, dict) else None)
            if isinstance(t, (int, float)) and 0 <= t <= seconds:
                accents.append(float(t))
        segments = [s for s in motion.get("segments") or () if isinstance(s, dict)]
        if not segments and isinstance(metadata.get("camera"), dict):
            cam = metadata["camera"]
            segments = [{"move": cam.get("move"), "start": 0.0, "end": seconds, "speed": cam.get("speed")}]
        return cls(tuple(segments), tuple(sorted(accents)))


def _active_level(x: np.ndarray) -> float:
    """The level of a scene while it sounds (events are not diluted by their silences)."""
    env = rms_envelope(x, 0.1)
    return float(np.percentile(env, 95)) if env.size else 0.0


def whoosh(rng: np.random.Generator, seconds: float, move: str | None) -> np.ndarray:
    """Filtered noise swelling through a move; it rises for zooms in, falls for zooms out,
    and travels across the stereo field the way the picture moves for pans."""
    k = max(int(seconds * RATE), 64)
    noise = white(rng, k, 1)[:, 0]
    low, high = bandpass(noise, 150, 800), bandpass(noise, 900, 5000)
    t = np.linspace(0, 1, k, dtype=np.float32)
    move = move or ""  # the engine may combine moves: "zoom_in+pan_left"
    up = 1 - t if ("zoom_out" in move or "pull" in move) else t
    body = low * (1 - up) + high * up * 0.7
    env = np.sin(np.pi * np.clip(t / 0.65, 0, 1) / 2) ** 2 * np.clip((1 - t) / 0.35, 0, 1)
    side = 1.0 if "pan_left" in move else -1.0 if "pan_right" in move else 0.0  # content moves opposite
    return pan(body * env, side * (t * 1.2 - 0.6))


def _hit(rng: np.random.Generator) -> np.ndarray:
    """A swish leading into a low thump: one motion accent."""
    k = int(0.3 * RATE)
    out = np.zeros((k, 2), np.float32)
    out[: int(0.22 * RATE)] += whoosh(rng, 0.22, None) * 0.8
    tk = k - int(0.2 * RATE)
    thump = np.sin(2 * np.pi * np.cumsum(np.linspace(95, 50, tk)) / RATE) * decay(tk, 0.003, 0.09)
    out[int(0.2 * RATE):] += pan(lowpass(thump.astype(np.float32), 300), 0.0)
    return out


def motion_layer(rng: np.random.Generator, n: int, motion: Motion,
                 *, accents: bool = False) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Whooshes over fast moves; with `accents`, a swish-and-thump on each motion accent too."""
    out = np.zeros((n, 2), np.float32)
    events: list[dict[str, Any]] = []
    for seg in motion.segments:
        start, end = float(seg.get("start") or 0.0), float(seg.get("end") or n / RATE)
        if seg.get("speed") in _FAST and seg.get("move") not in (None, "static", "none") and end > start:
            dur = min(max(end - start, 0.3), 2.5)
            mid = (start + end) / 2
            place(out, whoosh(rng, dur, seg.get("move")), int((mid - dur * 0.65) * RATE))
            events.append({"sound": "whoosh", "move": seg.get("move"), "at_s": round(mid, 3)})
    hit = _hit(rng)
    for t in motion.accents if accents else ():  # the thump lands on the accent
        place(out, hit, int(t * RATE) - int(0.2 * RATE))
        events.append({"sound": "accent", "at_s": round(t, 3)})
    return out, events


def effects_layer(prompt: str, n: int, seed: int, motion: Motion, *, rhythm: bool) -> tuple[np.ndarray, dict[str, Any]]:
    """The scenes for `prompt` plus the motion layer, (n, 2); and what went into it."""
    names = choose_scenes(prompt)
    hits = motion.accents if rhythm else ()
    out = np.zeros((n, 2), np.float32)
    for i, name in enumerate(names):
        rng = np.random.default_rng([seed, 101 + i])
        x = SCENES[name](rng, n, hits)
        level = _active_level(x)
        if level > 0:
            out += x * (_GAIN[name] * 0.1 / level)
    layer, events = motion_layer(np.random.default_rng([seed, 7]), n, motion, accents=bool(hits))
    out += layer * 0.12 / max(_active_level(layer), 1e-3) if events else 0.0
    return out, {"scenes": names, "motion_sounds": events, "on_motion_rhythm": bool(hits)}
