"""The worker, reaper, retry policy, callback sender, JobService and dialects, in-process on a
MemoryDatabase with a fake clock and a fake engine (no SQL, no real rendering engine)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import standardwebhooks

from stillmotion.callbacks import CallbackDispatcher
from stillmotion.catalog import Catalog, get_model
from stillmotion.domain import StoredImage
from stillmotion.errors import Conflict, EngineCrashed, FieldInvalid, GenerationFailed, NotFound, StillmotionError
from stillmotion.housekeeping import Housekeeper
from stillmotion.jobs import (
    ClaimRules,
    FailureCode,
    Job,
    JobFilter,
    JobStatus,
    NewJob,
    RetryDecision,
    RetryPolicy,
    deliveries_for,
)
from stillmotion.jobs.memory import MemoryDatabase
from stillmotion.routing import Router
from stillmotion.service import CreateRequest, JobService
from stillmotion.settings import Settings
from stillmotion.storage import ArtifactStore, LocalArtifactStore
from stillmotion.worker import Worker, policy_from
from tests.helpers import data_uri

from .support import FakeClock, FakeEngine, must, png

MODEL = "vidu/vidu-q3/image-to-video"
SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
LEASE_S = 30.0
BACKOFF_S = 5.0


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db(clock: FakeClock) -> MemoryDatabase:
    return MemoryDatabase(clock=clock)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path, lease_s=LEASE_S, heartbeat_s=0.05, cancel_poll_s=0.02, max_attempts=2,
        retry_backoff_s=BACKOFF_S, poll_interval_s=0.02, shutdown_grace_s=0.1, allow_private_urls=True,
        max_running_per_key=0,
    )


@pytest.fixture
def artifacts(tmp_path: Path) -> ArtifactStore:
    return LocalArtifactStore(tmp_path, b"secret", "http://t", 3600)


@pytest.fixture
def make_job(db: MemoryDatabase, artifacts: ArtifactStore) -> Callable[..., Job]:
    """A job with a real (tiny) spec from the catalog, its input image stored."""
    data = png()
    key = artifacts.put_input(data, hashlib.sha256(data).hexdigest(), "png")
    entry = get_model(MODEL)
    req = entry.prepare({"mode": "turbo", "prompt": "a cat", "duration": 1, "resolution": "540p",
                         "image": "https://example.com/cat.png"})
    spec = entry.spec_for(req, {"image": StoredImage(key, 160, 160)}, 7).to_dict()
    spec = {**spec, "width": 64, "height": 64, "num_frames": 6}  # tiny: the run takes milliseconds

    def _make(**overrides: Any) -> Job:
        fields: dict[str, Any] = {
            "id": f"job-{secrets.token_hex(4)}", "owner": "owner-1", "model": MODEL, "dialect": "job",
            "engine": "motion", "amount": req.price, "args": dict(req.args), "spec": spec, "seed": 7,
            "callback_url": "https://hooks.test/cb",
        }
        return db.jobs.create(NewJob(**{**fields, **overrides}))

    return _make


def worker_for(settings: Settings, db: Any, artifacts: ArtifactStore, engine: FakeEngine, wid: str = "wk") -> Worker:
    return Worker(settings, db, artifacts, engine_factory=lambda name: engine, wid=wid)


def run_one(worker: Worker, stop: threading.Event | None = None) -> Job | None:
    """Claim one job as the worker's loop would and process it; the job as claimed."""
    job = worker.claim()
    if job is not None:
        worker.process(job, stop or threading.Event())
    return job


def ledger_kinds(db: MemoryDatabase, job: Job) -> list[str]:
    return [ln.kind for ln in db.accounts.ledger(job.owner) if ln.job_id == job.id]


def events(db: MemoryDatabase, job: Job) -> list[str]:
    return [d.event for d in db.outbox.for_job(job.id)]


