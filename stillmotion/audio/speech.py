"""Dialogue spoken with espeak-ng and fitted inside the clip.

The lines start after a short lead-in and must end before the clip does. When they are too
long at the voice's own pace they are spoken faster (up to MAX_WPM); if even that is too long,
whole trailing words are dropped and the shortened text spoken again, so speech never stops
mid-word and always ends with its natural intonation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.signal import resample_poly

from stillmotion.audio import espeak
from stillmotion.audio.dialogue import Line
from stillmotion.audio.voices import DEFAULT_FEMALE, DEFAULT_MALE, Voice, get_voice

RATE = 48_000
MAX_WPM = 330  # faster stops being intelligible
LINE_GAP_S = 0.35
_STYLE = {  # delivery -> (pitch offset, rate factor, gain)
    "say": (0, 1.0, 1.0),
    "whisper": (0, 0.92, 0.55),
    "shout": (14, 1.08, 1.4),
}
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


@dataclass
class Speech:
    """Mono speech at 48 kHz placed on the clip's timeline, and what was said."""

    samples: np.ndarray  # (n,) float32, as long as the clip
    start_s: float
    end_s: float
    lines: list[dict[str, Any]] = field(default_factory=list)

    def facts(self) -> dict[str, Any]:
        return {"text": " ".join(x["text"] for x in self.lines), "lines": self.lines,
                "start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3)}


def voice_for(line: Line, voice_id: str | None, seed: int) -> Voice:
    """The voice asked for, else one that fits who the prompt says is speaking."""
    if voice_id:
        return get_voice(voice_id)
    if _CJK.search(line.text):
        return get_voice("zh-female-1")
    if line.speaker in ("child", "elder-female", "elder-male"):
        return get_voice(line.speaker)
    if line.speaker in ("female", "male"):
        return get_voice(DEFAULT_FEMALE if line.speaker == "female" else DEFAULT_MALE)
    return get_voice((DEFAULT_FEMALE, DEFAULT_MALE)[seed % 2])


def _trimmed(x: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    """Drop the silence espeak puts before and after an utterance."""
    loud = np.flatnonzero(np.abs(x) > threshold)
    if loud.size == 0:
        return x[:0]
    pad = int(0.02 * RATE)
    return x[max(0, loud[0] - pad): loud[-1] + pad]


def _say(text: str, voice: Voice, style: str, wpm: int) -> np.ndarray:
    pitch_off, rate_factor, gain = _STYLE[style]
    name = voice.whisper_name if style == "whisper" else voice.espeak_name
    utt = espeak.speak(text, name, wpm=round(wpm * rate_factor), pitch=min(99, voice.pitch + pitch_off),
                       pitch_range=voice.range, volume=100)
    x = resample_poly(utt.samples, RATE, utt.rate).astype(np.float32) if utt.rate != RATE else utt.samples
    x = _trimmed(x)
    rms = float(np.sqrt(np.mean(x**2))) if x.size else 0.0
    return x * (gain * 0.1 / rms) if rms > 0 else x  # lines level-matched before the delivery gain


def _render(lines: list[tuple[Line, Voice]], scale: float) -> list[np.ndarray]:
    return [_say(line.text, voice, line.style, min(MAX_WPM, round(voice.rate * scale))) for line, voice in lines]


def _length(parts: list[np.ndarray], gap: int) -> int:
    return sum(p.size for p in parts) + gap * max(0, len(parts) - 1)


def _fit(lines: list[tuple[Line, Voice]], budget: int, gap: int) -> tuple[list[tuple[Line, Voice]], list[np.ndarray], float]:
    """Speed up, then drop whole trailing words, until the lines fit in `budget` samples."""
    parts = _render(lines, 1.0)
    scale = 1.0
    if _length(parts, gap) > budget:
        scale = _length(parts, gap) / budget * 1.04
        parts = _render(lines, scale)
    while lines and _length(parts, gap) > budget:
        line, voice = lines[-1]
        words = line.text.split()
        if len(words) <= 1:
            lines, parts = lines[:-1], parts[:-1]
            continue
        # drop about as many words as the overflow holds, at least one, then try again
        over = (_length(parts, gap) - budget) / max(parts[-1].size, 1)
        keep = max(1, min(len(words) - 1, int(len(words) * (1 - over))))
        lines[-1] = (Line(" ".join(words[:keep]).rstrip(",;:") + ".", line.style, line.speaker), voice)
        parts[-1] = _render([lines[-1]], scale)[0]
    return lines, parts, scale


def speak_lines(lines: list[Line], *, seconds: float, voice_id: str | None, seed: int) -> Speech | None:
    """The lines spoken inside a clip of `seconds`; None when nothing fits (or nothing to say)."""
    if not lines:
        return None
    n = int(round(seconds * RATE))
    lead = min(0.5, 0.1 * seconds)
    tail = min(0.3, 0.06 * seconds)
    gap = int(min(LINE_GAP_S, 0.05 * seconds) * RATE)
    voiced = [(line, voice_for(line, voice_id, seed)) for line in lines]
    asked = sum(len(line.text.split()) for line in lines)
    voiced, parts, scale = _fit(voiced, int((seconds - lead - tail) * RATE), gap)
    if not parts:
        return None
    out = np.zeros(n, np.float32)
    pos = start = int(lead * RATE)
    facts = []
    for (line, voice), part in zip(voiced, parts):
        out[pos: pos + part.size] = part[: n - pos]
        facts.append({"text": line.text, "voice": voice.id, "style": line.style,
                      "wpm": round(min(MAX_WPM, round(voice.rate * scale)) * _STYLE[line.style][1]),
                      "start_s": round(pos / RATE, 3), "end_s": round((pos + part.size) / RATE, 3)})
        pos += part.size + gap
    spoken = sum(len(f["text"].split()) for f in facts)
    speech = Speech(out, start / RATE, (pos - gap) / RATE, facts)
    if spoken < asked:
        speech.lines[-1]["dropped_words"] = asked - spoken
    return speech
