"""The camera's vocabulary: named moves as vectors of camera parameters, and how prompts name them.

Conventions (image x right, y down). A ``CameraState`` says where the camera is relative to
where it started; the renderer (parallax.py) turns it into per-pixel motion using each pixel's
disparity d in [0, 1] (1 = nearest):

- ``zoom``: log focal change (depth independent; > 0 magnifies).
- ``shift``: the view window's slide as a fraction of (width, height), as a pan or tilt turns the
  camera: pan left -> window slides left -> content appears to move right.
- ``roll``: radians, clockwise rotation of the camera (content turns counter-clockwise).
- ``truck``: camera translation across the view (fraction of the frame per unit disparity):
  content moves the other way, near things (d=1) the full amount, far things (d=0) not at all.
- ``orbit``: like truck, but about the subject's depth (pivot): the subject stays, the
  background slides the way the camera moves and the foreground the other way.
- ``dolly``: camera travel along the view axis: content at disparity d scales by (1 + dolly*d).
- ``dolly_zoom``: dolly with the focal change that keeps the subject's size (the Vertigo shot).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class CameraState:
    zoom: float = 0.0
    shift: tuple[float, float] = (0.0, 0.0)
    roll: float = 0.0
    truck: tuple[float, float] = (0.0, 0.0)
    orbit: tuple[float, float] = (0.0, 0.0)
    dolly: float = 0.0
    dolly_zoom: float = 0.0

    def plus(self, o: CameraState) -> CameraState:
        return CameraState(
            self.zoom + o.zoom,
            (self.shift[0] + o.shift[0], self.shift[1] + o.shift[1]),
            self.roll + o.roll,
            (self.truck[0] + o.truck[0], self.truck[1] + o.truck[1]),
            (self.orbit[0] + o.orbit[0], self.orbit[1] + o.orbit[1]),
            self.dolly + o.dolly,
            self.dolly_zoom + o.dolly_zoom,
        )

    def scaled(self, k: float) -> CameraState:
        return CameraState(
            self.zoom * k, (self.shift[0] * k, self.shift[1] * k), self.roll * k,
            (self.truck[0] * k, self.truck[1] * k), (self.orbit[0] * k, self.orbit[1] * k),
            self.dolly * k, self.dolly_zoom * k,
        )


S = CameraState
# Base vectors for a 5 s clip at normal speed. Zooms carry a little dolly and pans a little
# truck, so even "zoom in" shows depth (near things grow a bit more than far ones).
MOVE_VECTORS: dict[str, CameraState] = {
    "static": S(),
    "handheld": S(),
    "zoom_in": S(zoom=0.13, dolly=0.05),
    "zoom_out": S(zoom=-0.12, dolly=-0.05),
    "dolly_in": S(zoom=0.03, dolly=0.22),
    "dolly_out": S(zoom=-0.03, dolly=-0.2),
    "reveal": S(zoom=-0.07, dolly=-0.22),
    "pan_left": S(shift=(-0.06, 0.0), truck=(-0.012, 0.0)),
    "pan_right": S(shift=(0.06, 0.0), truck=(0.012, 0.0)),
    "tilt_up": S(shift=(0.0, -0.06), truck=(0.0, -0.012)),
    "tilt_down": S(shift=(0.0, 0.06), truck=(0.0, 0.012)),
    "truck_left": S(truck=(-0.07, 0.0)),
    "truck_right": S(truck=(0.07, 0.0)),
    "pedestal_up": S(truck=(0.0, -0.07)),
    "pedestal_down": S(truck=(0.0, 0.07)),
    "orbit_left": S(orbit=(-0.08, 0.0), zoom=0.02),
    "orbit_right": S(orbit=(0.08, 0.0), zoom=0.02),
    "roll_left": S(roll=-0.09),
    "roll_right": S(roll=0.09),
    "dolly_zoom": S(dolly_zoom=0.3),
    "fly_over": S(dolly=0.2, truck=(0.0, -0.04), zoom=0.02),
    # defaults (the seed picks one when the prompt names no move)
    "push_in": S(zoom=0.06, dolly=0.12),
    "drift": S(truck=(0.04, 0.0), zoom=0.03),
}
MOVES = tuple(MOVE_VECTORS)


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_ADV = r"(?:\s+\w+ly)?"  # one optional adverb: "pulls steadily back"
_CAM = r"(?:camera|drone|shot|lens|view|we)"
_TRAVEL = r"(?:moves?|moved|moving|glides?|gliding|drifts?|drifting|travel(?:s|ling|ing)?|slides?|sliding|creeps?|creeping)"
_TO_THE = r"(?:\s+(?:to|towards?)\s+the)?"
_LEFT = rf"{_TO_THE}\s+left(?:wards?)?\b"
_RIGHT = rf"{_TO_THE}\s+right(?:wards?)?\b"
_PAN = r"(?:pan|pans|panned|panning|swing|swings|swinging)"
_TRUCK = r"(?:truck|trucks|trucked|trucking|track|tracks|tracked|tracking|strafe|strafes|crab|crabs)"
_ORBIT = r"(?:orbit|orbits|orbiting|circles?|circling|arcs?|arcing|rotates?\s+around|revolves?\s+around)"
_CRANE = r"(?:crane|cranes|craning|boom|booms|booming|pedestal|pedestals|rises|rising|lifts|ascends|ascending|elevates)"
_LOWER = r"(?:crane|cranes|boom|booms|pedestal|pedestals|descends|descending|lowers|lowering|sinks|sinking|drops)"
_DOLLY = r"(?:dolly|dollies|dollied|dollying|push|pushes|pushed|pushing)"
_PULL = r"(?:pull|pulls|pulled|pulling|dolly|dollies|dollied|dollying)"

# Earlier patterns win when two claim the same words (the most specific first).
MOVE_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("dolly_zoom", _rx(r"\b(?:dolly[- ]zoom|vertigo\s+(?:shot|effect)|zolly|contra[- ]zoom)\b")),
    ("reveal", _rx(rf"\b(?:{_PULL}|zoom(?:s|ed|ing)?|moves?|drifts?){_ADV}\s+(?:back|backwards?|out|away)\b[^.;]{{0,40}}?\breveal")),
    ("reveal", _rx(r"\bpull[- ]?back\s+(?:to\s+)?reveal")),
    ("fly_over", _rx(rf"(?:\b{_CAM}\s+(?:\w+ly\s+)?|^\s*)(?:fl(?:y|ies|ying|ew)|soar(?:s|ing)?|glid(?:es|ing)|sweeps?)\s+(?:over|above|across)\b")),
    ("fly_over", _rx(r"\b(?:fly[- ]?over|flyover|fly[- ]?through|aerial\s+(?:shot|view|sweep))\b")),
    ("static", _rx(r"\b(?:static|still|fixed|locked[- ]?off|stationary|tripod)[- ](?:camera|shot|frame|view)\b")),
    ("static", _rx(rf"\b{_CAM}\s+(?:is|stays|remains|holds|keeps)\s+(?:\w+ly\s+)?(?:still|static|steady|fixed|stationary)\b")),
    ("static", _rx(r"\bno\s+camera\s+(?:movement|motion|moves?)\b|\blocked[- ]?off\b|\bstatic\b")),
    ("handheld", _rx(r"\b(?:hand[- ]?held|shaky\s+cam(?:era)?|camera\s+shake|documentary[- ]style)\b")),
    ("orbit_left", _rx(rf"\b{_ORBIT}{_ADV}{_LEFT}|\b(?:counter[- ]?clockwise|anti[- ]?clockwise)\s+(?:orbit|arc)\b")),
    ("orbit_right", _rx(rf"\b{_ORBIT}{_ADV}{_RIGHT}|\bclockwise\s+(?:orbit|arc)\b")),
    ("orbit_right", _rx(rf"\b{_ORBIT}\b")),
    ("roll_left", _rx(r"\b(?:roll|rolls|rolling|rotates?|rotating|spins?|spinning|twists?)\s+(?:\w+ly\s+)?(?:to\s+the\s+)?(?:left|counter[- ]?clockwise|anti[- ]?clockwise)\b")),
    ("roll_right", _rx(r"\b(?:roll|rolls|rolling|rotates?|rotating|spins?|spinning|twists?)\s+(?:\w+ly\s+)?(?:to\s+the\s+)?(?:right|clockwise)\b|\b(?:dutch\s+angle|camera\s+rolls?)\b")),
    ("zoom_in", _rx(rf"\bzoom(?:s|ed|ing)?{_ADV}[\s-]+in(?:to|wards?)?\b|\bcrash[- ]zoom\b|\bzoom[- ]in\b")),
    ("zoom_out", _rx(rf"\bzoom(?:s|ed|ing)?{_ADV}[\s-]+(?:out|away|back)\b")),
    ("dolly_in", _rx(rf"\b{_DOLLY}{_ADV}[\s-]+(?:in|into|inwards?|forwards?|closer|toward|towards)\b")),
    ("dolly_in", _rx(rf"\b{_CAM}\s+(?:\w+ly\s+)?(?:{_TRAVEL}|advances|approaches|pushes|flies|glides)\s+(?:\w+ly\s+)?(?:forwards?|closer|in|toward|towards|into)\b")),
    ("dolly_in", _rx(r"\b(?:push[- ]in|dolly[- ]in|tracking\s+forward)\b")),
    ("dolly_out", _rx(rf"\b{_PULL}{_ADV}[\s-]+(?:back|backwards?|out|away)\b")),
    ("dolly_out", _rx(rf"\b{_CAM}\s+(?:\w+ly\s+)?(?:{_TRAVEL}|retreats|recedes|backs|pulls)\s+(?:\w+ly\s+)?(?:back|backwards?|away|out)\b")),
    ("dolly_out", _rx(r"\bpull[- ]?back\b|\bdolly[- ]out\b")),
    ("truck_left", _rx(rf"\b{_TRUCK}{_ADV}{_LEFT}")),
    ("truck_right", _rx(rf"\b{_TRUCK}{_ADV}{_RIGHT}")),
    ("truck_left", _rx(rf"\b{_CAM}\s+(?:\w+ly\s+)?{_TRAVEL}{_ADV}{_LEFT}")),
    ("truck_right", _rx(rf"\b{_CAM}\s+(?:\w+ly\s+)?{_TRAVEL}{_ADV}{_RIGHT}")),
    ("pan_left", _rx(rf"\b{_PAN}{_ADV}{_LEFT}")),
    ("pan_right", _rx(rf"\b{_PAN}{_ADV}{_RIGHT}")),
    ("pedestal_up", _rx(rf"\b{_CRANE}{_ADV}\s+up(?:wards?)?\b|\b{_CAM}\s+(?:\w+ly\s+)?(?:rises|lifts|ascends|climbs)\b|\bcrane\s+shot\b")),
    ("pedestal_down", _rx(rf"\b{_LOWER}{_ADV}\s+down(?:wards?)?\b|\b{_CAM}\s+(?:\w+ly\s+)?(?:descends|lowers|sinks|drops)\b")),
    ("tilt_up", _rx(rf"\b(?:tilt|tilts|tilted|tilting|{_PAN}){_ADV}\s+up(?:wards?)?\b")),
    ("tilt_down", _rx(rf"\b(?:tilt|tilts|tilted|tilting|{_PAN}){_ADV}\s+down(?:wards?)?\b")),
]
