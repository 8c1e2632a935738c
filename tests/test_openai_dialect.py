"""The OpenAI Videos dialect's pure parts: field mapping onto each catalog model, sizes, errors in
OpenAI's words, Video objects and webhook events (no server; tests/e2e/test_openai_videos.py has it)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from stillmotion.catalog import Catalog
from stillmotion.dialects import openai_videos as d
from stillmotion.errors import FieldInvalid, NotFound, StillmotionError, Unauthorized
from stillmotion.jobs import Job, JobStatus
from stillmotion.settings import Settings

CATALOG = Catalog.load()
ALIASES = Settings.defaults().openai_aliases
IMG = "https://example.com/cat.png"


def parse(**body: object) -> d.CreateRequest:
    return d.parse_create({"prompt": "p", "input_reference": IMG, **body}, catalog=CATALOG, aliases=ALIASES)


def test_defaults_and_aliases_map_to_catalog_models():
    assert ALIASES == {"sora-2": "vidu-q3-turbo-i2v", "sora-2-pro": "vidu-q3-pro-i2v"}
    req = parse()
    assert (req.model, req.args, req.dialect, req.models) == (
        "vidu-q3-turbo-i2v", {"prompt": "p", "images": [IMG]}, "openai", None)
    assert req.metadata == {"openai": {"model": "sora-2"}}
    pro = parse(model="sora-2-pro", seconds="8", size="720x1280")
    assert pro.args == {"prompt": "p", "images": [IMG], "duration": 8, "resolution": "720p", "aspect_ratio": "9:16"}
    job_model = parse(model="vidu/vidu-q2/start-end-to-video", size="1080x1920", input_reference_end={"image_url": IMG},
                      mode="pro-fast", seed="9")
    assert job_model.args == {"prompt": "p", "image": IMG, "image_tail": IMG, "resolution": "1080p",
                              "mode": "pro-fast", "seed": "9"}  # JSON keeps its types; the catalog judges them
    assert job_model.size == (1080, 1920) and pro.size is None  # the image's aspect is checked at submit


def test_form_text_is_typed_by_the_models_argument():
    req = d.parse_create({"prompt": "p", "input_reference": IMG, "audio": "false", "seed": "12", "off_peak": "True"},
                         catalog=CATALOG, aliases=ALIASES, from_form=True)
    assert (req.args["audio"], req.args["seed"], req.args["off_peak"]) == (False, 12, True)
    assert CATALOG.get(req.model).prepare(req.args).args["audio"] is False


@pytest.mark.parametrize("body, field, words", [
    ({"size": "1024x1792", "model": "sora-2-pro"}, "size", "allowed: 540x540"),
    ({"size": "1792x1024"}, "size", "short side is 540, 720, 1080"),
    ({"size": "1280X720"}, "size", "WIDTHxHEIGHT"),
    ({"seconds": "17"}, "seconds", "1-16"),
    ({"seconds": 4.5}, "seconds", "whole number"),
    ({"seconds": True}, "seconds", "whole number"),
    ({"model": "sora-3"}, "model", "sora-2, sora-2-pro, vidu/vidu-q3/image-to-video"),
    ({"mode": "pro"}, "mode", "always runs in turbo mode"),
    ({"watermark": True}, "watermark", "has no 'watermark' argument"),
    ({"input_reference_end": IMG}, "input_reference_end", "vidu/vidu-q2/start-end-to-video"),
    ({"input_reference": {"file_id": "f"}}, "input_reference.file_id", "not supported"),
    ({"input_reference": {"url": IMG}}, "input_reference.url", "image_url"),
    ({"input_reference": 7}, "input_reference", "image file"),
    ({"quality": "hd"}, "quality", "unknown parameter"),
])
def test_refusals_name_the_openai_field(body, field, words):
    with pytest.raises(FieldInvalid) as err:
        parse(**body)
    assert err.value.field == field and words in err.value.message, err.value.message


def test_an_alias_to_no_model_is_the_operators_error():
    with pytest.raises(StillmotionError) as err:
        d.parse_create({"prompt": "p", "input_reference": IMG}, catalog=CATALOG, aliases={"sora-2": "gone"})
    assert err.value.status == 500 and "STILLMOTION_OPENAI_MODEL_ALIASES" in err.value.message


def test_required_fields():
    with pytest.raises(d.MissingParameter) as err:
        d.parse_create({"input_reference": IMG}, catalog=CATALOG, aliases=ALIASES)
    assert err.value.field == "prompt"
    with pytest.raises(d.MissingParameter) as err:
        d.parse_create({"prompt": "p"}, catalog=CATALOG, aliases=ALIASES)
    assert err.value.field == "input_reference"


def test_errors_in_openais_envelope_with_its_parameter_names():
    shaped = d.shape_error(FieldInvalid("must be an integer between 1 and 16", field="duration"))
    assert shaped == {"error": {"message": "seconds: must be an integer between 1 and 16",
                                "type": "invalid_request_error", "param": "seconds", "code": "invalid_value"}}
    assert d.shape_error(FieldInvalid("bad", field="images[0]"))["error"]["param"] == "input_reference"
    assert d.shape_error(Unauthorized("no key"))["error"] == {
        "message": "no key", "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}
    assert d.shape_error(NotFound("gone", field="video_id"))["error"]["code"] == "not_found"
    assert d.shape_error(d.UnknownParameter("x", field="q"))["error"]["code"] == "unknown_parameter"
    assert d.shape_error(StillmotionError("boom"))["error"] == {
        "message": "boom", "type": "server_error", "param": None, "code": None}


def job(status: JobStatus, **extra: object) -> Job:
    base = dict(id="5b0f3c1e-8a5d-4c0e-9a57-0f8d6f1b2c3d", owner="o", model="vidu-q3-turbo-i2v", dialect="openai",
                status=status, progress=40, amount=Decimal("0.1"), refunded=False,
                args={"prompt": "p", "duration": 4}, spec={"duration": 4, "width": 1280, "height": 720}, seed=1,
                created_at=datetime(2026, 12, 7, 10, 0, tzinfo=UTC))
    return Job(**{**base, **extra})


def test_video_objects_and_events():
    queued = d.video_body(job(JobStatus.QUEUED, progress=0, metadata={"openai": {"model": "sora-2"}}), 86400)
    assert queued == {"id": "5b0f3c1e-8a5d-4c0e-9a57-0f8d6f1b2c3d", "object": "video", "model": "sora-2",
                      "status": "queued", "progress": 0, "created_at": 1796637600, "completed_at": None,
                      "expires_at": None, "seconds": "4", "size": "1280x720", "prompt": "p",
                      "remixed_from_video_id": None, "error": None}
    end = datetime(2026, 12, 7, 10, 0, 9, tzinfo=UTC)
    done = d.video_body(job(JobStatus.SUCCEEDED, progress=100, finished_at=end), 86400)
    assert (done["status"], done["completed_at"], done["expires_at"], done["model"]) == (
        "completed", 1796637609, 1796637609 + 86400, "vidu-q3-turbo-i2v")
    canceled = job(JobStatus.CANCELED, finished_at=end, error_code="Canceled", error_message="canceled")
    shown = d.video_body(canceled, 86400)
    assert (shown["status"], shown["error"], shown["expires_at"]) == (
        "failed", {"code": "Canceled", "message": "canceled"}, None)
    event = d.callback_body(canceled, lambda k: k, 60, "completed", None)
    assert event == {"id": "evt_5b0f3c1e8a5d4c0e9a570f8d6f1b2c3d", "object": "event", "type": "video.failed",
                     "created_at": 1796637609, "data": {"id": canceled.id}}
    assert d.callback_body(job(JobStatus.SUCCEEDED, finished_at=end), lambda k: k, 60, "completed", None)[
        "type"] == "video.completed"
    assert d.poll_after_ms(job(JobStatus.PROCESSING, eta=2)) == 500
    assert d.poll_after_ms(job(JobStatus.PROCESSING, eta=600)) == 5000
    assert d.poll_after_ms(job(JobStatus.SUCCEEDED)) is None


def test_content_needs_a_completed_video_with_its_files():
    with pytest.raises(NotFound, match="in_progress"):
        d.content_key(job(JobStatus.PROCESSING), "video")
    done = job(JobStatus.SUCCEEDED, result={"video": "outputs/x/video.mp4", "cover": "outputs/x/cover.jpg"})
    assert d.content_key(done, "thumbnail") == ("outputs/x/cover.jpg", "image/jpeg")
    assert d.content_key(done, "spritesheet") == ("spritesheet", "image/jpeg")
    with pytest.raises(FieldInvalid) as err:
        d.content_key(done, "gif")
    assert err.value.field == "variant"
    with pytest.raises(NotFound, match="deleted"):
        d.content_key(job(JobStatus.SUCCEEDED, result=done.result, purged=True), "video")


def test_remix_keeps_arguments_and_inputs_with_a_new_prompt():
    source = job(JobStatus.SUCCEEDED, model="vidu-q3-pro-i2v",
                 args={"prompt": "old", "images": ["data:...(900 chars)"], "duration": 4, "seed": 5,
                       "aspect_ratio": "9:16", "resolution": "720p"},
                 metadata={"openai": {"model": "sora-2-pro"}})
    args = d.remix_body(source, CATALOG.get("vidu-q3-pro-i2v"), "new", {"image": "data:;base64,AAA"})
    assert args == {"prompt": "new", "images": ["data:;base64,AAA"], "duration": 4, "aspect_ratio": "9:16",
                    "resolution": "720p"}
    req = d.remix_request(source, args, "https://hooks.example.com/k", None)
    assert req.metadata == {"openai": {"model": "sora-2-pro", "remixed_from_video_id": source.id}}
    assert req.callback_url == "https://hooks.example.com/k" and req.model == "vidu-q3-pro-i2v"
    with pytest.raises(d.MissingParameter):
        d.remix_body(source, CATALOG.get("vidu-q3-pro-i2v"), None, {"image": "x"})
