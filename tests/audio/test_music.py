"""Background music: fetched under the guards, decoded in every listed format, trimmed or looped."""

from __future__ import annotations

import numpy as np
import pytest

from stillmotion.audio.dsp import RATE
from stillmotion.audio.music import AudioDownloadFailure, AudioInvalid, decode_music, fit_music, load_music
from stillmotion.settings import Settings
from tests.audio.audio_support import click_track, encode, tone
from tests.helpers import png_bytes, textured_image


def loopback() -> Settings:
    return Settings(allow_private_urls=True, download_timeout_s=5)


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3", "m4a"])
def test_every_listed_format_decodes(fmt):
    decoded = decode_music(encode(tone(440, 1.5), fmt), 10)
    assert decoded.format == fmt
    assert decoded.seconds == pytest.approx(1.5, abs=0.05)
    assert decoded.samples.shape[1] == 2 and abs(decoded.samples.shape[0] / RATE - 1.5) < 0.05
    spectrum = np.abs(np.fft.rfft(decoded.samples[RATE // 4: RATE, 0]))
    assert np.argmax(spectrum) * RATE / (RATE * 3 // 4) == pytest.approx(440, abs=3)


def test_long_file_is_trimmed_and_faded():
    out, facts = fit_music(decode_music(encode(tone(330, 8), "flac"), 6), 3 * RATE)
    assert out.shape == (3 * RATE, 2)
    assert facts["fit"] == "trimmed" and facts["fade_in_s"] == 0.3 and facts["fade_out_s"] == 0.6
    assert abs(out[0, 0]) < 1e-3 and abs(out[-1, 0]) < 1e-3  # faded at both ends
    assert np.abs(out[RATE: 2 * RATE, 0]).max() == pytest.approx(0.3, abs=0.01)  # full level between


def test_short_file_is_looped_with_a_crossfade():
    clicks, times = click_track(120, 1.5, 0.25)  # clicks at 0.25, 0.75, 1.25 s
    silent_head = np.concatenate([np.zeros((RATE // 2, 2), np.float32), clicks])  # leading silence skipped
    out, facts = fit_music(decode_music(encode(silent_head, "wav"), 10), 5 * RATE)
    assert facts["fit"] == "looped" and facts["skipped_silence_s"] == pytest.approx(0.75, abs=0.01)
    loop = int(1.25 * RATE) - int(1.25 * RATE) // 4  # 1.25 s of sound less a quarter crossfaded
    assert facts["loop_s"] == round(loop / RATE, 3) and facts["crossfade_s"] == 0.312
    assert facts["loops"] == -(-5 * RATE // loop) == 6
    env = np.abs(out[:, 0])
    onsets = np.flatnonzero((env[1:] > 0.05) & (env[:-1] <= 0.05) & (np.arange(1, len(env)) > 0))
    onsets = onsets[np.concatenate([[True], np.diff(onsets) > RATE // 10])] / RATE
    onsets = onsets[onsets < 4.0]  # before the fade-out
    # 1.25 s of clicks every 0.5 s, looped at 0.9375 s: the click at 1.0 s is crossfaded into
    # the loop's head, so each loop holds two clicks and replays them at the same offsets
    assert len(onsets) >= 6
    assert np.allclose(onsets[2:] - onsets[:-2], facts["loop_s"], atol=0.002)
    assert np.array_equal(out[RATE: RATE + 500], out[RATE + loop: RATE + loop + 500])


def test_not_audio_is_refused_with_the_field_named():
    with pytest.raises(AudioInvalid, match=r"^audio: not a supported audio file .*has no audio stream"):
        decode_music(png_bytes(textured_image(64, 64)), 5)
    with pytest.raises(AudioInvalid, match=r"^audio: not a readable audio file"):
        decode_music(b"this is plainly not a sound file" * 100, 5)
    with pytest.raises(AudioInvalid, match="no audible audio"):
        decode_music(encode(np.zeros((RATE, 2), np.float32), "wav"), 5)


def test_download_guards(files):
    ok = files.add_bytes("/song.mp3", encode(tone(440, 2), "mp3"), "audio/mpeg")
    samples, facts = load_music(ok, 3 * RATE, loopback())
    assert samples.shape == (3 * RATE, 2) and facts["format"] == "mp3" and facts["fit"] == "looped"
    big = files.add_bytes("/big.wav", b"\0" * (20 * 1024 * 1024 + 1), "audio/wav")
    with pytest.raises(AudioDownloadFailure, match=r"^audio: larger than the 20 MB limit") as err:
        load_music(big, RATE, loopback())
    assert err.value.reason == "AudioDownloadFailure"
    with pytest.raises(AudioDownloadFailure, match=r"^audio: download failed: HTTP 404"):
        load_music(files.url("/missing.mp3"), RATE, loopback())
    with pytest.raises(AudioDownloadFailure, match=r"^audio: refused URL: host '127.0.0.1' resolves to non-public"):
        load_music(ok, RATE, Settings(allow_private_urls=False))
