"""build_spec and image_refs for every model."""

from __future__ import annotations

import pytest
from catalog_cases import ALL, IMG, PRO, Q2, Q3, SE, TAIL, TURBO, args

from stillmotion.catalog import get_model
from stillmotion.domain import AudioSpec, GenerationSpec, StoredImage, WatermarkSpec

HEAD = StoredImage(path="inputs/j1/image.png", width=1000, height=800)
TAIL_IMG = StoredImage(path="inputs/j1/image_tail.png", width=1600, height=900)


def test_image_refs():
    assert get_model(Q3).image_refs(args(Q3)) == {"image": IMG}
    assert get_model(Q2).image_refs(args(Q2)) == {"image": IMG}
    assert list(get_model(SE).image_refs(args(SE)).items()) == [("image", IMG), ("image_tail", TAIL)]
    assert get_model(PRO).image_refs(args(PRO)) == {"images[0]": IMG}
    assert get_model(TURBO).image_refs(args(TURBO)) == {"images[0]": IMG}


def test_q3_spec():
    spec = get_model(Q3).build_spec(args(Q3, mode="turbo", duration="7", resolution="1080p"),
                                    {"image": HEAD}, seed=42)
    assert spec == GenerationSpec(
        model=Q3, mode="turbo", prompt="a parrot flies", image=HEAD.path, width=1350, height=1080,
        num_frames=168, duration=7, seed=42, resolution="1080p", fps=24, image_tail=None,
        style="general", aspect_ratio=None, audio=AudioSpec(), watermark=None, off_peak=False)


def test_q2_spec_with_audio():
    spec = get_model(Q2).build_spec(
        args(Q2, generate_audio="true", voice_id="female-1", duration=1, resolution="540p", mode="turbo"),
        {"image": StoredImage("a.png", 800, 1000)}, seed=1)
    assert (spec.mode, spec.width, spec.height, spec.num_frames, spec.duration) == ("turbo", 540, 676, 24, 1)
    assert spec.audio == AudioSpec(kind="all", voice_id="female-1")
    assert spec.watermark is None and spec.off_peak is False


def test_q2_spec_without_audio():
    spec = get_model(Q2).build_spec(args(Q2), {"image": HEAD}, seed=9)
    assert spec.audio == AudioSpec(kind="none")
    assert (spec.mode, spec.resolution, spec.width, spec.height) == ("pro", "720p", 900, 720)
    assert spec.num_frames == 120


def test_start_end_spec_uses_head_aspect_and_tail_path():
    spec = get_model(SE).build_spec(args(SE, duration=8, mode="pro-fast"),
                                    {"image": HEAD, "image_tail": TAIL_IMG}, seed=3)
    assert spec.image == HEAD.path and spec.image_tail == TAIL_IMG.path
    assert (spec.width, spec.height) == (900, 720)
    assert spec.num_frames == 192 and spec.mode == "pro-fast"
    assert spec.audio == AudioSpec()


def test_pro_spec_full():
    body = args(PRO, prompt="", duration=16, resolution="540p", style="anime", aspect_ratio="9:16",
                audio="https://x.com/m.mp3", is_rec=True, watermark=True, wm_url="https://x.com/w.png",
                wm_position=1, off_peak=True, seed=77)
    m = get_model(PRO)
    assert m.requested_seed(body) == 77
    spec = m.build_spec(body, {"images[0]": HEAD}, seed=77)
    assert spec == GenerationSpec(
        model=PRO, mode="pro", prompt="", image=HEAD.path, width=540, height=960, num_frames=384,
        duration=16, seed=77, resolution="540p", fps=24, image_tail=None, style="anime",
        aspect_ratio="9:16", audio=AudioSpec(kind="music", music_url="https://x.com/m.mp3", is_rec=True),
        watermark=WatermarkSpec(position="top-left", image_url="https://x.com/w.png"), off_peak=True)


def test_pro_spec_defaults_use_16_9_not_the_image():
    spec = get_model(PRO).build_spec(args(PRO), {"images[0]": StoredImage("p.png", 600, 1200)}, seed=5)
    assert (spec.width, spec.height, spec.aspect_ratio) == (1280, 720, "16:9")
    assert spec.audio == AudioSpec(kind="none") and spec.watermark is None
    assert spec.style == "general" and spec.mode == "pro"


def test_pro_watermark_without_url():
    spec = get_model(PRO).build_spec(args(PRO, watermark=True), {"images[0]": HEAD}, seed=5)
    assert spec.watermark == WatermarkSpec(position="bottom-right", image_url=None)


def test_pro_watermark_off_ignores_position():
    spec = get_model(PRO).build_spec(args(PRO, wm_position="top-left"), {"images[0]": HEAD}, seed=5)
    assert spec.watermark is None


