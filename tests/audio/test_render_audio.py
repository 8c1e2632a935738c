"""Whole renders through the motion engine: each audio kind, lengths, loudness, is_rec."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stillmotion.audio.mix import loudness
from stillmotion.domain import AudioSpec, GenerationSpec
from stillmotion.engines import get_engine
from stillmotion.media.video import probe
from stillmotion.render import render_clip
from stillmotion.settings import Settings
from tests.audio.audio_support import RATE, band_energy, click_track, decode_track, encode, tone
from tests.helpers import textured_image

PROMPT = 'Rain falls on the window. A woman says "It is raining again, let us stay in." The camera zooms in quickly.'
SETTINGS = Settings(allow_private_urls=True, download_timeout_s=5)


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("img") / "in.png"
    Image.fromarray(textured_image(192, 112)).save(path)
    return path


def render(tmp_path: Path, image: Path, audio: AudioSpec, prompt: str = PROMPT, seconds: int = 2):
    spec = GenerationSpec(model="test", mode="turbo", prompt=prompt, image=str(image), width=160, height=96,
                          num_frames=seconds * 24, duration=seconds, seed=11, resolution="540p", audio=audio)
    out = render_clip(get_engine("motion"), spec, tmp_path / "v.mp4", tmp_path / "c.jpg", settings=SETTINGS)
    return out, tmp_path / "v.mp4"


def check_track(path: Path, seconds: float) -> np.ndarray:
    """The muxed track: AAC 48 kHz stereo, as long as the video (within a frame), -16 +/- 1 LUFS."""
    info = probe(path)
    assert info.frames == seconds * 24 and info.has_audio
    assert (info.audio_rate, info.audio_channels) == (48_000, 2)
    assert abs(info.audio_duration - info.duration) <= 1 / 24
    track = decode_track(path)
    assert abs(len(track) / RATE - seconds) <= 1 / 24
    assert loudness(track) == pytest.approx(-16.0, abs=1.0)
    assert float(np.abs(track).max()) < 1.0  # no clipping
    return track


def test_no_audio_asked_no_track(tmp_path, image):
    out, path = render(tmp_path, image, AudioSpec(kind="none"))
    assert not out.has_audio and not probe(path).has_audio and "audio" not in out.metadata


def test_speech_only_is_speech_and_nothing_else(tmp_path, image):
    out, path = render(tmp_path, image, AudioSpec(kind="speech_only"), seconds=3)
    facts = out.metadata["audio"]
    assert out.has_audio and facts["effects"] is None and facts["speech"]["text"] == "It is raining again, let us stay in."
    track = check_track(path, 3)
    start, end = facts["speech"]["start_s"], facts["speech"]["end_s"]
    voiced = track[int(start * RATE): int(end * RATE)]
    assert band_energy(voiced, 80, 4000) > 0.85
    after = track[int((end + 0.15) * RATE):]  # no rain, no whoosh: only the quiet room tone
    assert len(after) > RATE // 10
    rms = lambda x: float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))  # noqa: E731
    assert rms(after) < 0.05 * rms(voiced)  # an effects layer would sit at about 0.4


def test_effects_only_has_no_speech(tmp_path, image):
    out, path = render(tmp_path, image, AudioSpec(kind="sound_effect_only"))
    facts = out.metadata["audio"]
    assert facts["speech"] is None and "speech_note" not in facts
    assert facts["effects"]["scenes"][0] == "rain"
    track = check_track(path, 2)
    windows = [track[i: i + RATE // 4] for i in range(0, len(track) - RATE // 4, RATE // 4)]
    levels = [float(np.sqrt(np.mean(w**2))) for w in windows]
    assert min(levels[1:-1]) > 0.2 * float(np.median(levels))  # rain all along, no silent gap
    assert band_energy(track, 2000, 12000) > 0.2  # the hiss of rain, not a voice


def test_all_has_both_and_no_dialogue_means_no_speech(tmp_path, image):
    out, path = render(tmp_path, image, AudioSpec(kind="all"))
    facts = out.metadata["audio"]
    assert facts["speech"]["lines"][0]["voice"] == "female-1" and facts["effects"]["scenes"] == ["rain"]
    check_track(path, 2)
    quiet, _ = render(tmp_path, image, AudioSpec(kind="all"), prompt="Ocean waves under a slow pan left.")
    assert quiet.metadata["audio"]["speech"] is None
    assert quiet.metadata["audio"]["speech_note"] == "no dialogue in the prompt"


def test_music_is_looped_under_speech(tmp_path, image, files):
    clicks, _ = click_track(120, 1.5, 0.1)
    url = files.add_bytes("/short.wav", encode(clicks, "wav"), "audio/wav")
    out, path = render(tmp_path, image, AudioSpec(kind="music", music_url=url), seconds=3)
    music = out.metadata["audio"]["music"]
    assert music["fit"] == "looped" and music["loops"] >= 2 and music["format"] == "wav"
    assert out.metadata["audio"]["ducked"] and out.metadata["audio"]["speech"] is not None
    check_track(path, 3)


def test_is_rec_puts_motion_accents_on_the_beats(tmp_path, image, files):
    clicks, times = click_track(120, 8, 0.25)
    bass = tone(55, 8, amp=0.15) * np.linspace(0.3, 1.0, 8 * RATE, dtype=np.float32)[:, None]
    url = files.add_bytes("/clicks.flac", encode(clicks + bass, "flac"), "audio/flac")
    out, path = render(tmp_path, image, AudioSpec(kind="music", music_url=url, is_rec=True),
                       prompt="A slow push in on the stage.", seconds=5)
    facts = out.metadata["audio"]
    assert facts["music"]["tempo_bpm"] == pytest.approx(120, rel=0.02)
    assert facts["beats_to_engine"] >= 8
    beats = np.array(times) - facts["music"]["skipped_silence_s"]  # the clicks on the clip's clock
    accents = (out.metadata.get("motion") or {}).get("accents")
    assert accents, "the motion engine reported no accents for the beats it was given"
    near = [np.abs(beats - a).min() <= 0.05 for a in accents]
    assert sum(near) >= 0.8 * len(accents)
    check_track(path, 5)


def test_audio_facts_are_json(tmp_path, image, files):
    import json

    clicks, _ = click_track(100, 3, 0.2)
    url = files.add_bytes("/facts.wav", encode(clicks, "wav"), "audio/wav")
    out, _ = render(tmp_path, image, AudioSpec(kind="music", music_url=url, is_rec=True))
    facts = out.metadata["audio"]
    assert json.loads(json.dumps(facts)) == facts  # the job store keeps metadata as JSON
    assert all(type(t) is float for t in facts["music"]["beat_times"])


def test_is_rec_without_music_effects_follow_the_motion(tmp_path, image):
    out, path = render(tmp_path, image, AudioSpec(kind="sound_effect_only", is_rec=True),
                       prompt="A man walks down the street. The camera quickly pans left, then zooms in fast.", seconds=3)
    accents = out.metadata["motion"]["accents"]
    effects = out.metadata["audio"]["effects"]
    assert accents and effects["on_motion_rhythm"] and effects["scenes"][0] == "footsteps"
    assert [e["at_s"] for e in effects["motion_sounds"] if e["sound"] == "accent"] == [round(a, 3) for a in accents]
    check_track(path, 3)


def test_engine_soundtrack_is_the_lead(image):
    from stillmotion.audio.soundtrack import make_soundtrack

    spec = GenerationSpec(model="test", mode="turbo", prompt='She says "hi". Rain.', image=str(image), width=160,
                          height=96, num_frames=48, duration=2, seed=1, resolution="540p", audio=AudioSpec(kind="all"))
    t = np.arange(2 * 16_000) / 16_000
    own = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)  # mono at 16 kHz, as an engine might give
    track = make_soundtrack(spec, metadata={}, engine_audio=(own, 16_000))
    assert track.facts["source"] == "engine" and track.facts["speech"] is None and track.facts["effects"] is None
    assert track.samples.shape == (2 * RATE, 2)
    assert loudness(track.samples) == pytest.approx(-16.0, abs=0.5)
    spectrum = np.abs(np.fft.rfft(track.samples[:, 0]))
    assert np.argmax(spectrum) / 2 == pytest.approx(440, abs=1)  # bins are 0.5 Hz over 2 s
