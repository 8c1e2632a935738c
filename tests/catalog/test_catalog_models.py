"""Per-model fields and cross-field rules: modes, audio, style, aspect, watermark, off-peak."""

from __future__ import annotations

import pytest
from catalog_cases import ASYNC, BASE, JOB, PRO, Q2, Q3, SE, TURBO, args, refused

from stillmotion.catalog import IGNORED_KEY, get_model

# ---- mode ------------------------------------------------------------------------------------


def test_q3_modes():
    m = get_model(Q3)
    assert m.validate(BASE[Q3])["mode"] == "pro"
    assert m.validate(args(Q3, mode="turbo"))["mode"] == "turbo"
    assert refused(m, args(Q3, mode="fast"), "mode").message == "mode: must be one of pro, turbo, got 'fast'"
    refused(m, args(Q3, mode="pro-fast"), "mode")
    refused(m, args(Q3, mode="PRO"), "mode")
    for bad in (1, True, None, ["pro"], {}):
        assert "must be a string" in refused(m, args(Q3, mode=bad), "mode").message


@pytest.mark.parametrize("model_id", [Q2, SE])
def test_q2_modes(model_id):
    m = get_model(model_id)
    assert m.validate(BASE[model_id])["mode"] == "pro"
    for mode in ("turbo", "pro", "pro-fast"):
        assert m.validate(args(model_id, mode=mode))["mode"] == mode
    assert refused(m, args(model_id, mode="fast"), "mode").message == (
        "mode: must be one of turbo, pro, pro-fast, got 'fast'")


@pytest.mark.parametrize("model_id", [Q2, SE])
def test_540p_refused_in_pro_fast_only(model_id):
    m = get_model(model_id)
    err = refused(m, args(model_id, mode="pro-fast", resolution="540p"), "resolution")
    assert err.message == "resolution: 540p is not supported in pro-fast mode"
    for ok in ("720p", "1080p"):
        assert m.validate(args(model_id, mode="pro-fast", resolution=ok))["resolution"] == ok
    for mode in ("pro", "turbo"):
        assert m.validate(args(model_id, mode=mode, resolution="540p"))["resolution"] == "540p"


def test_q3_540p_allowed_in_both_modes():
    for mode in ("pro", "turbo"):
        assert get_model(Q3).validate(args(Q3, mode=mode, resolution="540p"))["resolution"] == "540p"


@pytest.mark.parametrize("model_id", ASYNC)
def test_async_models_have_no_mode_argument(model_id):
    out = get_model(model_id).validate(args(model_id, mode="turbo"))
    assert out[IGNORED_KEY] == ["mode"]


# ---- q2 audio --------------------------------------------------------------------------------


def test_q2_generate_audio():
    m = get_model(Q2)
    assert m.validate(BASE[Q2])["generate_audio"] is False
    assert "voice_id" not in m.validate(BASE[Q2])
    for v, want in ((True, True), (False, False), ("true", True), ("false", False), ("TRUE", True),
                    ("False", False)):
        out = m.validate(args(Q2, generate_audio=v, voice_id="female-1"))
        assert out["generate_audio"] is want
    for bad in (1, 0, "yes", "", None, [True], {}, 1.0):
        err = refused(m, args(Q2, generate_audio=bad, voice_id="v1"), "generate_audio")
        assert "must be a boolean" in err.message


def test_q2_voice_id_required_with_audio():
    m = get_model(Q2)
    err = refused(m, args(Q2, generate_audio=True), "voice_id")
    assert err.message == "voice_id: is required when generate_audio is true"
    refused(m, args(Q2, generate_audio="true"), "voice_id")
    assert "must not be empty" in refused(m, args(Q2, generate_audio=True, voice_id=""), "voice_id").message
    for bad in (5, True, None, ["v"], {}):
        assert "must be a string" in refused(m, args(Q2, generate_audio=True, voice_id=bad), "voice_id").message
    out = m.validate(args(Q2, generate_audio=True, voice_id="female-1"))
    assert out["voice_id"] == "female-1"
    # a voice without audio is kept (harmless) and not an error
    assert m.validate(args(Q2, voice_id="female-1"))["voice_id"] == "female-1"


def test_start_end_has_no_audio_args():
    out = get_model(SE).validate(args(SE, generate_audio=True, voice_id="v"))
    assert out[IGNORED_KEY] == ["generate_audio", "voice_id"]
    assert "generate_audio" not in out


def test_q3_job_has_no_audio_args():
    out = get_model(Q3).validate(args(Q3, generate_audio=True))
    assert out[IGNORED_KEY] == ["generate_audio"]


# ---- async pro -------------------------------------------------------------------------------


def test_pro_defaults():
    out = get_model(PRO).validate(BASE[PRO])
    assert out == {"images": BASE[PRO]["images"], "prompt": "", "duration": 5, "resolution": "720p",
                   "style": "general", "aspect_ratio": "16:9", "watermark": False,
                   "wm_position": "bottom-right", "is_rec": False, "off_peak": False}


def test_pro_audio_is_a_music_url():
    m = get_model(PRO)
    for url in ("https://x.com/m.mp3", "http://x.com/m.wav"):
        assert m.validate(args(PRO, audio=url))["audio"] == url
    assert "audio" not in m.validate(args(PRO, audio=""))  # compat: "" = not given
    for bad in ("ftp://x.com/m.mp3", "x.com/m.mp3", "https://", "music"):
        assert "must be an http(s) URL" in refused(m, args(PRO, audio=bad), "audio").message
    for bad in (True, False, 1, None, ["https://x.com/m.mp3"], {}):
        err = refused(m, args(PRO, audio=bad), "audio")
        assert "must be a string" in err.message


