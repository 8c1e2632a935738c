"""Field rules shared by every model: duration, resolution, seed, prompt, images, extras."""

from __future__ import annotations

import pytest
from catalog_cases import ALL, ASYNC, BASE, IMG, JOB, MAX_DURATION, MAX_PROMPT, args, refused

from stillmotion.catalog import IGNORED_KEY, get_model
from stillmotion.dialects import async_task

WRONG_TYPES = [True, False, 5.5, 5.0, [5], {"v": 5}, None]


@pytest.mark.parametrize("model_id", ALL)
def test_minimal_request_gets_defaults(model_id):
    out = get_model(model_id).validate(BASE[model_id])
    assert out["duration"] == 5
    assert out["resolution"] == "720p"
    assert IGNORED_KEY not in out
    assert "seed" not in out


@pytest.mark.parametrize("model_id", ALL)
def test_duration_edges(model_id):
    m, top = get_model(model_id), MAX_DURATION[model_id]
    assert m.validate(args(model_id, duration=1))["duration"] == 1
    assert m.validate(args(model_id, duration=top))["duration"] == top
    for bad in (0, top + 1, -1):
        err = refused(m, args(model_id, duration=bad), "duration")
        assert err.message == f"duration: must be an integer between 1 and {top}, got {bad}"


@pytest.mark.parametrize("model_id", ALL)
@pytest.mark.parametrize("bad", WRONG_TYPES, ids=repr)
def test_duration_wrong_types(model_id, bad):
    err = refused(get_model(model_id), args(model_id, duration=bad), "duration")
    assert "must be an integer" in err.message


@pytest.mark.parametrize("model_id", JOB)
def test_job_duration_digit_strings(model_id):
    m, top = get_model(model_id), MAX_DURATION[model_id]
    assert m.validate(args(model_id, duration="5"))["duration"] == 5
    assert m.validate(args(model_id, duration="1"))["duration"] == 1
    assert m.validate(args(model_id, duration=str(top)))["duration"] == top
    assert m.validate(args(model_id, duration="05"))["duration"] == 5
    for bad in ("5.5", "0", str(top + 1), "", "five", "-1", " 5", "5s", "1e1"):
        err = refused(m, args(model_id, duration=bad), "duration")
        assert f"between 1 and {top}" in err.message
    assert refused(m, args(model_id, duration="5.5"), "duration").message == (
        f"duration: must be an integer between 1 and {top}, got '5.5'")
    assert refused(m, args(model_id, duration=5.5), "duration").message == (
        "duration: must be an integer or a string of digits, got number 5.5")


@pytest.mark.parametrize("model_id", ASYNC)
def test_async_duration_is_a_json_integer_only(model_id):
    m = get_model(model_id)
    err = refused(m, args(model_id, duration="5"), "duration")
    assert err.message == "duration: must be an integer, got string '5'"
    assert refused(m, args(model_id, duration=True), "duration").message == (
        "duration: must be an integer, got boolean true")


@pytest.mark.parametrize("model_id", ALL)
def test_resolution(model_id):
    m = get_model(model_id)
    for res in ("540p", "720p", "1080p"):
        assert m.validate(args(model_id, resolution=res, mode="pro") if model_id in JOB
                          else args(model_id, resolution=res))["resolution"] == res
    err = refused(m, args(model_id, resolution="4k"), "resolution")
    assert err.message == "resolution: must be one of 540p, 720p, 1080p, got '4k'"
    refused(m, args(model_id, resolution="720P"), "resolution")
    refused(m, args(model_id, resolution=""), "resolution")
    for bad in (720, True, None, ["720p"], {"r": 1}, 7.2):
        assert "must be a string" in refused(m, args(model_id, resolution=bad), "resolution").message


@pytest.mark.parametrize("model_id", ALL)
def test_seed(model_id):
    m = get_model(model_id)
    assert m.validate(args(model_id, seed=0))["seed"] == 0
    assert m.validate(args(model_id, seed=2147483647))["seed"] == 2147483647
    assert m.requested_seed(args(model_id, seed=1234)) == 1234
    assert m.requested_seed(args(model_id, seed=0)) is None
    assert m.requested_seed(BASE[model_id]) is None
    for bad in (-1, 2147483648):
        assert refused(m, args(model_id, seed=bad), "seed").message == (
            f"seed: must be an integer between 0 and 2147483647, got {bad}")
    for bad in (True, 1.5, "12", None, [1], {}):
        assert "must be an integer" in refused(m, args(model_id, seed=bad), "seed").message


@pytest.mark.parametrize("model_id", ALL)
def test_prompt_length_edges(model_id):
    m, top = get_model(model_id), MAX_PROMPT[model_id]
    assert m.validate(args(model_id, prompt="x" * top))["prompt"] == "x" * top
    err = refused(m, args(model_id, prompt="x" * (top + 1)), "prompt")
    assert err.message == f"prompt: must be at most {top} characters, got {top + 1}"
    # code points, not bytes
    assert m.validate(args(model_id, prompt="é" * top))["prompt"] == "é" * top


