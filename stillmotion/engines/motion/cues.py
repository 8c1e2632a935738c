"""What a prompt asks of the picture: effect nouns read as nouns, and subject motion the
engine cannot make.

Effect words are taken only as nouns: "she waves at the camera" and "her face lights up" ask
for no water and no lamps, "helmet reflections" for no water. A word that can be a verb counts
as a verb after a subject pronoun ("she waves") or before what a verb takes ("waves at",
"leaves the room"). Subject motion ("a cat turns its head", "the rocket lifts off", "steam rises
from the coffee") is listed so the job can say it was not made: the CPU engine moves the camera
and animates ambient regions, not subjects.
"""

from __future__ import annotations

import re

from stillmotion.engines.motion.moves import MOVE_PATTERNS

_WORDS = {
    "clouds": r"clouds?|cloudy|cloudscape|sky|skies",
    "shimmer": r"water|lake|sea|ocean|river|waves?|pond|stream|pool|shore|beach|surf|tide",
    "sway": r"trees?|leaves|leaf|foliage|grass|forest|wind|breeze|branches|plants?|flowers?|palms?",
    "flicker": r"fire|flames?|candles?|campfire|torch(?:es)?|fireplace|bonfire|neon|lanterns?|lights|lamps?",
    "snow": r"snow|snowing|snowfall|snowflakes?|blizzard",
    "rain": r"rain|raining|rainy|drizzle|downpour|storm",
    "dust": r"dust|particles|motes|sparkles?|embers|fireflies|pollen|magic",
}
PATTERNS = {name: re.compile(rf"\b(?:{words})\b", re.IGNORECASE) for name, words in _WORDS.items()}
FIRE_WORDS = re.compile(r"\b(?:fire|flames?|candles?|campfire|torch(?:es)?|fireplace|bonfire)\b", re.IGNORECASE)
# words that are also verbs, and the company that makes them one
_VERB_FORMS = {"waves", "wave", "leaves", "lights", "fire", "fires", "dust", "dusts", "sparkle", "sparkles", "stream",
               "storm", "rain", "snow", "pool", "surf", "flowers", "wind", "tide"}
_SUBJECTS = r"(?:i|you|he|she|it|we|they|who|that|which|someone|everyone|he\s+\w+ly|she\s+\w+ly)"
_BEFORE_VERB = re.compile(rf"\b{_SUBJECTS}\s+$", re.IGNORECASE)
_AFTER_VERB = re.compile(
    r"^\s+(?:at|to|towards?|up|off|out|goodbye|hello|hi|back|the|a|an|his|her|their|its|my|your|our|for|behind|home|"
    r"around|hands?|into)\b", re.IGNORECASE)


def _is_noun(text: str, start: int, end: int) -> bool:
    word = text[start:end].lower()
    if word not in _VERB_FORMS:
        return True
    return not (_BEFORE_VERB.search(text[max(0, start - 24) : start]) or _AFTER_VERB.match(text[end : end + 20]))


def asked_effects(prompt: str | None) -> dict[str, str]:
    """Effect name -> the noun that asked for it, in a fixed order."""
    text = prompt or ""
    out: dict[str, str] = {}
    for name, rx in PATTERNS.items():
        for m in rx.finditer(text):
            if _is_noun(text, m.start(), m.end()):
                out[name] = m.group(0)
                break
    return out


_SUBJECT_MOTION = re.compile(
    r"\b(?:turn(?:s|ing)?\s+(?:its|his|her|their)\s+head|turns?\s+around|blink(?:s|ing)?|smil(?:es|ing)|"
    r"wav(?:es|ing)\s+(?:at|to|goodbye|hello|her|his|their)|nod(?:s|ding)?|walk(?:s|ing)?|run(?:s|ning)?|jump(?:s|ing)?|"
    r"danc(?:es|ing)|talk(?:s|ing)|speak(?:s|ing)|sing(?:s|ing)|laugh(?:s|ing)|lift(?:s|ing)?\s+off|take(?:s)?\s+off|"
    r"launch(?:es|ing)?|blast(?:s|ing)?\s+off|ris(?:es|ing)\s+from|rises|swim(?:s|ming)?|pour(?:s|ing)?|drink(?:s|ing)|"
    r"eat(?:s|ing)|wag(?:s|ging)?|stretch(?:es|ing)|climb(?:s|ing)?|chas(?:es|ing)|play(?:s|ing)|hug(?:s|ging)?|"
    r"kiss(?:es|ing)|cr(?:ies|ying)|breath(?:es|ing)|open(?:s|ing)\s+(?:its|his|her|their|the)|clos(?:es|ing)\s+(?:its|his|her|their|the)|"
    r"fl(?:ies|ying)\s+(?:away|off|past|by|out|in)|lands|landing|explod(?:es|ing)|spin(?:s|ning)|"
    r"rais(?:es|ing)\s+(?:its|his|her|their)|stand(?:s|ing)\s+up|sits?\s+down|drives?|driving|rid(?:es|ing)|"
    r"curls?\s+up|steam(?:s|ing)?\s+(?:rises|rising|curls)|smoke\s+(?:rises|rising|curls))\b",
    re.IGNORECASE,
)
_PIECES = re.compile(r"[,.;:!?]+|\b(?:and|while|as|then|before|after)\b", re.IGNORECASE)


def ignored_motion(prompt: str | None) -> list[str]:
    """Prompt phrases asking for subject motion, which camera moves and effects cannot make."""
    text = prompt or ""
    out: list[str] = []
    start = 0
    bounds = [m.span() for m in _PIECES.finditer(text)] + [(len(text), len(text))]
    for cut, nxt in bounds:
        piece = text[start:cut]
        start = nxt
        camera = [m.span() for _, rx in MOVE_PATTERNS for m in rx.finditer(piece)]
        for m in _SUBJECT_MOTION.finditer(piece):
            if any(s < m.end() and m.start() < e for s, e in camera):
                continue  # "the camera rises" is a move, not a subject's
            phrase = " ".join(piece.split())
            if phrase and phrase not in out:
                out.append(phrase)
            break
    return out
