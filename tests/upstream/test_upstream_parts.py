"""Upstream parts on their own: routes, providers' readings, Retry-After, breaker, rate limit,
what a create sends (data URIs within the provider's limit, signed URLs with a public URL)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import pytest

from stillmotion.catalog import Catalog
from stillmotion.errors import FieldInvalid
from stillmotion.jobs import Job, JobStatus
from stillmotion.routing import parse_route
from stillmotion.storage import LocalArtifactStore
from stillmotion.upstream.health import Breaker, RateLimit
from stillmotion.upstream.hops import Hop, KeyMissing, chain, create_args, token
from stillmotion.upstream.poller import retry_after_s
from stillmotion.upstream.providers import get_provider
from stillmotion.upstream.providers.base import field_of

ROUTE = {"model": "vidu/vidu-q3/image-to-video", "engine": "upstream", "provider": "shortapi",
         "base_url": "http://127.0.0.1:9", "api_key_env": "SOME_KEY"}


def test_an_upstream_route_keeps_where_the_key_is_never_the_key() -> None:
    route = parse_route({**ROUTE, "upstream_model": "vidu-q3", "max_in_flight": 3, "requests_per_minute": 60,
                         "timeout_s": 30, "fallbacks": [{"engine": "upstream", "provider": "novita",
                                                          "api_key_file": "/run/k"}, {"engine": "motion"}]}, "r", {})
    config = route.config()
    assert config == {"engine": "upstream", "provider": "shortapi", "base_url": "http://127.0.0.1:9",
                      "api_key_env": "SOME_KEY", "upstream_model": "vidu-q3", "max_in_flight": 3,
                      "requests_per_minute": 60, "timeout_s": 30.0,
                      "fallbacks": [{"engine": "upstream", "provider": "novita", "base_url": "https://api.novita.ai",
                                     "api_key_file": "/run/k"}, {"engine": "motion"}]}


@pytest.mark.parametrize(("change", "message"), [
    ({"provider": "nope"}, "provider, one of shortapi, novita, highway, openai-videos, vidu"),
    ({"api_key": "sk-123"}, "never put the key in the routes file"),
    ({"api_key_file": "/k"}, "not both"),
    ({"provider": "highway", "base_url": None}, "highway has no default"),
    ({"max_in_flight": 0}, "max_in_flight must be >= 1"),
    ({"timeout_s": -1}, "timeout_s must be > 0"),
    ({"fallbacks": [{"engine": "motion", "fallbacks": []}]}, "a fallback has no fallbacks"),
    ({"fallbacks": [{"engine": "upstream"}]}, "fallbacks[0]: an upstream route needs provider"),
])
def test_bad_upstream_routes_are_refused_at_load(change, message) -> None:
    entry = {**ROUTE, **change}
    entry = {k: v for k, v in entry.items() if v is not None}
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_route(entry, "r", {})


def test_job_provider_reads_create_and_query_answers() -> None:
    p = get_provider("shortapi")
    req = p.create("m", {"prompt": "x"}, "sm-j-0")
    assert (req.method, req.path, req.headers) == ("POST", "/api/v1/job/create", {"Idempotency-Key": "sm-j-0"})
    assert req.json == {"model": "m", "args": {"prompt": "x"}}
    made = p.created({"code": 0, "data": {"job_id": "u1", "amount": "0.112"}})
    assert made.upstream_id == "u1" and made.cost == {"amount": "0.112", "currency": "USD"}
    video = {"url": "http://v", "cover_url": "http://c"}
    done = p.status({"data": {"status": 2, "amount": "0.112", "result": {"videos": [video]}}})
    assert (done.state, done.video_url, done.cover_url) == ("succeeded", "http://v", "http://c")
    failed = p.status({"data": {"status": 3, "refunded": True, "amount": "1", "error": {"code": "X", "message": "y"}}})
    assert failed.state == "failed" and failed.error == "X: y" and failed.cost == {"amount": "1", "currency": "USD",
                                                                                   "refunded": True}
    with pytest.raises(ValueError):
        p.status({"data": {"status": 9}})
    refusal = p.refusal(400, {"code": 400, "message": "args.duration: must be 1-16, got 99"})
    assert refusal.field == "args.duration" and refusal.status == 400
    assert p.cancel("u1") is None


def test_async_provider_reads_create_and_query_answers() -> None:
    p = get_provider("novita")
    req = p.create("vidu-q3-pro-i2v", {"prompt": "x"}, "t")
    assert req.path == "/v3/async/vidu-q3-pro-i2v" and req.json == {"prompt": "x"}
    assert p.created({"task_id": "abc"}).upstream_id == "abc"
    with pytest.raises(ValueError):
        p.created({})
    ok = p.status({"task": {"status": "TASK_STATUS_SUCCEED"}, "videos": [{"video_url": "http://v"}]})
    assert ok.state == "succeeded" and ok.video_url == "http://v"
    assert p.status({"task": {"status": "TASK_STATUS_FAILED", "reason": "canceled"}}).state == "canceled"
    assert p.status({"task": {"status": "TASK_STATUS_PROCESSING", "progress_percent": 40}}).progress == 40
    assert get_provider("highway") is p


def test_retry_after_as_seconds_or_a_date() -> None:
    assert retry_after_s("3") == 3.0 and retry_after_s(None) is None and retry_after_s("soon") is None
    later = datetime.now(UTC) + timedelta(seconds=30)
    assert 25 < retry_after_s(format_datetime(later, usegmt=True)) <= 30  # type: ignore[operator]


def test_field_of_reads_stillmotion_messages() -> None:
    assert field_of("images[0]: too small") == "images[0]" and field_of("something broke: x y") is None


def test_breaker_opens_after_failures_and_half_opens_after_cooldown() -> None:
    now = [0.0]
    b = Breaker(3, 10, clock=lambda: now[0])
    for _ in range(2):
        b.failure("a")
    assert not b.is_open("a")
    b.failure("a")
    assert b.is_open("a") and not b.is_open("b")
    now[0] = 11
    assert not b.is_open("a")  # half-open: one more failure opens it again
    b.failure("a")
    assert b.is_open("a")
    b.success("a")
    assert not b.is_open("a")


def test_rate_limit_per_minute() -> None:
    now = [0.0]
    r = RateLimit(clock=lambda: now[0])
    assert [r.wait_s("p", 2) for _ in range(2)] == [0.0, 0.0]
    assert r.wait_s("p", 2) == pytest.approx(60)
    assert r.wait_s("q", 2) == 0.0 and r.wait_s("p", None) == 0.0
    now[0] = 60.5
    assert r.wait_s("p", 2) == 0.0


def _job(tmp_path, artifacts: ArtifactStore, size: int, route: dict | None = None) -> Job:
    key = artifacts.put_input(b"\x89PNG" + b"0" * size, f"abc{size}", "png")
    return Job(id="j1", owner="o", model="vidu/vidu-q3/image-to-video", dialect="job", status=JobStatus.PROCESSING,
               progress=0, amount=Decimal("0.1"), refunded=False,
               args={"mode": "turbo", "prompt": "p", "image": "data:image/png;base64,AAAA...(99 chars)",
                     "duration": 1, "resolution": "540p", "_ignored": ["x"]},
               spec={"image": key, "duration": 1}, seed=1, created_at=datetime.now(UTC), engine="upstream",
               route=route or {"engine": "upstream", "provider": "shortapi", "base_url": "http://u",
                               "fallbacks": [{"engine": "motion"}]})


def test_create_args_inline_within_the_limit_and_refuse_naming_the_field(tmp_path) -> None:
    artifacts = LocalArtifactStore(tmp_path, b"s", "http://front")
    catalog = Catalog.load(None)
    provider = get_provider("shortapi")
    args = create_args(_job(tmp_path, artifacts, 100), catalog, artifacts, provider, None)
    assert args["image"].startswith("data:image/png;base64,iVBO") and "_ignored" not in args
    assert args["prompt"] == "p" and args["duration"] == 1
    with pytest.raises(FieldInvalid, match="image: .* over the .* shortapi takes inline.*STILLMOTION_PUBLIC_URL"):
        create_args(_job(tmp_path, artifacts, provider.max_inline_bytes + 1), catalog, artifacts, provider, None)
    signed = create_args(_job(tmp_path, artifacts, provider.max_inline_bytes + 1), catalog, artifacts, provider,
                         "http://front")
    assert signed["image"].startswith("http://front/files/inputs/abc10485761.png?expires=")


def test_chain_tokens_and_keys(tmp_path, monkeypatch) -> None:
    artifacts = LocalArtifactStore(tmp_path, b"s", "http://front")
    hops = chain(_job(tmp_path, artifacts, 1))
    assert [h.label for h in hops] == ["shortapi", "motion"] and hops[1].local and hops[1].local_route() is None
    assert token("j", 0) == "sm-j-0" and token("j", 1, 2) == "sm-j-1-r2"
    hop = Hop("upstream", {"provider": "shortapi", "api_key_env": "UP_KEY_T"})
    monkeypatch.delenv("UP_KEY_T", raising=False)
    with pytest.raises(KeyMissing) as info:
        hop.key()
    assert "UP_KEY_T" in str(info.value)
    monkeypatch.setenv("UP_KEY_T", " k-1 \n")
    assert hop.key() == "k-1"
    (tmp_path / "key").write_text("k-2\n")
    assert Hop("upstream", {"provider": "novita", "api_key_file": str(tmp_path / "key")}).key() == "k-2"
    assert Hop("upstream", {"provider": "novita", "name": "nv-eu"}).label == "nv-eu"


def test_margins_per_key_and_provider() -> None:
    from stillmotion.upstream.money import margins

    rows = [
        {"owner": "k1", "amount": Decimal("0.50"), "refunded": False, "provider": "shortapi",
         "cost": {"items": [{"provider": "shortapi", "upstream_id": "a", "amount": "0.30"}]}},
        {"owner": "k1", "amount": Decimal("0.50"), "refunded": True, "provider": "shortapi",
         "cost": {"items": [{"provider": "shortapi", "upstream_id": "b", "amount": "0.30"}]}},
        {"owner": "k1", "amount": Decimal("1.00"), "refunded": False, "provider": "motion",
         "cost": {"items": [{"provider": "novita", "upstream_id": "c", "amount": "0.20"},
                            {"provider": "shortapi", "upstream_id": "d", "amount": "0.10", "refunded": True}]}},
        {"owner": "k2", "amount": Decimal("0.25"), "refunded": False, "provider": "novita", "cost": None},
    ]
    assert margins(rows) == [
        {"owner": "k1", "provider": "motion", "jobs": 1, "price": "1.00", "cost": "0.00", "margin": "1.00"},
        {"owner": "k1", "provider": "novita", "jobs": 0, "price": "0.00", "cost": "0.20", "margin": "-0.20"},
        {"owner": "k1", "provider": "shortapi", "jobs": 2, "price": "0.50", "cost": "0.60", "margin": "-0.10"},
        {"owner": "k2", "provider": "novita", "jobs": 1, "price": "0.25", "cost": "0.00", "margin": "0.25"},
    ]


def test_hook_urls_and_signatures(monkeypatch) -> None:
    from stillmotion.callbacks import sign
    from stillmotion.upstream.hooks import hook_url, mac, signature_ok

    url = hook_url("https://front.example/", b"s", "job-1", 2)
    assert url == f"https://front.example/upstream/hooks/job-1/2/{mac(b's', 'job-1', 2)}"
    assert mac(b"s", "job-1", 2) != mac(b"s", "job-1", 1) != mac(b"t", "job-1", 1)
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    monkeypatch.setenv("HOOK_SECRET_T", secret)
    body, now = b'{"x":1}', 1_700_000_000
    signature = "v1,bad " + sign(secret, "m1", now, body)
    headers = {"webhook-id": "m1", "webhook-timestamp": str(now), "webhook-signature": signature}
    assert signature_ok("HOOK_SECRET_T", headers, body, now=now + 10)
    assert not signature_ok("HOOK_SECRET_T", headers, body + b" ", now=now)
    assert not signature_ok("HOOK_SECRET_T", headers, body, now=now + 301)  # replayed late
    assert not signature_ok("UNSET_SECRET_T", headers, body, now=now)


def test_openai_videos_provider_maps_the_job_onto_a_video_request() -> None:
    p = get_provider("openai-videos")
    args = {"mode": "turbo", "prompt": "zoom", "image": "data:image/png;base64,AA", "duration": "2",
            "resolution": "540p", "seed": 7}
    req = p.create("wan-i2v", args, "tok", spec={"width": 720, "height": 540, "duration": 2})
    assert (req.method, req.path, req.headers) == ("POST", "/v1/videos", {"Idempotency-Key": "tok"})
    assert req.json == {"model": "wan-i2v", "prompt": "zoom", "input_reference": {"image_url": args["image"]},
                        "seconds": "2", "size": "720x540", "seed": 7, "mode": "turbo"}
    done = p.status({"id": "v1", "status": "completed", "progress": 100})
    assert (done.state, done.video_url, done.cover_url) == ("succeeded", "/v1/videos/v1/content",
                                                            "/v1/videos/v1/content?variant=thumbnail")
    assert p.status({"id": "v1", "status": "failed", "error": {"code": "canceled", "message": "x"}}).state == "canceled"
    assert p.cancel("v1") == type(req)("DELETE", "/v1/videos/v1")
    error = {"message": "seconds: must be 1-16", "param": "seconds", "code": "invalid_value"}
    refusal = p.refusal(400, {"error": error})
    assert (refusal.field, refusal.message) == ("seconds", "seconds: must be 1-16")


def test_vidu_provider_names_the_model_carries_the_token_and_finds_it() -> None:
    p = get_provider("vidu")
    assert p.auth_scheme == "Token" and not p.idempotent_create and p.can_cancel
    req = p.create(MODEL_Q3, {"mode": "turbo", "prompt": "zoom", "image": "data:x", "duration": "1",
                              "resolution": "540p"}, "sm-j-0", "https://front/upstream/hooks/j/0/m")
    assert req.path == "/ent/v2/img2video"
    assert req.json == {"model": "viduq3-turbo", "images": ["data:x"], "payload": "sm-j-0", "prompt": "zoom",
                        "duration": 1, "resolution": "540p", "callback_url": "https://front/upstream/hooks/j/0/m"}
    two = p.create("viduq2-pro", {"image": "a", "image_tail": "b", "prompt": "p"}, "t")
    assert two.path == "/ent/v2/start-end2video" and two.json["images"] == ["a", "b"]
    assert p.created({"task_id": "v1", "state": "created", "credits": 8}).cost == {"credits": 8}
    done = p.status({"state": "success", "credits": 8, "creations": [{"url": "https://v", "cover_url": "https://c"}]})
    assert (done.state, done.video_url, done.cover_url) == ("succeeded", "https://v", "https://c")
    assert p.status({"state": "failed", "err_code": "UserCancelled"}).state == "canceled"
    assert p.status({"state": "queueing"}).state == "queued"
    tasks = {"tasks": [{"task_id": "a", "payload": "other"}, {"task_id": "b", "payload": "sm-j-0", "credits": 8}]}
    assert p.found(tasks, "sm-j-0") == type(p.created({"task_id": "b"}))("b", {"credits": 8})
    assert p.found(tasks, "sm-j-1") is None
    assert p.refusal(400, {"code": 400, "reason": "FieldInvalid", "message": "must be 1-16"}).message == \
        "FieldInvalid: must be 1-16"


MODEL_Q3 = "vidu/vidu-q3/image-to-video"


def test_vidu_hmac_callback_signature(monkeypatch) -> None:
    from stillmotion.dialects.vidu import callback_headers
    from stillmotion.upstream.hooks import vidu_signature_ok

    monkeypatch.setenv("VIDU_HOOK_T", "s3cret")
    url = "https://front.example/upstream/hooks/j/0/abc"
    headers = {k.lower(): v for k, v in callback_headers(url, "s3cret", b"{}").items()}
    assert vidu_signature_ok("VIDU_HOOK_T", "/upstream/hooks/j/0/abc", headers)
    assert not vidu_signature_ok("VIDU_HOOK_T", "/upstream/hooks/j/1/abc", headers)  # another URL
    assert not vidu_signature_ok("VIDU_HOOK_T", "/upstream/hooks/j/0/abc", {**headers, "x-request-nonce": "x"})
    assert not vidu_signature_ok("VIDU_HOOK_T", "/upstream/hooks/j/0/abc", headers, now=time.time() + 600)
    monkeypatch.setenv("VIDU_HOOK_T", "other")
    assert not vidu_signature_ok("VIDU_HOOK_T", "/upstream/hooks/j/0/abc", headers)
