"""Beat tracking on click tracks; the limiter, loudness target and ducking of the mix."""

from __future__ import annotations

import numpy as np
import pytest

from stillmotion.audio.beats import track_beats
from stillmotion.audio.dsp import RATE, db
from stillmotion.audio.mix import CEILING, duck_gain, limit, loudness, mix
from tests.audio.audio_support import click_track, tone


@pytest.mark.parametrize("bpm, offset", [(120, 0.25), (100, 0.1), (137, 0.33), (160, 0.05), (75, 0.4)])
def test_click_track_tempo_and_beats(bpm, offset):
    x, times = click_track(bpm, 8, offset)
    x = x + np.random.default_rng(bpm).standard_normal(x.shape).astype(np.float32) * 0.01
    beats = track_beats(x)
    assert beats.tempo_bpm == pytest.approx(bpm, rel=0.02)
    found = np.array(beats.times)
    assert len(found) == len(times)
    assert np.abs(found - times).max() < 0.02  # every beat within 20 ms of its click


def test_silence_has_no_beats():
    assert track_beats(np.zeros((RATE * 2, 2), np.float32)).times == ()


def test_limiter_keeps_peaks_under_the_ceiling_smoothly():
    x = tone(220, 2, amp=0.5)
    x[RATE: RATE + 200] *= 4.0  # a 2.0 spike
    y = limit(x)
    assert float(np.abs(y).max()) <= CEILING + 1e-6
    assert np.allclose(y[: RATE // 2], x[: RATE // 2])  # untouched away from the peak
    gain = np.abs(y[:, 0]) / np.maximum(np.abs(x[:, 0]), 1e-6)
    loud = np.abs(x[:, 0]) > 0.2  # where the ratio is well defined
    steps = np.abs(np.diff(gain))[loud[:-1] & loud[1:]]
    assert steps.max() < 0.01  # the gain glides, it does not jump
    quiet = tone(220, 1, amp=0.2)
    assert limit(quiet) is quiet


def test_mix_hits_target_loudness_without_clipping():
    rng = np.random.default_rng(0)
    n = 4 * RATE
    effects = rng.standard_normal((n, 2)).astype(np.float32) * 0.9  # loud and peaky
    room = rng.standard_normal((n, 2)).astype(np.float32) * 0.01
    out, facts = mix(n, room=room, target=-16.0, effects=effects)
    assert loudness(out) == pytest.approx(-16.0, abs=0.5)
    assert facts["lufs"] == pytest.approx(-16.0, abs=0.5)
    assert float(np.abs(out).max()) <= CEILING + 1e-6


def test_music_is_ducked_under_speech():
    n = 4 * RATE
    speech = np.zeros(n, np.float32)
    speech[RATE: 2 * RATE] = tone(300, 1)[:, 0]
    gain = duck_gain(speech)
    assert gain[int(1.5 * RATE)] == pytest.approx(db(-9.0), abs=0.01)
    assert gain[int(3.5 * RATE)] == pytest.approx(1.0, abs=0.01)
    music = tone(500, 4, amp=0.3)
    room = np.zeros((n, 2), np.float32)
    out, facts = mix(n, room=room, target=-16.0, lead=speech, music=music)
    assert facts["ducked"]
    spectrum = lambda x: np.abs(np.fft.rfft(x[:, 0]))  # noqa: E731
    during, after = spectrum(out[int(1.2 * RATE): int(1.8 * RATE)]), spectrum(out[int(3.0 * RATE): int(3.6 * RATE)])
    bin500 = 500 * int(0.6 * RATE) // RATE
    assert during[bin500] < 0.5 * after[bin500]  # the music is 9 dB lower while speech sounds


def test_sparse_clicks_reach_the_target_through_the_soft_clipper():
    from stillmotion.audio.mix import SOFT_CEILING

    clicks, _ = click_track(120, 4, 0.25)  # a crest factor no peak limiter can bring to -16 LUFS
    limited = loudness(limit(clicks * db(30.0)))
    assert limited < -26.0  # the limiter alone is stuck far below the target
    out, facts = mix(len(clicks), room=np.zeros_like(clicks), target=-16.0, music=clicks)
    assert facts["soft_clip_drive_db"] > 0 and facts["lufs"] == pytest.approx(loudness(out), abs=0.01)
    assert facts["lufs"] > limited + 4  # much closer; the rest would take destroying the clicks
    assert float(np.abs(out).max()) <= SOFT_CEILING + 1e-6
    with_bed, facts = mix(len(clicks), room=np.zeros_like(clicks), target=-16.0, music=clicks,
                          effects=np.random.default_rng(0).standard_normal(clicks.shape).astype(np.float32) * 0.05)
    assert facts["lufs"] == pytest.approx(-16.0, abs=0.5)  # with any bed under them it gets there


def _kick(rate: int = RATE) -> np.ndarray:
    """A synthetic kick drum: a pitch drop from 155 to 45 Hz with a 120 ms decay (its flux peaks
    tens of ms after the attack, which is what a listener hears as the beat)."""
    t = np.arange(int(0.35 * rate)) / rate
    phase = 2 * np.pi * np.cumsum(45 + 110 * np.exp(-t / 0.03)) / rate
    return (np.sin(phase) * np.exp(-t / 0.12) * np.minimum(1, t / 0.002)).astype(np.float32)


def _drum_track(bpm: float, seconds: float, offset: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Kicks on the beats, a bright hi-hat on every off-beat and a snare on 2 and 4: the mix a
    broadband onset detector locks onto the hi-hats."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    x = np.zeros(n, np.float32)
    times = np.arange(offset, seconds - 0.4, 60.0 / bpm)
    kick = _kick()
    hat = np.diff(rng.standard_normal(int(0.03 * RATE)), prepend=0).astype(np.float32) * np.exp(-np.arange(int(0.03 * RATE)) / 240)
    snare = rng.standard_normal(int(0.12 * RATE)).astype(np.float32) * np.exp(-np.arange(int(0.12 * RATE)) / 2400)
    for k, t in enumerate(times):
        i = int(round(t * RATE))
        x[i : i + len(kick)] += 0.8 * kick[: n - i]
        if k % 2:
            x[i : i + len(snare)] += 0.25 * snare[: n - i]
        j = int(round((t + 30.0 / bpm) * RATE))
        x[j : j + len(hat)] += 0.15 * hat[: max(0, n - j)]
    return np.stack([x, x], axis=1), times


@pytest.mark.parametrize("bpm, offset", [(90, 0.3), (110, 0.12), (128, 0.41), (150, 0.2)])
def test_beats_and_zoom_punches_land_on_the_kick_within_a_frame(bpm: float, offset: float) -> None:
    from stillmotion.engines.motion.plan import plan_motion

    x, kicks = _drum_track(bpm, 10, offset, seed=bpm)
    beats = track_beats(x + np.random.default_rng(1).standard_normal(x.shape).astype(np.float32) * 0.005)
    assert beats.tempo_bpm == pytest.approx(bpm, rel=0.02)
    found = np.array(beats.times)
    assert np.abs(found[:, None] - kicks[None, :]).min(axis=0).max() < 0.012  # every kick has its beat...
    inside = found[(found > kicks[0] - 0.1) & (found < kicks[-1] + 0.1)]
    assert np.abs(inside[:, None] - kicks[None, :]).min(axis=1).max() < 0.012  # ...and no beat falls between kicks
    fps = 24
    plan = plan_motion("the camera pushes in", 10.0, np.random.default_rng(0), tuple(beats.times))
    assert plan.accents and plan.accent_source == "beats"
    frame_t = np.arange(10 * fps) / fps
    zoom = np.array([plan.state(t / 10.0).zoom for t in frame_t]) - np.array(
        [plan_motion("the camera pushes in", 10.0, np.random.default_rng(0)).state(t / 10.0).zoom for t in frame_t])
    for accent in plan.accents:  # the punch peaks on the frame nearest the audible kick
        near = np.abs(frame_t - accent) < 0.3
        peak = frame_t[near][np.argmax(zoom[near])]
        assert np.abs(kicks - peak).min() <= 1.0 / fps, (accent, peak)


def test_beats_of_a_real_recorded_instrument_over_drums() -> None:
    """A real recording (CPython's test sample of a plucked string, PSF licence, shipped in
    tests/audio/pluck.wav) played as a melody over the drum track: beats stay on the kicks."""
    import wave
    from pathlib import Path

    with wave.open(str(Path(__file__).parent / "pluck.wav")) as w:
        raw = np.frombuffer(w.readframes(w.getnframes()), np.int32 if w.getsampwidth() == 4 else np.int16)
        pluck = raw.reshape(-1, w.getnchannels()).mean(axis=1).astype(np.float32)
        rate = w.getframerate()
    pluck = np.interp(np.arange(int(len(pluck) * RATE / rate)) * rate / RATE, np.arange(len(pluck)), pluck)
    pluck = (pluck / np.abs(pluck).max()).astype(np.float32)
    x, kicks = _drum_track(100, 10, 0.25, seed=3)
    rng = np.random.default_rng(4)
    for t in np.arange(0.25, 9.5, 60.0 / 100 / 2) + rng.uniform(-0.02, 0.02, 38)[:len(np.arange(0.25, 9.5, 0.3))]:
        i = int(t * RATE)
        part = pluck[: len(x) - i] * 0.3
        x[i : i + len(part)] += part[:, None]
    beats = track_beats(x)
    found = np.array(beats.times)
    assert beats.tempo_bpm == pytest.approx(100, rel=0.02)
    assert np.abs(found[:, None] - kicks[None, :]).min(axis=0).max() < 1.0 / 24


# Beats of tests/audio/hunting-excerpt.flac (seconds from its start): the broadband attacks read off a
# plot of its 2-8 kHz envelope, one every 0.435 s (138 BPM), each checked by eye against the waveform.
HUNTING_BEATS = (0.441, 0.877, 1.312, 1.747, 2.18, 2.615, 3.05, 3.484, 3.919, 4.355, 4.79, 5.224, 5.658,
                 6.093, 6.528, 6.964, 7.399, 7.834, 8.267, 8.702, 9.137, 9.571)


def test_beats_of_a_real_music_excerpt_within_a_frame() -> None:
    """Ten seconds of real music (Lincoln Domina, "Hunting", CC BY-SA 3.0: tests/audio/README.md),
    decoded by the service's own music decoder: every annotated beat has a tracked beat within one
    frame at 24 fps, and no tracked beat falls between them."""
    from pathlib import Path

    from stillmotion.audio.music import decode_music

    decoded = decode_music((Path(__file__).parent / "hunting-excerpt.flac").read_bytes(), 30.0)
    beats = track_beats(decoded.samples)
    assert beats.tempo_bpm == pytest.approx(138, rel=0.02)
    found, truth = np.array(beats.times), np.array(HUNTING_BEATS)
    assert np.abs(found[:, None] - truth[None, :]).min(axis=0).max() < 1.0 / 24
    inside = found[(found > truth[0] - 0.1) & (found < truth[-1] + 0.1)]
    assert np.abs(inside[:, None] - truth[None, :]).min(axis=1).max() < 1.0 / 24