@pytest.mark.parametrize("model_id", ALL)
@pytest.mark.parametrize("bad", [123, True, ["a"], {"a": 1}, 1.5], ids=repr)
def test_prompt_wrong_types(model_id, bad):
    err = refused(get_model(model_id), args(model_id, prompt=bad), "prompt")
    assert "must be a string" in err.message


@pytest.mark.parametrize("model_id", JOB)
def test_job_prompt_is_required_and_not_blank(model_id):
    m = get_model(model_id)
    body = dict(BASE[model_id])
    del body["prompt"]
    assert refused(m, body, "prompt").message == "prompt: is required"
    assert refused(m, args(model_id, prompt=None), "prompt").message == "prompt: is required, got null"
    for blank in ("", "   ", "\n\t"):
        assert refused(m, args(model_id, prompt=blank), "prompt").message == "prompt: must not be empty"
    assert m.validate(args(model_id, prompt="  keep spaces "))["prompt"] == "  keep spaces "


@pytest.mark.parametrize("model_id", ASYNC)
def test_async_prompt_is_optional(model_id):
    m = get_model(model_id)
    assert m.validate(BASE[model_id])["prompt"] == ""
    assert m.validate(args(model_id, prompt=""))["prompt"] == ""
    assert m.validate(args(model_id, prompt="  "))["prompt"] == "  "
    assert "must be a string" in refused(m, args(model_id, prompt=None), "prompt").message


@pytest.mark.parametrize("model_id,field", [(m, f) for m in JOB for f in ("image", "image_tail")
                                             if f in BASE[m]])
def test_job_image_fields(model_id, field):
    m = get_model(model_id)
    body = dict(BASE[model_id])
    del body[field]
    assert refused(m, body, field).message == f"{field}: is required"
    refused(m, args(model_id, **{field: None}), field)
    for blank in ("", "  "):
        assert "must not be empty" in refused(m, args(model_id, **{field: blank}), field).message
    for bad in (123, True, [IMG], {"url": IMG}, 1.5):
        err = refused(m, args(model_id, **{field: bad}), field)
        assert "must be a string" in err.message
    for ok in (IMG, "data:image/png;base64,iVBORw0KGgo=", "iVBORw0KGgo=", "http://h/x.webp"):
        assert m.validate(args(model_id, **{field: ok}))[field] == ok
    assert m.validate(args(model_id, **{field: f"  {IMG}\n"}))[field] == IMG


@pytest.mark.parametrize("model_id", ASYNC)
def test_async_images(model_id):
    m = get_model(model_id)
    assert m.validate({"images": [IMG]})["images"] == [IMG]
    assert m.validate({"images": ["data:image/png;base64,AAAA"]})["images"] == ["data:image/png;base64,AAAA"]
    assert refused(m, {}, "images").message == "images: is required"
    assert refused(m, {"images": []}, "images").message == "images: must hold exactly 1 image, got 0"
    assert refused(m, {"images": [IMG, IMG]}, "images").message == "images: must hold exactly 1 image, got 2"
    for bad in (IMG, None, {"0": IMG}, 5, True):
        assert "must be an array" in refused(m, {"images": bad}, "images").message or bad is None
    for bad in ({}, 5, None, [IMG], True):
        assert "must be a string" in refused(m, {"images": [bad]}, "images[0]").message
    for blank in ("", "   "):
        assert "must not be empty" in refused(m, {"images": [blank]}, "images[0]").message


@pytest.mark.parametrize("model_id", ALL)
def test_unknown_fields_are_ignored_and_listed(model_id):
    m = get_model(model_id)
    out = m.validate(args(model_id, foo=1, negative_prompt="x", camera_fixed=True))
    assert out[IGNORED_KEY] == ["foo", "negative_prompt", "camera_fixed"]
    assert "foo" not in out


@pytest.mark.parametrize("model_id", ASYNC)
def test_async_extra_belongs_to_the_dialect_not_the_args(model_id):
    """The async dialect takes `extra` (its webhook) out of the body; the model never sees it."""
    req = async_task.parse_create(model_id, args(model_id, extra={"webhook": {"url": "https://h/x"}}), None)
    assert req.callback_url == "https://h/x" and "extra" not in req.args
    out = get_model(model_id).validate(req.args)
    assert IGNORED_KEY not in out


@pytest.mark.parametrize("model_id", ALL)
def test_validate_is_idempotent(model_id):
    m = get_model(model_id)
    once = m.validate(args(model_id, foo=1, duration=7, seed=3))
    assert m.validate(once) == once


@pytest.mark.parametrize("model_id", ALL)
@pytest.mark.parametrize("bad", [None, [], "x", 5])
def test_args_must_be_an_object(model_id, bad):
    # The catalog speaks no dialect: each dialect names its own field (`args`, `body`, `input`)
    # before the catalog sees the value (tests/jobs/test_units.py, tests/e2e/test_bad_inputs.py).
    refused(get_model(model_id), bad, "args")
