"""Speech fitted inside the clip: lead-in, faster when long, whole words only, speech band."""

from __future__ import annotations

import numpy as np

from stillmotion.audio.dialogue import Line, find_dialogue
from stillmotion.audio.speech import MAX_WPM, RATE, speak_lines
from tests.audio.audio_support import band_energy


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if x.size else 0.0


def test_short_line_at_natural_pace_after_lead_in():
    speech = speak_lines([Line("Welcome home, my friend.")], seconds=5, voice_id="female-1", seed=1)
    assert speech is not None and speech.samples.shape == (5 * RATE,)
    line = speech.lines[0]
    assert line["voice"] == "female-1" and line["wpm"] == 165 and "dropped_words" not in line
    assert 0.3 <= speech.start_s <= 0.5 < speech.end_s < 4.0
    assert not np.any(speech.samples[: int(speech.start_s * RATE)])  # silent lead-in
    assert not np.any(speech.samples[int(speech.end_s * RATE) + 1:])
    voiced = speech.samples[int(speech.start_s * RATE): int(speech.end_s * RATE)]
    assert band_energy(voiced, 100, 4000) > 0.85  # the energy of a voice, not of noise


def test_long_line_is_sped_up_to_fit():
    text = "The quick brown fox jumps over the lazy dog and runs into the forest."
    at_ease = speak_lines([Line(text)], seconds=10, voice_id="male-2", seed=1)
    squeezed = speak_lines([Line(text)], seconds=3, voice_id="male-2", seed=1)
    assert at_ease.lines[0]["wpm"] == 165
    assert 165 < squeezed.lines[0]["wpm"] <= MAX_WPM
    assert squeezed.lines[0]["text"] == text  # every word still said
    assert squeezed.end_s <= 3 - 0.15


def test_too_long_drops_whole_trailing_words_never_mid_word():
    words = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen".split()
    speech = speak_lines([Line(" ".join(words * 2))], seconds=2, voice_id="female-2", seed=1)
    line = speech.lines[0]
    said = line["text"].rstrip(".").split()
    assert line["wpm"] == MAX_WPM and line["dropped_words"] == len(words) * 2 - len(said) > 0
    assert said == (words * 2)[: len(said)]  # a prefix of whole words
    assert speech.end_s <= 2 - 0.1
    body = speech.samples[int(speech.start_s * RATE): int(speech.end_s * RATE)]
    # it ends as speech ends (decayed), not chopped while loud
    assert _rms(body[-int(0.01 * RATE):]) < 0.25 * _rms(body)


def test_lines_in_order_with_their_own_voices_and_delivery():
    lines = find_dialogue('"Run!" she shouted. The old man whispers "wait for me".')
    speech = speak_lines(lines, seconds=4, voice_id=None, seed=3)
    first, second = speech.lines
    assert (first["voice"], first["style"]) == ("female-1", "shout")
    assert (second["voice"], second["style"]) == ("elder-male", "whisper")
    assert first["end_s"] < second["start_s"]
    loud = _rms(speech.samples[int(first["start_s"] * RATE): int(first["end_s"] * RATE)])
    soft = _rms(speech.samples[int(second["start_s"] * RATE): int(second["end_s"] * RATE)])
    assert soft < 0.6 * loud  # a whisper is quieter than a shout


def test_voice_id_wins_and_nothing_to_say_is_none():
    speech = speak_lines(find_dialogue('An old man says "hello"'), seconds=2, voice_id="fr-female-1", seed=0)
    assert speech.lines[0]["voice"] == "fr-female-1"
    assert speak_lines([], seconds=3, voice_id="female-1", seed=0) is None
