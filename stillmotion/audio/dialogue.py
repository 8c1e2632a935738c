"""Finding what is said in a prompt: quoted lines, or "says ..." / "whispers ..." clauses.

Only text the prompt puts in someone's mouth is spoken; a prompt with no dialogue gives no
lines (we never invent narration). Each line keeps its delivery (said, whispered, shouted)
and a hint of who speaks it, so an unspecified voice can follow the prompt ("an old man says").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_CHARS = 600  # of speech per clip; 16 s cannot carry more intelligibly

_VERBS = {
    "whisper": r"whispers?|whispered|whispering|murmurs?|murmured|murmuring|mutters?|muttered|muttering|breathes",
    "shout": r"shouts?|shouted|shouting|yells?|yelled|yelling|screams?|screamed|screaming|cries\s+out|cried\s+out|calls\s+out|called\s+out|exclaims?|exclaimed",
    "say": r"says?|said|saying|speaks?|spoke|asks?|asked|asking|replies|replied|replying|answers?|answered|announces?|announced|declares?|declared|sings?|sang|tells?|told",
}
_ANY_VERB = "|".join(f"(?:{v})" for v in _VERBS.values())
_VERB_RX = {style: re.compile(rf"\b(?:{rx})\b", re.IGNORECASE) for style, rx in _VERBS.items()}
_QUOTE = re.compile(
    r"\"([^\"]+)\"|“([^”]+)”|«([^»]+)»|„([^“”]+)[“”]|(?:(?<=^)|(?<=[\s:(]))'([^']+?)'(?=$|[\s.,!?;:)])"
)
_UNQUOTED = re.compile(rf"\b(?:{_ANY_VERB})\b\s*[:,]?\s+(?P<rest>[^.!?;\"“”\n]+[.!?]?)", re.IGNORECASE)
_NOT_SPEECH = re.compile(
    r"^(?:nothing|something|anything|little|a\s+word|to\s+(?:himself|herself|themselves))\b", re.IGNORECASE
)
_GREETING = re.compile(r"^(hello|hi|goodbye|good\s?bye|good\s+night|good\s+morning|thank\s+you|thanks|sorry)\s+to\b",
                       re.IGNORECASE)
_LEADING = re.compile(r"^(?:(?:\w+ly|quietly|softly|loudly|aloud|out\s+loud)\s+)+", re.IGNORECASE)
_TO_SOMEONE = re.compile(r"^to\s+[^,]{1,40}?(?:\s+that\s+|,\s*)", re.IGNORECASE)

_SPEAKERS = (
    ("child", r"child|kid|little\s+(?:girl|boy)|toddler|baby"),
    ("elder-female", r"old\s+(?:woman|lady)|grandmother|grandma|granny|elderly\s+woman"),
    ("elder-male", r"old\s+man|grandfather|grandpa|elderly\s+man"),
    ("female", r"woman|she|her|girl|lady|mother|mom|queen|actress|wife|sister|daughter|princess"),
    ("male", r"man|he|his|boy|guy|gentleman|father|dad|king|actor|husband|brother|son|prince"),
)
_SPEAKER_RX = [(who, re.compile(rf"\b(?:{rx})\b", re.IGNORECASE)) for who, rx in _SPEAKERS]


@dataclass(frozen=True)
class Line:
    text: str
    style: str = "say"  # say | whisper | shout
    speaker: str | None = None  # child | elder-female | elder-male | female | male


def _style_near(before: str, after: str) -> str:
    """The delivery named next to a quote: the verb just before it, else just after it."""
    near_before = re.split(r"[.!?\n\"”]", before[-48:])[-1]
    hits = [(m.start(), style) for style, rx in _VERB_RX.items() for m in rx.finditer(near_before)]
    if hits:
        return max(hits)[1]  # the verb closest before the quote
    near_after = re.split(r"[.!?\n\"“]", after[:32])[0]
    hits = [(m.start(), style) for style, rx in _VERB_RX.items() for m in rx.finditer(near_after)]
    return min(hits)[1] if hits else "say"


def _speaker_in(text: str) -> str | None:
    """The last person named in `text` (the one closest to the line)."""
    best: tuple[int, str] | None = None
    for who, rx in _SPEAKER_RX:  # specific first: "old man" beats "man" ending at the same place
        for m in rx.finditer(text):
            if best is None or m.end() > best[0]:
                best = (m.end(), who)
    return best[1] if best else None


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip(" \t,;:-")


def _quoted(prompt: str) -> list[Line]:
    lines = []
    for m in _QUOTE.finditer(prompt):
        text = _clean(next(g for g in m.groups() if g is not None))
        if not any(ch.isalnum() for ch in text):
            continue
        before, after = prompt[: m.start()], prompt[m.end():]
        speaker = _speaker_in(re.split(r"[.!?\n]", before)[-1]) or _speaker_in(re.split(r"[.!?\n\"“]", after)[0])
        lines.append(Line(text, _style_near(before, after), speaker))
    return lines


def _unquoted(prompt: str) -> list[Line]:
    lines = []
    for m in _UNQUOTED.finditer(prompt):
        rest = _LEADING.sub("", m.group("rest").strip())
        if ":" not in m.group(0):
            rest = _TO_SOMEONE.sub("", rest)
        rest = re.sub(r"^that\s+", "", rest, flags=re.IGNORECASE)
        greeting = _GREETING.match(rest)
        if greeting:
            rest = greeting.group(1) + "!"
        if not rest or _NOT_SPEECH.match(rest) or not any(ch.isalnum() for ch in rest):
            continue
        verb = m.group(0)[: m.start("rest") - m.start()]
        style = next(s for s, rx in _VERB_RX.items() if rx.search(verb))
        clause = re.split(r"[.!?\n]", prompt[: m.start()])[-1]
        text = _clean(rest)
        lines.append(Line(text[:1].upper() + text[1:], style, _speaker_in(clause)))
    return lines


def find_dialogue(prompt: str) -> list[Line]:
    """The lines the prompt gives its characters, in order; empty when nobody speaks.

    Quoted text wins ("She says: 'hi'" yields only 'hi'); without quotes, the words after a
    speech verb up to the end of the sentence are the line.
    """
    prompt = prompt or ""
    lines = _quoted(prompt) or _unquoted(prompt)
    out, total = [], 0
    for line in lines:
        if total + len(line.text) > MAX_CHARS:
            break
        out.append(line)
        total += len(line.text)
    return out
