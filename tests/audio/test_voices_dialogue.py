"""The voice table, espeak-ng loading every voice, and finding dialogue in prompts."""

from __future__ import annotations

import numpy as np
import pytest

from stillmotion.audio import espeak
from stillmotion.audio.dialogue import Line, find_dialogue
from stillmotion.audio.voices import VOICES, get_voice, voice_ids
from stillmotion.catalog import get_model
from stillmotion.errors import FieldInvalid

Q2 = "vidu/vidu-q2/image-to-video"


def test_voice_table_is_unique_and_described():
    ids = voice_ids()
    assert len(ids) >= 12 and len(set(ids)) == len(ids)
    for v in VOICES:
        public = v.to_dict()
        assert public["id"] == v.id and public["description"] and public["gender"] in ("female", "male")
        assert "espeak" not in public
    with pytest.raises(KeyError, match="unknown voice_id 'nope'; valid: female-1"):
        get_voice("nope")


@pytest.mark.parametrize("voice", VOICES, ids=lambda v: v.id)
def test_every_voice_speaks(voice):
    for name in (voice.espeak_name, voice.whisper_name):
        utt = espeak.speak("Hello there.", name, wpm=voice.rate, pitch=voice.pitch, pitch_range=voice.range)
        assert utt.rate == 22050
        assert 0.3 < len(utt.samples) / utt.rate < 3.0
        assert float(np.abs(utt.samples).max()) > 0.05


def test_voices_differ_in_pitch():
    """A deep male voice and a child voice are not the same sound with another name."""
    def f0(voice_id: str) -> float:
        v = get_voice(voice_id)
        x = espeak.speak("aaaah", v.espeak_name, wpm=v.rate, pitch=v.pitch, pitch_range=0).samples
        x = x[np.abs(x) > 0.02 * np.abs(x).max()][:8000]
        ac = np.correlate(x, x, "full")[len(x) - 1:]
        lo, hi = 22050 // 500, 22050 // 60
        return 22050 / (lo + int(np.argmax(ac[lo:hi])))
    assert f0("male-1") < 160 < f0("child")


def test_catalog_refuses_unknown_voice():
    m = get_model(Q2)
    base = {"prompt": "p", "image": "x", "generate_audio": True}
    with pytest.raises(FieldInvalid) as err:
        m.validate({**base, "voice_id": "darth"})
    assert err.value.field == "voice_id"
    assert err.value.message.startswith("voice_id: unknown voice_id 'darth'; valid: female-1, female-2")
    assert m.validate({**base, "voice_id": "es-male-1"})["voice_id"] == "es-male-1"
    assert m.json_schema()["properties"]["voice_id"]["enum"] == voice_ids()


@pytest.mark.parametrize("prompt, lines", [
    ('A woman looks up and says "Welcome home, my friend."', [Line("Welcome home, my friend.", "say", "female")]),
    ("The old man whispers: the treasure is under the oak.",
     [Line("The treasure is under the oak.", "whisper", "elder-male")]),
    ('"Run!" she shouted. The boy replies "I am coming".',
     [Line("Run!", "shout", "female"), Line("I am coming", "say", "male")]),
    ("A girl whispers softly to her brother that the show is starting.",
     [Line("The show is starting.", "whisper", "female")]),
    ("She says hello to the camera.", [Line("Hello!", "say", "female")]),
    ("Rain falls; a man says, we should go inside now!", [Line("We should go inside now!", "say", "male")]),
    ("The child shouts to his dad, look at the boat!", [Line("Look at the boat!", "shout", "child")]),
    ("\u201cGood morning\u201d, says the king.", [Line("Good morning", "say", "male")]),
])
def test_dialogue_found(prompt, lines):
    assert find_dialogue(prompt) == lines


@pytest.mark.parametrize("prompt", [
    "The camera zooms in slowly on a cat sleeping in the sun.",
    "He says nothing and walks away.",
    "Waves crash on the shore at sunset, it's windy.",
    "",
])
def test_no_dialogue_means_no_lines(prompt):
    assert find_dialogue(prompt) == []
