"""From a prompt to a camera plan: which move, how far, and the pose at each instant.

Conventions (image coordinates, x right, y down; pixel centres at integers):

- A pose is a 2x3 affine matrix mapping an *output* pixel to the point of the fitted frame it
  shows (the inverse map cv2.warpAffine takes with WARP_INVERSE_MAP). The identity shows the
  input exactly as ``fit_to_frame`` fits it; every move starts there at t=0.
- Moves are named as a camera operator names them. "Pan left" turns the camera to its left,
  so the view window slides left over the scene and the *content appears to move right*
  (optical flow x > 0). Likewise pan right -> content moves left, tilt up -> content moves
  down, tilt down -> content moves up, zoom in -> content expands from the anchor (flow points
  outward), zoom out -> content contracts.
- The plan holds end values (zoom factor, window shift as a fraction of the frame); ``pose``
  eases them with smoothstep, zoom interpolated in log space so the apparent rate is even.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

MOVES = ("zoom_in", "zoom_out", "pan_left", "pan_right", "tilt_up", "tilt_down", "static")

# Base amounts for a 5 s clip at normal speed: zoom as a fractional change of scale, pans and
# tilts as a fraction of the frame's width / height. Pans are modest because an image with no
# spare content beside the frame needs a compensating zoom of 1 / (1 - 2 * amount).
BASE_AMOUNT = {
    "zoom_in": 0.15,
    "zoom_out": 0.15,
    "pan_left": 0.06,
    "pan_right": 0.06,
    "tilt_up": 0.06,
    "tilt_down": 0.06,
    "static": 0.0,
}
DEFAULT_PUSH_IN = 0.08  # the gentle push-in used when the prompt names no move
REFERENCE_SECONDS = 5.0
MAX_AMOUNT = {"zoom": 0.6, "shift": 0.25}
EDGE_SLACK = 2.0  # pixels kept between a compensated pan's window and the image edge

_SLOW = {
    "slow", "slowly", "gentle", "gently", "subtle", "subtly", "slight", "slightly", "soft",
    "softly", "gradual", "gradually", "leisurely", "barely", "calm", "calmly",
}
_FAST = {
    "fast", "quick", "quickly", "rapid", "rapidly", "swift", "swiftly", "dramatic",
    "dramatically", "sharp", "sharply", "sudden", "suddenly", "crash", "aggressive",
    "aggressively", "speedy", "hurried", "hurriedly",
}
_INTENSIFIERS = {"very", "extremely", "super", "really", "ultra"}
SPEED_FACTOR = {"slow": 0.5, "normal": 1.0, "fast": 1.8}


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_ADV = r"(?:\s+\w+ly)?"  # one optional adverb between verb and direction: "pulls steadily back"
_CAM = r"(?:camera|drone|shot|lens|view|we)"
_TRAVEL = r"(?:move|moves|moved|moving|glide|glides|gliding|drift|drifts|drifting|fly|flies|flying|travel|travels|travelling|traveling|slide|slides|sliding|creep|creeps|creeping)"
_TO_THE = r"(?:\s+(?:to|towards?)\s+the)?"

# Order matters only for ties at the same position in the text.
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("static", _rx(r"\b(?:static|still|fixed|locked[- ]?off|stationary|tripod)[- ](?:camera|shot|frame|view)\b")),
    ("static", _rx(rf"\b{_CAM}\s+(?:is|stays|remains|holds|keeps)\s+(?:\w+ly\s+)?(?:still|static|steady|fixed|stationary|locked[- ]?off)\b")),
    ("static", _rx(r"\bno\s+camera\s+(?:movement|motion|moves?)\b")),
    ("static", _rx(r"\blocked[- ]?off\b|\bstatic\b")),
    ("zoom_in", _rx(rf"\bzoom(?:s|ed|ing)?{_ADV}[\s-]+in(?:to|wards?)?\b")),
    ("zoom_in", _rx(rf"\b(?:push|pushes|pushed|pushing|dolly|dollies|dollied|dollying){_ADV}[\s-]+(?:in|into|inwards?|forwards?|closer)\b")),
    ("zoom_in", _rx(rf"\b{_CAM}\s+(?:\w+ly\s+)?(?:{_TRAVEL}|advances|approaches|pushes)\s+(?:\w+ly\s+)?(?:forwards?|closer|in|toward|towards)\b")),
    ("zoom_out", _rx(rf"\bzoom(?:s|ed|ing)?{_ADV}[\s-]+(?:out|away|back)\b")),
    ("zoom_out", _rx(rf"\b(?:pull|pulls|pulled|pulling|dolly|dollies|dollied|dollying){_ADV}[\s-]+(?:back|backwards?|out|away)\b")),
    ("zoom_out", _rx(rf"\b{_CAM}\s+(?:\w+ly\s+)?(?:{_TRAVEL}|retreats|recedes|backs|pulls)\s+(?:\w+ly\s+)?(?:back|backwards?|away|out)\b")),
    ("zoom_out", _rx(r"\bpull[- ]?back\b")),
    ("pan_left", _rx(rf"\b(?:pan|pans|panned|panning|track|tracks|tracked|tracking|truck|trucks|trucked|trucking){_ADV}{_TO_THE}\s+left(?:wards?)?\b")),
    ("pan_left", _rx(rf"\b{_CAM}\s+(?:\w+ly\s+)?{_TRAVEL}{_ADV}{_TO_THE}\s+left(?:wards?)?\b")),
    ("pan_right", _rx(rf"\b(?:pan|pans|panned|panning|track|tracks|tracked|tracking|truck|trucks|trucked|trucking){_ADV}{_TO_THE}\s+right(?:wards?)?\b")),
    ("pan_right", _rx(rf"\b{_CAM}\s+(?:\w+ly\s+)?{_TRAVEL}{_ADV}{_TO_THE}\s+right(?:wards?)?\b")),
    ("tilt_up", _rx(rf"\b(?:tilt|tilts|tilted|tilting|pan|pans|panned|panning){_ADV}\s+up(?:wards?)?\b")),
    ("tilt_up", _rx(rf"\b{_CAM}\s+(?:\w+ly\s+)?(?:rises|rising|cranes\s+up|booms\s+up|pedestals\s+up|lifts|ascends)\b")),
    ("tilt_down", _rx(rf"\b(?:tilt|tilts|tilted|tilting|pan|pans|panned|panning){_ADV}\s+down(?:wards?)?\b")),
    ("tilt_down", _rx(rf"\b{_CAM}\s+(?:\w+ly\s+)?(?:descends|descending|lowers|cranes\s+down|booms\s+down|pedestals\s+down|sinks)\b")),
]
_NEGATION = _rx(r"\b(?:no|not|without|never|don't|doesn't|avoid|avoiding)\s+(?:\w+\s+)?$")
_CLAUSE_BREAK = re.compile(r"[,.;:!?]")


def ease_in_out(t: float) -> float:
    """Smoothstep on [0, 1]: starts and ends at rest, C1-continuous, symmetric about 0.5."""
    t = min(1.0, max(0.0, t))
    return t * t * (3.0 - 2.0 * t)


@dataclass(frozen=True)
class CameraPlan:
    """A camera move as data: end values reached at t=1, eased from identity at t=0.

    zoom: end scale factor (>1 zooms in, <1 zooms out).
    shift: end displacement of the view window as a fraction of (width, height);
        negative x slides the window left (a pan left), negative y up (a tilt up).
    anchor: the point zoomed about, as an offset from the frame centre in fractions of
        (width, height).
    """

    move: str
    amount: float
    source: str  # "prompt" | "default"
    matched: str | None = None
    speed: str = "normal"
    zoom: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)
    anchor: tuple[float, float] = (0.0, 0.0)
    compensation: float = 1.0  # extra end zoom so a pan stays over real image content

    def pose(self, t: float, width: int, height: int) -> np.ndarray:
        """2x3 inverse map (output pixel -> fitted-frame point) at time t in [0, 1]."""
        e = ease_in_out(t)
        s = (self.zoom * self.compensation) ** e
        ax = (width - 1) / 2.0 + self.anchor[0] * width
        ay = (height - 1) / 2.0 + self.anchor[1] * height
        inv = 1.0 / s
        dx = self.shift[0] * width * e
        dy = self.shift[1] * height * e
        return np.array(
            [[inv, 0.0, ax * (1.0 - inv) + dx], [0.0, inv, ay * (1.0 - inv) + dy]],
            dtype=np.float64,
        )

    def fitted_to(self, width: int, height: int, margins: tuple[float, float, float, float]) -> CameraPlan:
        """A copy with just enough extra zoom that the window never leaves real content.

        margins: real image content available beyond the frame (left, top, right, bottom),
        in pixels. Only shifts are compensated (a zoom-out has nothing to gain from it).
        With the zoom eased in log space and the shift linearly in the same eased time,
        the window edge is convex in time, so checking t=1 suffices.
        """
        if self.zoom < 1.0 or self.shift == (0.0, 0.0):
            return replace(self, compensation=1.0)
        left, top, right, bottom = margins
        need = 1.0
        for shift, length, before, after in (
            (self.shift[0] * width, width, left, right),
            (self.shift[1] * height, height, top, bottom),
        ):
            room = before if shift < 0 else after
            if abs(shift) <= room:
                continue  # real content covers this axis
            half = length / 2.0
            # half / s + |shift| <= half + room  ->  s >= half / (half + room - |shift|)
            free = half + room - abs(shift) - EDGE_SLACK
            need = max(need, half / max(free, 1e-6))
        comp = max(1.0, need / self.zoom)
        return replace(self, compensation=float(comp))

    def describe(self) -> dict[str, Any]:
        """What goes into ctx.metadata["camera"]."""
        data = asdict(self)
        data["amount"] = round(self.amount, 4)
        data["zoom"] = round(self.zoom, 4)
        data["shift"] = [round(v, 4) for v in self.shift]
        data["anchor"] = [round(v, 4) for v in self.anchor]
        data["compensation"] = round(self.compensation, 4)
        data["easing"] = "smoothstep"
        return data


@dataclass(frozen=True)
class MoveMatch:
    move: str
    start: int
    end: int
    text: str


def find_move(prompt: str) -> MoveMatch | None:
    """The first camera move the prompt names (by position), skipping negated mentions."""
    best: MoveMatch | None = None
    for move, pattern in _PATTERNS:
        for m in pattern.finditer(prompt):
            if _NEGATION.search(prompt[max(0, m.start() - 24) : m.start()]):
                continue
            if best is None or m.start() < best.start:
                best = MoveMatch(move, m.start(), m.end(), m.group(0))
            break  # later hits of the same pattern cannot be earlier
    return best


def speed_of(prompt: str, match: MoveMatch) -> str:
    """'slow' / 'fast' / 'normal' from speed words next to the move (same clause only).

    Only words within the match, up to three words before it and three after it count, and
    never across punctuation, so "zooms in, and the character slowly emerges" stays normal.
    """
    before = _CLAUSE_BREAK.split(prompt[max(0, match.start - 40) : match.start])[-1]
    after = _CLAUSE_BREAK.split(prompt[match.end : match.end + 40])[0]
    words = before.lower().split()[-3:] + match.text.lower().split() + after.lower().split()[:3]
    words = [w.strip("'\"()-") for w in words]
    for i, word in enumerate(words):
        if word in _SLOW:
            return "very_slow" if i and words[i - 1] in _INTENSIFIERS else "slow"
        if word in _FAST:
            return "very_fast" if i and words[i - 1] in _INTENSIFIERS else "fast"
    return "normal"


def _speed_factor(speed: str) -> float:
    base = speed.removeprefix("very_")
    factor = SPEED_FACTOR[base]
    return factor**1.5 if speed.startswith("very_") else factor


def plan_camera(prompt: str | None, seconds: float, rng: np.random.Generator) -> CameraPlan:
    """Choose the camera plan for a prompt and clip length.

    Amounts are defined for a 5 s clip and scale with sqrt(duration), so longer clips move a
    little further at a slightly lower speed. `rng` (seeded from the spec) picks the default
    push-in's exact amount and anchor so that unprompted clips differ between seeds.
    """
    prompt = prompt or ""
    duration_scale = math.sqrt(max(seconds, 0.5) / REFERENCE_SECONDS)
    match = find_move(prompt)
    if match is None:
        amount = DEFAULT_PUSH_IN * float(rng.uniform(0.85, 1.15)) * duration_scale
        anchor = (float(rng.uniform(-0.04, 0.04)), float(rng.uniform(-0.04, 0.04)))
        return CameraPlan(
            move="zoom_in", amount=amount, source="default", speed="slow",
            zoom=1.0 + min(amount, MAX_AMOUNT["zoom"]), anchor=anchor,
        )
    speed = speed_of(prompt, match)
    amount = BASE_AMOUNT[match.move] * _speed_factor(speed) * duration_scale
    plan = CameraPlan(move=match.move, amount=amount, source="prompt", matched=match.text, speed=speed)
    if match.move == "static":
        return replace(plan, amount=0.0)
    if match.move in ("zoom_in", "zoom_out"):
        amount = min(amount, MAX_AMOUNT["zoom"])
        zoom = 1.0 + amount if match.move == "zoom_in" else 1.0 / (1.0 + amount)
        return replace(plan, amount=amount, zoom=zoom)
    amount = min(amount, MAX_AMOUNT["shift"])
    shift = {
        "pan_left": (-amount, 0.0),
        "pan_right": (amount, 0.0),
        "tilt_up": (0.0, -amount),
        "tilt_down": (0.0, amount),
    }[match.move]
    return replace(plan, amount=amount, shift=shift)
