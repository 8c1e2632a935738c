"""From a prompt to a motion plan: timed segments of named camera moves, and accents.

The grammar (see docs/motion.md): the prompt is split into clauses at sentence breaks and
"then" / "after that" / "followed by" / "before" / "finally"; each clause contributes the moves it
names (several moves in one clause play together: "zooms in while panning left"). Moves in
different clauses play one after another, each over an equal share of the clip. Speed words
(slowly, steadily, quickly, ...) next to a move scale it. Negated moves ("no zoom") are
skipped. With no move named, the seed picks a gentle default (push-in, drift or orbit).

A plan is a list of ``Segment``s; ``MotionPlan.state(t)`` sums each segment's contribution,
eased with smoothstep over its own time span, into a ``CameraState`` (camera.py's vocabulary
lives on in the move names). Accents (zoom punches) sit on the music's beats when given.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from stillmotion.engines.motion.moves import MOVE_PATTERNS, MOVE_VECTORS, CameraState

REFERENCE_SECONDS = 5.0
SPEED_FACTOR = {"very_slow": 0.35, "slow": 0.55, "normal": 1.0, "fast": 1.7, "very_fast": 2.3}
_SLOW = {
    "slow", "slowly", "gentle", "gently", "subtle", "subtly", "slight", "slightly", "soft", "softly",
    "gradual", "gradually", "leisurely", "barely", "calm", "calmly", "lazily",
}
_STEADY = {"steady", "steadily", "smooth", "smoothly", "constant", "constantly", "evenly"}
_FAST = {
    "fast", "quick", "quickly", "rapid", "rapidly", "swift", "swiftly", "dramatic", "dramatically",
    "sharp", "sharply", "sudden", "suddenly", "crash", "aggressive", "aggressively", "speedy",
}
_INTENSIFIERS = {"very", "extremely", "super", "really", "ultra"}
_SEQUENCE = re.compile(
    r"[.;!?]+\s|\b(?:and\s+)?then\b|\bafter\s+that\b|\bfollowed\s+by\b|\bbefore\b|\bfinally\b|\bnext\b",
    re.IGNORECASE,
)
_NEGATION = re.compile(r"\b(?:no|not|without|never|don't|doesn't|avoid|avoiding)\s+(?:\w+\s+)?$", re.IGNORECASE)
_CLAUSE_BREAK = re.compile(r"[,.;:!?]")
DEFAULT_MOVES = ("push_in", "drift", "orbit_right")
PUNCH_ZOOM = 0.035  # zoom punch height on an accent (fraction of scale)
PUNCH_WIDTH_S = 0.35
MIN_ACCENT_GAP_S = 0.9  # accents closer than this to the previous one are skipped


@dataclass(frozen=True)
class Segment:
    """One or more moves played together from `start` to `end` (fractions of the clip)."""

    moves: tuple[str, ...]
    start: float
    end: float
    speed: str
    amount: float  # multiplier on each move's base vector (speed and duration folded in)
    matched: str | None = None

    def describe(self, seconds: float) -> dict[str, Any]:
        return {
            "move": "+".join(self.moves), "start": round(self.start * seconds, 3),
            "end": round(self.end * seconds, 3), "speed": self.speed, "amount": round(self.amount, 4),
            "matched": self.matched,
        }


def ease(t: float) -> float:
    """Smoothstep on [0, 1]: starts and ends at rest."""
    t = min(1.0, max(0.0, t))
    return t * t * (3.0 - 2.0 * t)


@dataclass(frozen=True)
class MotionPlan:
    segments: tuple[Segment, ...]
    seconds: float
    source: str  # "prompt" | "default"
    accents: tuple[float, ...] = ()  # seconds
    accent_source: str = "none"  # "beats" | "motion" | "none"
    handheld: float = 0.0  # shake amplitude (0: none)
    shake_phase: tuple[float, ...] = field(default=(0.0,) * 6)
    envelope: str = "ramp"  # "ramp": move and stay; "bump": go and come back (start-end clips)

    def state(self, t: float) -> CameraState:
        """The camera at normalised time t (identity at t=0)."""
        total = CameraState()
        for seg in self.segments:
            span = max(seg.end - seg.start, 1e-6)
            e = ease((t - seg.start) / span)
            if self.envelope == "bump":
                e = math.sin(math.pi * min(max(t, 0.0), 1.0)) ** 2 * 0.5
            for move in seg.moves:
                total = total.plus(MOVE_VECTORS[move].scaled(seg.amount * e))
        secs = t * self.seconds
        punches = self.accents if self.accent_source == "beats" else ()
        zoom = sum(PUNCH_ZOOM * _punch(secs - a) for a in punches)
        if zoom:
            total = total.plus(CameraState(zoom=zoom))
        if self.handheld:
            total = total.plus(_shake(secs, self.handheld, self.shake_phase).scaled(ease(min(t * 8, 1.0))))
        return total

    def describe(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "segments": [s.describe(self.seconds) for s in self.segments],
            "accents": [round(a, 3) for a in self.accents],
            "accent_source": self.accent_source,
            "handheld": round(self.handheld, 4),
            "envelope": self.envelope,
            "easing": "smoothstep",
        }


def _punch(dt: float) -> float:
    """A quick rise into the accent and a slower release: peak 1 at dt=0, zero far away."""
    if dt < -0.12 or dt > PUNCH_WIDTH_S * 3:
        return 0.0
    if dt < 0:
        return ease(1.0 + dt / 0.12)
    return math.exp(-dt / PUNCH_WIDTH_S) * (1.0 - ease(dt / (PUNCH_WIDTH_S * 3)))


def _shake(secs: float, amp: float, phase: tuple[float, ...]) -> CameraState:
    """Smooth handheld wobble: a few incommensurate sines per axis (no random steps)."""
    def wave(i: int, f: float) -> float:
        return math.sin(2 * math.pi * f * secs + phase[i]) * 0.6 + math.sin(2 * math.pi * f * 2.31 * secs + phase[i + 1]) * 0.4

    return CameraState(shift=(amp * wave(0, 0.37), amp * 0.8 * wave(2, 0.29)), roll=amp * 0.25 * wave(4, 0.41))


def speed_near(prompt: str, start: int, end: int) -> str:
    """Speed word within three words of a move, in the same clause."""
    before = _CLAUSE_BREAK.split(prompt[max(0, start - 40) : start])[-1]
    after = _CLAUSE_BREAK.split(prompt[end : end + 40])[0]
    words = before.lower().split()[-3:] + prompt[start:end].lower().split() + after.lower().split()[:3]
    words = [w.strip("'\"()-") for w in words]
    for i, word in enumerate(words):
        very = i > 0 and words[i - 1] in _INTENSIFIERS
        if word in _SLOW:
            return "very_slow" if very else "slow"
        if word in _FAST:
            return "very_fast" if very else "fast"
        if word in _STEADY:
            return "normal"
    return "normal"


def moves_in(clause: str) -> list[tuple[str, int, int, str]]:
    """(move, start, end, text) for every non-negated move named in a clause, in order."""
    found: list[tuple[str, int, int, str]] = []
    taken: list[tuple[int, int]] = []
    for move, pattern in MOVE_PATTERNS:
        for m in pattern.finditer(clause):
            if _NEGATION.search(clause[max(0, m.start() - 24) : m.start()]):
                continue
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue  # an earlier (more specific) pattern already claimed these words
            taken.append((m.start(), m.end()))
            found.append((move, m.start(), m.end(), m.group(0)))
    found.sort(key=lambda f: f[1])
    seen: set[str] = set()
    return [f for f in found if not (f[0] in seen or seen.add(f[0]))]


def _clauses(prompt: str) -> list[str]:
    return [c for c in _SEQUENCE.split(prompt) if c and c.strip()]


def plan_motion(
    prompt: str | None, seconds: float, rng: np.random.Generator, beats: tuple[float, ...] = ()
) -> MotionPlan:
    """The plan for a prompt and a clip length; `rng` (seeded) picks defaults and the shake."""
    prompt = prompt or ""
    duration_scale = math.sqrt(max(seconds, 0.5) / REFERENCE_SECONDS)
    groups = []
    for clause in _clauses(prompt):
        found = moves_in(clause)
        if found:
            groups.append((clause, found))
    phase = tuple(float(p) for p in rng.uniform(0, 2 * math.pi, 6))
    handheld = 0.0
    segments: list[Segment] = []
    if not groups:
        move = DEFAULT_MOVES[int(rng.integers(len(DEFAULT_MOVES)))]
        amount = 0.6 * float(rng.uniform(0.85, 1.15)) * duration_scale
        segments.append(Segment((move,), 0.0, 1.0, "slow", amount))
        source = "default"
    else:
        source = "prompt"
        n = len(groups)
        per_scale = math.sqrt(max(seconds / n, 0.5) / REFERENCE_SECONDS)
        for i, (clause, found) in enumerate(groups):
            moves = tuple(f[0] for f in found if f[0] != "handheld")
            if any(f[0] == "handheld" for f in found):
                handheld = 0.006
            speed = next((s for s in (speed_near(clause, f[1], f[2]) for f in found) if s != "normal"), "normal")
            if not moves:
                continue
            if moves == ("static",):
                segments.append(Segment(moves, i / n, (i + 1) / n, speed, 0.0, found[0][3]))
                continue
            moves = tuple(m for m in moves if m != "static")
            amount = SPEED_FACTOR[speed] * per_scale
            segments.append(Segment(moves, i / n, (i + 1) / n, speed, amount, ", ".join(f[3] for f in found)))
        if not segments:  # only "handheld"
            segments.append(Segment(("static",), 0.0, 1.0, "normal", 0.0, "handheld"))
    plan = MotionPlan(tuple(segments), float(seconds), source, handheld=handheld, shake_phase=phase)
    return with_accents(plan, beats)


def with_accents(plan: MotionPlan, beats: tuple[float, ...]) -> MotionPlan:
    """Zoom punches on the music's beats (thinned to one per MIN_ACCENT_GAP_S); without beats,
    the accents are the motion's own: the start of each later segment and the peak-speed
    instant of each fast one (reported for the audio mix; the motion already carries them)."""
    if beats:
        chosen: list[float] = []
        for b in sorted(float(x) for x in beats):
            if 0.25 <= b <= plan.seconds - 0.25 and (not chosen or b - chosen[-1] >= MIN_ACCENT_GAP_S):
                chosen.append(b)
        return replace(plan, accents=tuple(chosen), accent_source="beats")
    peaks = {(s.start + s.end) / 2 * plan.seconds for s in plan.segments if s.amount > 0 and s.speed.endswith("fast")}
    peaks |= {s.start * plan.seconds for s in plan.segments[1:] if s.amount > 0}
    return replace(plan, accents=tuple(sorted(peaks)), accent_source="motion" if peaks else "none")