def wait_for(condition: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def outputs(artifacts: ArtifactStore, job: Job) -> Path:
    return artifacts.path(f"outputs/{job.id}")


# -- the worker ---------------------------------------------------------------------------------


def test_a_run_succeeds_stores_its_result_and_queues_the_callback(
    db: MemoryDatabase, settings: Settings, artifacts: ArtifactStore, make_job: Callable[..., Job]
) -> None:
    made = make_job(metadata={"from_submit": 1})
    worker = worker_for(settings, db, artifacts, FakeEngine())
    assert must(run_one(worker)).id == made.id
    job = must(db.jobs.get(made.id))
    assert job.status is JobStatus.SUCCEEDED and job.progress == 100 and job.attempts == 1
    assert job.result is not None and job.result["frames"] == 6 and job.result["has_audio"] is False
    assert (job.result["width"], job.result["height"]) == (64, 64)
    assert (artifacts.root / job.result["video"]).stat().st_size > 0
    assert (artifacts.root / job.result["cover"]).is_file()
    assert job.metadata["from_submit"] == 1 and job.metadata["fake"] == {"run": 1} and "render_s" in job.metadata
    assert ledger_kinds(db, job) == ["charge"] and events(db, job) == ["completed"]
    assert worker.current is None and run_one(worker) is None


def test_a_worker_that_dies_mid_job_is_replaced_and_the_job_charged_once(
    db: MemoryDatabase, clock: FakeClock, settings: Settings, artifacts: ArtifactStore,
    make_job: Callable[..., Job],
) -> None:
    made = make_job()
    keeper = Housekeeper(settings, db, artifacts, policy_from(settings))
    dead = must(db.jobs.claim("dead", settings.lease_s, ("motion",), ClaimRules()))  # then never beats
    keeper.reap()
    assert db.jobs.status(made.id) is JobStatus.PROCESSING  # the lease still runs
    clock.advance(settings.lease_s + 1)
    keeper.reap()
    assert must(db.jobs.get(made.id)).status is JobStatus.QUEUED
    run_one(worker_for(settings, db, artifacts, FakeEngine(), wid="alive"))
    job = must(db.jobs.get(made.id))
    assert job.status is JobStatus.SUCCEEDED and job.attempts == 2 and not job.refunded
    assert ledger_kinds(db, job) == ["charge"] and events(db, job) == ["completed"]
    assert db.jobs.finish(dead.id, "dead", {}, {}) is False  # the dead worker's late write is refused


def test_attempts_exhausted_fail_refund_and_call_back(
    db: MemoryDatabase, clock: FakeClock, settings: Settings, artifacts: ArtifactStore,
    make_job: Callable[..., Job],
) -> None:
    made = make_job()
    keeper = Housekeeper(settings, db, artifacts, policy_from(settings))
    for _ in range(settings.max_attempts):
        must(db.jobs.claim("dead", settings.lease_s, ("motion",), ClaimRules()))
        clock.advance(settings.lease_s + 1)
        keeper.reap()
    job = must(db.jobs.get(made.id))
    assert job.status is JobStatus.FAILED and job.error_code == FailureCode.ATTEMPTS_EXHAUSTED
    assert "2 times" in (job.error_message or "")
    assert job.refunded and ledger_kinds(db, job) == ["charge", "refund"]
    assert events(db, job) == ["completed"]


@pytest.mark.parametrize(
    ("error", "code"),
    [(GenerationFailed("the engine refused this clip"), "GenerationFailure"),
     (FieldInvalid("the image cannot be read", field="image"), "FieldInvalid")],
    ids=["generation-failure", "field-invalid"],
)
def test_an_engine_refusal_fails_at_once_and_refunds(
    db: MemoryDatabase, settings: Settings, artifacts: ArtifactStore, make_job: Callable[..., Job],
    error: StillmotionError, code: str,
) -> None:
    made = make_job()
    engine = FakeEngine(error=error, failing_runs=99)
    worker = worker_for(settings, db, artifacts, engine)
    run_one(worker)
    job = must(db.jobs.get(made.id))
    assert job.status is JobStatus.FAILED and job.error_code == code and job.error_message == error.message
    assert job.attempts == 1 and job.refunded and engine.runs == 1
    assert ledger_kinds(db, job) == ["charge", "refund"] and events(db, job) == ["completed"]
    assert run_one(worker) is None  # not requeued
    assert not (outputs(artifacts, job) / "video.mp4").exists()


def test_an_engine_crash_is_retried_after_the_backoff_then_succeeds(
    db: MemoryDatabase, clock: FakeClock, settings: Settings, artifacts: ArtifactStore,
    make_job: Callable[..., Job],
) -> None:
    made = make_job()
    engine = FakeEngine(error=RuntimeError("boom"), failing_runs=1)
    worker = worker_for(settings, db, artifacts, engine)
    run_one(worker)
    job = must(db.jobs.get(made.id))
    assert job.status is JobStatus.QUEUED and job.attempts == 1 and not job.refunded
    assert job.metadata["retries"] == ["attempt 1: EngineCrashed: RuntimeError: boom"]
    assert run_one(worker) is None  # waits for its backoff
    clock.advance(BACKOFF_S + 0.01)
    assert must(run_one(worker)).id == made.id
    job = must(db.jobs.get(made.id))
    assert job.status is JobStatus.SUCCEEDED and job.attempts == 2 and engine.runs == 2
    assert ledger_kinds(db, job) == ["charge"] and events(db, job) == ["completed"]


def test_an_engine_that_keeps_crashing_fails_when_attempts_run_out(
    db: MemoryDatabase, clock: FakeClock, settings: Settings, artifacts: ArtifactStore,
    make_job: Callable[..., Job],
) -> None:
    made = make_job()
    worker = worker_for(settings, db, artifacts, FakeEngine(error=RuntimeError("boom"), failing_runs=99))
    run_one(worker)
    clock.advance(BACKOFF_S + 0.01)
    run_one(worker)
    job = must(db.jobs.get(made.id))
    assert job.status is JobStatus.FAILED and job.error_code == FailureCode.ATTEMPTS_EXHAUSTED
    assert job.error_message == "RuntimeError: boom; gave up after 2 attempts"
    assert job.refunded and ledger_kinds(db, job) == ["charge", "refund"] and events(db, job) == ["completed"]


def test_a_hung_engine_process_is_retried_and_counted_until_attempts_run_out(
    db: MemoryDatabase, clock: FakeClock, settings: Settings, artifacts: ArtifactStore,
    make_job: Callable[..., Job],
) -> None:
    made = make_job()
    hung = EngineCrashed("model process silent for 900 s: killed")
    worker = worker_for(settings, db, artifacts, FakeEngine(error=hung, failing_runs=99))
    run_one(worker)
    job = must(db.jobs.get(made.id))
    assert job.status is JobStatus.QUEUED and job.attempts == 1  # given back, and the try counted
    clock.advance(BACKOFF_S + 0.01)
    run_one(worker)
    job = must(db.jobs.get(made.id))
    assert job.status is JobStatus.FAILED and job.error_code == FailureCode.ATTEMPTS_EXHAUSTED
    assert job.refunded


def test_a_cancel_during_a_run_stops_it_and_leaves_no_files(
    db: MemoryDatabase, settings: Settings, artifacts: ArtifactStore, make_job: Callable[..., Job]
) -> None:
    made = make_job()
    engine = FakeEngine(hang=True)
    worker = worker_for(settings, db, artifacts, engine)
    thread = threading.Thread(target=run_one, args=(worker,))
    thread.start()
    assert engine.first_frame.wait(10)
    assert wait_for(lambda: any(outputs(artifacts, made).rglob("cover.jpg")))  # the run had begun writing
    assert db.jobs.cancel(made.id) is not None
    thread.join(5)
    assert not thread.is_alive()
    job = must(db.jobs.get(made.id))
    assert job.status is JobStatus.CANCELED and job.refunded and job.attempts == 1
    assert not outputs(artifacts, job).exists()
    assert ledger_kinds(db, job) == ["charge", "refund"] and events(db, job) == ["completed"]


def test_a_stop_request_releases_the_running_job_after_the_grace_period(
    db: MemoryDatabase, settings: Settings, artifacts: ArtifactStore, make_job: Callable[..., Job]
) -> None:
    made = make_job()
    engine = FakeEngine(hang=True)
    worker = worker_for(settings, db, artifacts, engine)
    stop = threading.Event()
    thread = threading.Thread(target=run_one, args=(worker, stop))
    thread.start()
    assert engine.first_frame.wait(10)
    stop.set()
    thread.join(5)
    job = must(db.jobs.get(made.id))
    assert job.status is JobStatus.QUEUED and job.attempts == 0 and not job.refunded  # not a failed attempt
    assert ledger_kinds(db, job) == ["charge"] and events(db, job) == []


def test_a_v1_job_calls_back_on_start_and_completion(
    db: MemoryDatabase, settings: Settings, artifacts: ArtifactStore, make_job: Callable[..., Job]
) -> None:
    made = make_job(dialect="v1", webhook_events=("start", "progress", "completed"))
    run_one(worker_for(settings, db, artifacts, FakeEngine(frame_s=0.03)))
    sent = events(db, made)
    assert sent[0] == "start" and sent[-1] == "completed" and set(sent[1:-1]) <= {"progress"}


class Flaky:
    """Wraps a repository: the named methods raise (`failures[name]` times) before working."""

    def __init__(self, inner: Any, failures: dict[str, int]) -> None:
        self.inner = inner
        self.failures = dict(failures)
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            if self.failures.get(name, 0) > 0:
                self.failures[name] -= 1
                raise ConnectionError(f"{name}: the database went away")
            return method(*args, **kwargs)

        return call


class FlakyDatabase:
    def __init__(self, db: MemoryDatabase, failures: dict[str, int]) -> None:
        self.jobs = Flaky(db.jobs, failures)
        self.accounts = db.accounts
        self.outbox = db.outbox
        self.backend = "flaky"


def test_the_worker_loop_survives_repository_errors(
    db: MemoryDatabase, settings: Settings, artifacts: ArtifactStore, make_job: Callable[..., Job]
) -> None:
    made = make_job()
    flaky = FlakyDatabase(db, {"claim": 1, "finish": 1})
    worker = worker_for(settings, flaky, artifacts, FakeEngine())  # type: ignore[arg-type]
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        assert wait_for(lambda: db.jobs.status(made.id) is JobStatus.SUCCEEDED)
        assert thread.is_alive()  # the claim error did not end the loop
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    assert db.jobs.status(made.id) is JobStatus.SUCCEEDED
    assert flaky.jobs.calls["claim"] >= 2 and flaky.jobs.calls["finish"] == 2  # the final write was retried
    assert ledger_kinds(db, made) == ["charge"]


def test_a_final_write_that_keeps_failing_leaves_the_job_to_the_reaper(
    db: MemoryDatabase, clock: FakeClock, settings: Settings, artifacts: ArtifactStore,
    make_job: Callable[..., Job], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """worker.py: "a final write that meets a locked or lost database is tried again ...
    then the lease returns the job": the run is not reported as an engine crash."""
    made = make_job()
    monkeypatch.setattr(time, "sleep", lambda s: None)  # skip _final_write's back-off
    flaky = FlakyDatabase(db, {"finish": 99})
    worker = worker_for(settings, flaky, artifacts, FakeEngine())  # type: ignore[arg-type]
    job = must(db.jobs.claim(worker.id, settings.lease_s, ("motion",), ClaimRules()))
    with contextlib.suppress(ConnectionError):  # the loop's `except` would log it
        worker.process(job, threading.Event())
    assert flaky.jobs.calls["finish"] == 5
    after = must(db.jobs.get(made.id))
    assert "retries" not in after.metadata  # not noted as "EngineCrashed: ConnectionError"
    assert after.status is JobStatus.PROCESSING  # still leased: the reaper takes it back
    clock.advance(settings.lease_s + 1)
    assert db.jobs.reap(policy_from(settings)).requeued == [made.id]


# -- pure rules ---------------------------------------------------------------------------------


def test_retry_policy_decides_by_code_and_attempts() -> None:
    policy = RetryPolicy(max_attempts=4, backoff_s=2.0, max_backoff_s=5.0)
    assert policy.decide(FailureCode.GENERATION_FAILURE, 1, "no") == RetryDecision(
        False, 0.0, FailureCode.GENERATION_FAILURE, "no")
    assert not policy.decide(FailureCode.FIELD_INVALID, 1).retry
    assert [policy.decide(FailureCode.ENGINE_CRASHED, n).delay_s for n in (1, 2, 3)] == [2.0, 4.0, 5.0]  # capped
    assert policy.decide(FailureCode.STORAGE_FAILURE, 1).retry
    exhausted = policy.decide(FailureCode.ENGINE_CRASHED, 4, "boom")
    assert exhausted == RetryDecision(False, 0.0, FailureCode.ATTEMPTS_EXHAUSTED, "boom; gave up after 4 attempts")
    assert policy.decide(FailureCode.ENGINE_CRASHED, 5).message == "5 attempts failed"
    lost = policy.after_lease_lost(3)
    assert lost.retry and lost.delay_s == 0 and lost.code == FailureCode.ENGINE_CRASHED
    gone = policy.after_lease_lost(4)
    assert not gone.retry and gone.code == FailureCode.ATTEMPTS_EXHAUSTED and "4 times" in gone.message


def test_failure_codes_and_claim_rules() -> None:
    assert FailureCode.of("FieldInvalid") is FailureCode.FIELD_INVALID
    assert FailureCode.of("SomethingElse") is FailureCode.GENERATION_FAILURE
    wrap = ClaimRules(off_peak_window="22:00-06:00")
    at = lambda h: datetime(2030, 1, 1, h, 30, tzinfo=UTC)  # noqa: E731
    assert [wrap.off_peak_open(at(h)) for h in (21, 22, 23, 0, 5, 6, 12)] == [False, True, True, True, True, False, False]
    day = ClaimRules(off_peak_window="09:00-17:00")
    assert day.off_peak_open(at(9)) and not day.off_peak_open(at(17)) and not day.off_peak_open(at(3))
    assert ClaimRules().off_peak_open(at(12))
    with pytest.raises(ValueError, match="off_peak_window"):
        ClaimRules(off_peak_window="late evening")


def _job(**fields: Any) -> Job:
    base = Job(id="j", owner="o", model=MODEL, dialect="job", status=JobStatus.QUEUED, progress=0,
               amount=Decimal("1"), refunded=False, args={}, spec={}, seed=1, created_at=datetime.now(UTC),
               callback_url="https://h/cb")
    return replace(base, **fields)


def test_deliveries_for() -> None:
    snap = {"progress": 20}
    for dialect in ("job", "async"):  # only the final callback, whatever the filter says
        job = _job(dialect=dialect, webhook_events=("start", "progress"))
        assert [(d.url, d.kind, d.event) for d in deliveries_for(job, "completed")] == [("https://h/cb", dialect, "completed")]
        assert deliveries_for(job, "start") == [] and deliveries_for(job, "progress", snap) == []
    v1 = _job(dialect="v1")  # no filter stored: the final event only
    assert [d.event for d in deliveries_for(v1, "completed")] == ["completed"] and deliveries_for(v1, "start") == []
    chosen = _job(dialect="v1", webhook_events=("start", "progress"))
    assert [(d.event, d.payload) for d in deliveries_for(chosen, "progress", snap)] == [("progress", snap)]
    assert deliveries_for(chosen, "completed") == []
    assert deliveries_for(_job(callback_url=None), "completed") == []
    assert deliveries_for(_job(dialect="v1", callback_url=None, webhook_events=("completed",)), "completed") == []


# -- the callback sender ------------------------------------------------------------------------


def test_the_dispatcher_signs_retries_on_500_and_records_delivery(
    db: MemoryDatabase, clock: FakeClock, settings: Settings, artifacts: ArtifactStore,
    make_job: Callable[..., Job],
) -> None:
    made = make_job(callback_url="http://hooks.test/cb")
    run_one(worker_for(settings, db, artifacts, FakeEngine()))
    answers = [500, 204]
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(answers.pop(0))

    dispatcher = CallbackDispatcher(settings, db, artifacts, "cb-1", secret_for=lambda owner: SECRET)
    dispatcher.client = httpx.Client(transport=httpx.MockTransport(handler))
    dispatcher.deliver(must(db.outbox.claim("cb-1", 30)))
    [pending] = db.outbox.for_job(made.id)
    assert (pending.status, pending.attempts, pending.last_status_code, pending.last_error) == (
        "pending", 1, 500, "HTTP 500")
    assert pending.next_attempt_at > datetime.now(UTC)  # retry scheduled with backoff
    assert db.outbox.claim("cb-1", 30) is None
    clock.advance(settings.callback_backoff_s * 2)
    dispatcher.deliver(must(db.outbox.claim("cb-1", 30)))
    [done] = db.outbox.for_job(made.id)
    assert (done.status, done.attempts, [h["status_code"] for h in done.history]) == ("delivered", 2, [500, 204])
    first, second = seen
    assert str(first.url) == "http://hooks.test/cb" and first.method == "POST"
    assert first.headers["webhook-id"] == second.headers["webhook-id"]  # the same message on every retry
    body = standardwebhooks.Webhook(SECRET).verify(second.content, dict(second.headers))
    assert body["data"]["job_id"] == made.id and body["data"]["status"] == 2  # the job dialect's query body
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(SECRET).verify(second.content + b" ", dict(second.headers))


def test_the_dispatcher_gives_up_on_a_refused_address(
    db: MemoryDatabase, settings: Settings, artifacts: ArtifactStore, make_job: Callable[..., Job]
) -> None:
    made = make_job(callback_url="http://127.0.0.1:9/cb")
    run_one(worker_for(settings, db, artifacts, FakeEngine()))
    strict = settings.model_copy(update={"allow_private_urls": False})
    dispatcher = CallbackDispatcher(strict, db, artifacts, "cb-1")
    dispatcher.client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    dispatcher.deliver(must(db.outbox.claim("cb-1", 30)))
    [failed] = db.outbox.for_job(made.id)
    assert failed.status == "failed" and failed.attempts == 1 and failed.last_status_code is None


# -- the service --------------------------------------------------------------------------------


def job_args(**extra: Any) -> dict[str, Any]:
    return {"mode": "turbo", "prompt": "a cat", "duration": 1, "resolution": "540p",
            "image": data_uri(png()), **extra}


@pytest.fixture
def service(settings: Settings, db: MemoryDatabase, artifacts: ArtifactStore) -> Iterator[JobService]:
    svc = JobService(settings, db, artifacts, Router(None), Catalog.load())
    yield svc
    anyio.run(svc.aclose)


def submit(service: JobService, owner: str = "o", **fields: Any) -> Any:
    req = CreateRequest(**{"model": MODEL, "args": job_args(), "args_field": "args", "dialect": "job", **fields})
    return anyio.run(service.submit, owner, req)


def test_service_submit_stores_the_job_and_its_charge(service: JobService, db: MemoryDatabase,
                                                      artifacts: ArtifactStore) -> None:
    done = submit(service, callback_url="http://hooks.test/cb")
    job = done.job
    assert not done.replayed and job.status is JobStatus.QUEUED and job.dialect == "job" and job.engine == "motion"
    assert job.amount == Decimal("0.032") and db.accounts.ledger_total("o") == Decimal("0.032")
    assert job.args["image"].startswith("data:image/png;base64,")
    assert (artifacts.root / job.spec["image"]).read_bytes() == png()  # the input, kept by content hash
    assert "route" not in job.metadata  # the operator's route is never public
    assert job.callback_url == "http://hooks.test/cb" and 1 <= job.seed <= 2_147_483_647


def test_service_refusals_store_nothing(service: JobService, db: MemoryDatabase) -> None:
    with pytest.raises(FieldInvalid) as err:
        submit(service, args=job_args(duration=99))
    assert err.value.field == "duration"
    with pytest.raises(FieldInvalid):
        submit(service, model="vidu-q3-turbo-i2v")  # an async-dialect model on the job endpoint
    with pytest.raises(FieldInvalid):
        submit(service, args=job_args(image="data:image/png;base64,AAAA"))
    assert db.jobs.list(None, JobFilter(), 10) == [] and db.accounts.ledger("o") == []


def test_service_idempotency(service: JobService, db: MemoryDatabase) -> None:
    first = submit(service, idempotency_key="k1")
    again = submit(service, idempotency_key="k1")
    assert again.replayed and again.job.id == first.job.id
    with pytest.raises(Conflict):
        submit(service, idempotency_key="k1", args=job_args(prompt="a dog"))
    assert len(db.accounts.ledger("o")) == 1


def test_service_get_locate_cancel_and_list(service: JobService, db: MemoryDatabase) -> None:
    first, second = submit(service).job, submit(service).job
    placed, position = service.locate("o", second.id)
    assert position == 1 and placed.eta is not None and placed.eta >= 1
    assert service.locate("o", first.id)[1] == 0 and service.get("o", first.id).eta is not None
    with pytest.raises(NotFound):
        service.get("someone-else", first.id)  # another owner's job reads as missing
    with pytest.raises(NotFound):
        service.get("o", "no-such-job")
    assert [j.id for j in service.list("o", JobFilter(), 10)] == [second.id, first.id]
    canceled = service.cancel("o", first.id)
    assert canceled.status is JobStatus.CANCELED and canceled.refunded
    with pytest.raises(Conflict):
        service.cancel("o", first.id)
    assert service.locate("o", second.id)[1] == 0  # moved up
    assert service.locate("o", first.id) == (must(db.jobs.get(first.id)), None)
    lines, total, balance = service.usage("o", 10)
    assert [ln.kind for ln in lines] == ["charge", "charge", "refund"] and total == Decimal("0.032") and balance is None


# -- the dialects, through the ASGI app ---------------------------------------------------------


def test_the_three_dialects_create_and_query(tmp_path: Path) -> None:
    from stillmotion.api.app import create_app
    from stillmotion.runtime import Runtime

    settings = Settings(data_dir=tmp_path / "app", api_keys="k1", allow_private_urls=True, max_running_per_key=0)
    runtime = Runtime(settings, db=MemoryDatabase())
    app = create_app(runtime)
    auth = {"Authorization": "Bearer k1"}
    args = job_args()

    async def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            r = await client.post("/api/v1/job/create", json={"model": MODEL, "args": args})
            out["unauthorized"] = (r.status_code, r.json())
            r = await client.post("/api/v1/job/create", json={"model": MODEL, "args": args}, headers=auth)
            out["job_create"] = r.json()
            job_id = out["job_create"]["job_id"]
            r = await client.post("/v3/async/vidu-q3-turbo-i2v", headers=auth, json={
                "images": [args["image"]], "prompt": "a cat", "duration": 1, "resolution": "540p", "audio": False})
            out["async_create"] = r.json()
            task_id = out["async_create"]["task_id"]
            r = await client.post("/v1/jobs", headers=auth, json={"model": MODEL, "input": args})
            out["v1_create"] = (r.status_code, r.json())
            v1_id = out["v1_create"][1]["id"]
            queries = {
                "job": lambda: client.get("/api/v1/job/query", params={"id": job_id}, headers=auth),
                "async": lambda: client.get("/v3/async/task-result", params={"task_id": task_id}, headers=auth),
                "v1": lambda: client.get(f"/v1/jobs/{v1_id}", headers=auth),
            }
            out["queued"] = {name: (await q()).json() for name, q in queries.items()}
            worker = worker_for(runtime.settings, runtime.db, runtime.artifacts, FakeEngine())
            while await anyio.to_thread.run_sync(run_one, worker) is not None:
                pass
            out["done"] = {name: (await q()).json() for name, q in queries.items()}
        return out

    out = anyio.run(scenario)
    status, body = out["unauthorized"]
    assert status == 401 and body["code"] == 401 and body["data"] is None
    created = out["job_create"]
    assert created["code"] == 0 and created["data"]["amount"] == "0.032"
    assert out["v1_create"][0] == 201 and out["v1_create"][1]["status"] == "queued"
    assert out["v1_create"][1]["queue_position"] == 2  # behind the job and async jobs
    queued = out["queued"]
    assert queued["job"]["data"]["status"] == 0 and queued["job"]["data"]["result"] is None
    assert queued["async"]["task"]["status"] == "TASK_STATUS_QUEUED"
    assert queued["v1"]["status"] == "queued" and queued["v1"]["output"] is None
    done = out["done"]
    data = done["job"]["data"]
    assert data["status"] == 2 and data["progress"] == 100 and data["refunded"] is False
    assert re.search(rf"/files/outputs/{data['job_id']}/a1-[0-9a-f]+/video.mp4\?expires=", data["result"]["videos"][0]["url"])
    assert done["async"]["task"]["status"] == "TASK_STATUS_SUCCEED"
    assert "/files/outputs/" in done["async"]["videos"][0]["video_url"]
    assert done["v1"]["status"] == "succeeded" and "/files/outputs/" in done["v1"]["output"]["video_url"]
    jobs = runtime.db.jobs.list(None, JobFilter(), 10)
    assert sorted(j.dialect for j in jobs) == ["async", "job", "v1"]