@pytest.mark.parametrize("audio_type", ["all", "speech_only", "sound_effect_only"])
def test_turbo_spec_audio(audio_type):
    spec = get_model(TURBO).build_spec(args(TURBO, audio_type=audio_type, is_rec=True, prompt="go"),
                                       {"images[0]": HEAD}, seed=11)
    assert spec.audio == AudioSpec(kind=audio_type, is_rec=True)
    assert (spec.mode, spec.prompt, spec.width, spec.height) == ("turbo", "go", 900, 720)
    assert spec.aspect_ratio is None and spec.style == "general"


def test_turbo_spec_audio_off_and_off_peak():
    spec = get_model(TURBO).build_spec(args(TURBO, audio=False, off_peak=True, resolution="1080p"),
                                       {"images[0]": StoredImage("w.png", 4000, 1000)}, seed=11)
    assert spec.audio.kind == "none"
    assert spec.off_peak is True
    assert (spec.width, spec.height) == (4320, 1080)


@pytest.mark.parametrize("model_id", ALL)
def test_spec_round_trips_and_frames_match_duration(model_id):
    m = get_model(model_id)
    images = {k: HEAD for k in m.image_refs(args(model_id))}
    for d in (1, 3, 5):
        spec = m.build_spec(args(model_id, duration=d), images, seed=123)
        assert spec.num_frames == d * 24 and spec.fps == 24 and spec.seed == 123
        assert GenerationSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize("model_id", ALL)
def test_spec_needs_every_stored_image(model_id):
    with pytest.raises(ValueError):
        get_model(model_id).build_spec(args(model_id), {}, seed=1)


def test_to_dict_is_asdict():
    """`to_dict` skips `asdict`'s deep copies and must give the very same dict, keys in order."""
    import dataclasses

    specs = [get_model(m).build_spec(args(m), {k: HEAD for k in get_model(m).image_refs(args(m))}, seed=5)
             for m in ALL]
    specs += [
        dataclasses.replace(specs[0], watermark=WatermarkSpec("top-left", "https://x/wm.png"),
                            audio=AudioSpec("music", None, "https://x/a.mp3", True), image_tail="t.png"),
        dataclasses.replace(specs[0], watermark=WatermarkSpec(), aspect_ratio="16:9", off_peak=True),
        dataclasses.replace(specs[0], style=["a", "list"]),  # type: ignore[arg-type] # not scalar: asdict itself
    ]
    for spec in specs:
        plain, reference = spec.to_dict(), dataclasses.asdict(spec)
        assert plain == reference and list(plain) == list(reference)
        assert list(plain["audio"]) == list(reference["audio"])
        assert plain is not spec.to_dict() and plain["audio"] is not spec.to_dict()["audio"]
    assert specs[-1].to_dict()["style"] is not specs[-1].style  # copied, as asdict copies


PREPARE_CASES = [
    (Q3, {}), (Q3, {"mode": "turbo", "duration": "7", "resolution": "1080p", "seed": 9, "colour": "red"}),
    (Q2, {"seed": 0, "movement_amplitude": "large"}), (Q2, {"generate_audio": "TRUE", "voice_id": "female-2"}),
    (SE, {"duration": 3}), (PRO, {"aspect_ratio": "9:16", "watermark": True, "wm_position": 2, "x": 1}),
    (PRO, {"_ignored": ["earlier"], "y": 2}), (TURBO, {"audio": True, "off_peak": True, "seed": 77}),
    (TURBO, {"resolution": "540p", "duration": 1, "audio": False}),
]


@pytest.mark.parametrize(("model_id", "extra"), PREPARE_CASES)
def test_prepare_answers_as_the_validating_methods(model_id, extra):
    """`prepare` + `spec_for` (one validation) give what validate, image_refs, price,
    requested_seed and build_spec give (each validating on its own)."""
    m = get_model(model_id)
    raw = args(model_id, **extra)
    valid = m.validate(raw)
    prepared = m.prepare(raw)
    assert prepared.entry is m
    assert {**prepared.args, **({"_ignored": prepared.ignored} if prepared.ignored else {})} == valid
    assert "_ignored" not in prepared.args and prepared.ignored == valid.get("_ignored")
    assert prepared.image_refs == m.image_refs(raw) and list(prepared.image_refs) == list(m.image_refs(raw))
    assert prepared.mode == m.mode_of(valid)
    assert prepared.price == m.price(raw) and str(prepared.price) == str(m.price(raw))
    assert prepared.requested_seed == m.requested_seed(raw)
    images = {k: (TAIL_IMG if k == "image_tail" else HEAD) for k in prepared.image_refs}
    assert m.spec_for(prepared, images, 5) == m.build_spec(raw, images, 5)
    with pytest.raises(ValueError):
        get_model(TURBO if model_id != TURBO else PRO).spec_for(prepared, images, 5)