def test_pro_style():
    m = get_model(PRO)
    for s in ("general", "anime"):
        assert m.validate(args(PRO, style=s))["style"] == s
    assert refused(m, args(PRO, style="cartoon"), "style").message == (
        "style: must be one of general, anime, got 'cartoon'")
    for bad in (1, None, True):
        refused(m, args(PRO, style=bad), "style")


def test_pro_aspect_ratio():
    m = get_model(PRO)
    for ar in ("16:9", "9:16", "4:3", "3:4", "1:1"):
        assert m.validate(args(PRO, aspect_ratio=ar))["aspect_ratio"] == ar
    for bad in ("21:9", "16/9", "", "auto"):
        refused(m, args(PRO, aspect_ratio=bad), "aspect_ratio")
    for bad in (1.77, None, [16, 9]):
        assert "must be a string" in refused(m, args(PRO, aspect_ratio=bad), "aspect_ratio").message


def test_pro_watermark():
    m = get_model(PRO)
    assert m.validate(args(PRO, watermark=True))["watermark"] is True
    for bad in ("true", 1, None, [], {}):
        assert "must be a boolean" in refused(m, args(PRO, watermark=bad), "watermark").message
    assert m.validate(args(PRO, wm_url="https://x.com/w.png"))["wm_url"] == "https://x.com/w.png"
    assert "wm_url" not in m.validate(args(PRO, wm_url=""))
    refused(m, args(PRO, wm_url="file:///etc/passwd"), "wm_url")
    refused(m, args(PRO, wm_url=5), "wm_url")


@pytest.mark.parametrize("given,want", [
    ("top-left", "top-left"), ("top-right", "top-right"), ("bottom-left", "bottom-left"),
    ("bottom-right", "bottom-right"), (1, "top-left"), (2, "top-right"), (3, "bottom-left"),
    (4, "bottom-right"), ("1", "top-left"), ("4", "bottom-right"),
])
def test_pro_wm_position(given, want):
    assert get_model(PRO).validate(args(PRO, wm_position=given))["wm_position"] == want


@pytest.mark.parametrize("bad", [0, 5, "0", "5", "center", "Top-Left", ""])
def test_pro_wm_position_refused(bad):
    err = refused(get_model(PRO), args(PRO, wm_position=bad), "wm_position")
    assert "top-left, top-right, bottom-left, bottom-right (or 1-4)" in err.message


@pytest.mark.parametrize("bad", [True, False, None, 1.0, [1], {}])
def test_pro_wm_position_wrong_types(bad):
    err = refused(get_model(PRO), args(PRO, wm_position=bad), "wm_position")
    assert "must be a string" in err.message


# ---- async turbo -----------------------------------------------------------------------------


def test_turbo_defaults():
    out = get_model(TURBO).validate(BASE[TURBO])
    assert out == {"images": BASE[TURBO]["images"], "prompt": "", "duration": 5, "resolution": "720p",
                   "audio": True, "audio_type": "all", "is_rec": False, "off_peak": False}


def test_turbo_audio_is_a_boolean():
    m = get_model(TURBO)
    assert m.validate(args(TURBO, audio=False))["audio"] is False
    for bad in ("true", "https://x.com/m.mp3", 1, None, []):
        assert "must be a boolean" in refused(m, args(TURBO, audio=bad), "audio").message


def test_turbo_audio_type():
    m = get_model(TURBO)
    for t in ("all", "speech_only", "sound_effect_only"):
        assert m.validate(args(TURBO, audio_type=t))["audio_type"] == t
    assert refused(m, args(TURBO, audio_type="music"), "audio_type").message == (
        "audio_type: must be one of all, speech_only, sound_effect_only, got 'music'")
    refused(m, args(TURBO, audio_type=None), "audio_type")


def test_turbo_has_no_pro_fields():
    out = get_model(TURBO).validate(args(TURBO, style="anime", aspect_ratio="1:1", watermark=True))
    assert out[IGNORED_KEY] == ["style", "aspect_ratio", "watermark"]


# ---- shared async booleans -------------------------------------------------------------------


@pytest.mark.parametrize("model_id", ASYNC)
@pytest.mark.parametrize("field", ["is_rec", "off_peak"])
def test_async_booleans(model_id, field):
    m = get_model(model_id)
    assert m.validate(BASE[model_id])[field] is False
    assert m.validate(args(model_id, **{field: True}))[field] is True
    for bad in ("true", 1, 0, None, [], {}, 1.0):
        err = refused(m, args(model_id, **{field: bad}), field)
        assert err.message.startswith(f"{field}: must be a boolean")


@pytest.mark.parametrize("model_id", JOB)
def test_job_models_ignore_off_peak(model_id):
    assert get_model(model_id).validate(args(model_id, off_peak=True))[IGNORED_KEY] == ["off_peak"]


# ---- first problem wins ----------------------------------------------------------------------


def test_first_problem_in_field_order():
    m = get_model(Q2)
    refused(m, {"mode": "x", "duration": 99}, "mode")
    refused(m, {"prompt": "p", "duration": 99}, "duration")
    # field errors come before cross-field rules
    refused(m, args(Q2, mode="pro-fast", resolution="540p", generate_audio="maybe"), "generate_audio")
