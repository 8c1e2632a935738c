"""JobService: the one door through which the API dialects and the CLI create and read jobs."""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import anyio
import httpx
import orjson

from stillmotion.catalog import MODELS, get_model
from stillmotion.domain import Job, JobStatus, StoredImage
from stillmotion.errors import Conflict, FieldInvalid, NotFound
from stillmotion.media.inputs import fetch_image_data, validate_image_bytes
from stillmotion.media.netguard import check_url
from stillmotion.observability import JOBS_SUBMITTED
from stillmotion.queue_rank import QueueRanker
from stillmotion.randomness import randbelow, uuid4
from stillmotion.routing import route_request
from stillmotion.settings import Settings
from stillmotion.storage import ArtifactStore
from stillmotion.store import Delivery, LedgerLine, NewJob, Store, final_deliveries
from stillmotion.store.listing import JobFilter

MAX_SEED = 2_147_483_647
FINAL_CACHE_SIZE = 10_000
KEPT_INPUTS_SIZE = 100_000
MAX_IDEMPOTENCY_KEY = 255
WEBHOOK_EVENTS = ("start", "progress", "completed")
_STATS_TTL_S = 5.0


def random_seed() -> int:
    return randbelow(MAX_SEED) + 1


@dataclass(frozen=True)
class Submission:
    job: Job
    replayed: bool  # an earlier request with the same Idempotency-Key made this job


def check_idempotency_key(key: Any) -> str | None:
    if key is None:
        return None
    if not isinstance(key, str) or not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise FieldInvalid(f"must be 1-{MAX_IDEMPOTENCY_KEY} printable characters", field="Idempotency-Key")
    return key


def check_events(events: Any) -> tuple[str, ...] | None:
    if events is None:
        return None
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise FieldInvalid(f"must be a list of {', '.join(WEBHOOK_EVENTS)}", field="webhook_events_filter")
    unknown = [e for e in events if e not in WEBHOOK_EVENTS]
    if unknown:
        raise FieldInvalid(
            f"unknown event {unknown[0]!r}; use {', '.join(WEBHOOK_EVENTS)}", field="webhook_events_filter"
        )
    return tuple(dict.fromkeys(events))


def request_hash(dialect: str, model_id: Any, args: Any, callback_url: Any, events: Any) -> str:
    """What makes two requests "the same" for Idempotency-Key: endpoint, model, args, hooks."""
    body = {"d": dialect, "m": model_id, "a": args, "c": callback_url, "e": events}
    try:
        raw = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # a value orjson cannot encode would be refused by validation anyway
        raw = repr(body).encode()
    return hashlib.sha256(raw).hexdigest()


class JobService:
    def __init__(self, settings: Settings, store: Store, artifacts: ArtifactStore) -> None:
        self.settings = settings
        self.store = store
        self.artifacts = artifacts
        self._http: httpx.AsyncClient | None = None
        # Jobs in a final state never change again, so polls after the end skip the database.
        self._final: dict[str, Job] = {}
        self._run_stats: tuple[float, float, int] = (0.0, 0.0, 1)  # (read at, mean run s, parallel)
        self.ranker = QueueRanker(store)
        self._kept_inputs: set[str] = set()
        self._inputs_pool = ThreadPoolExecutor(thread_name_prefix="inputs")  # image checks off the event loop

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(follow_redirects=False, trust_env=False)
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        self._inputs_pool.shutdown(wait=False)

    async def submit(
        self,
        owner: str,
        model_id: Any,
        args: Any,
        *,
        dialect: str,
        callback_url: Any = None,
        callback_field: str = "callback_url",
        idempotency_key: Any = None,
        webhook_events: Any = None,
    ) -> Submission:
        """Validate, fetch inputs, price and store a job with its charge; refusals store nothing.

        Checks run cheapest first (fields, then the callback address, then downloads) so a
        bad request costs little; images are kept only once everything about them is valid.
        A repeated Idempotency-Key returns the earlier job before any of that work.
        `dialect` "v1" (the native API) takes every model; the others only their own.
        """
        key = check_idempotency_key(idempotency_key)
        events = check_events(webhook_events)
        fingerprint = request_hash(dialect, model_id, args, callback_url, webhook_events) if key else None
        if key:
            earlier = self.store.find_idempotent(owner, key, fingerprint or "")
            if earlier is not None:
                return Submission(earlier, True)
        if not isinstance(model_id, str) or not model_id:
            raise FieldInvalid("required string", field="model")
        entry = get_model(model_id)
        if dialect != "v1" and entry.dialect != dialect:
            raise FieldInvalid(f"model {model_id!r} is not served by this endpoint", field="model")
        args_field = "input" if dialect == "v1" else "args" if dialect == "job" else "body"
        if not isinstance(args, dict):
            raise FieldInvalid("must be a JSON object", field=args_field)
        request = entry.prepare(args)  # validated once; refs, mode, price and seed with it
        valid = request.args
        # refuses what the routed model cannot make
        route = route_request(self.settings, entry, valid, refs=request.image_refs)
        if callback_url is not None:
            if not isinstance(callback_url, str) or not callback_url:
                raise FieldInvalid("must be a URL string", field=callback_field)
            if not self.settings.allow_private_urls:  # DNS: off the event loop
                await anyio.to_thread.run_sync(
                    lambda: check_url(callback_url, field=callback_field, settings=self.settings)
                )
            else:
                check_url(callback_url, field=callback_field, settings=self.settings)
        stored = await self._store_images(request.image_refs)
        seed = request.requested_seed or random_seed()
        spec = entry.spec_for(request, stored, seed)
        ignored = request.ignored
        new = NewJob(
            id=str(uuid4()),
            owner=owner,
            model=entry.id,
            dialect=dialect,
            engine=route.engine,
            amount=request.price,
            args=_public_args(valid),
            spec=spec.to_dict(),
            seed=seed,
            callback_url=callback_url,
            off_peak=bool(valid.get("off_peak", False)),
            metadata={**({"ignored_fields": ignored} if ignored else {}), **route.job_metadata()},
            idempotency_key=key,
            request_hash=fingerprint,
            webhook_events=(events if events is not None else WEBHOOK_EVENTS) if dialect == "v1" else None,
        )
        if self.store.backend == "sqlite":  # one writer anyway: group commit (store.writer)
            job = await self.store.job_writer().submit_async(new)
        else:  # PostgreSQL writes run side by side
            job = await anyio.to_thread.run_sync(self.store.create_job, new)
        if job.id == new.id:
            JOBS_SUBMITTED.labels(entry.id, dialect).inc()
        return Submission(job, job.id != new.id)

    async def _store_images(self, refs: dict[str, str]) -> dict[str, StoredImage]:
        fetched = {
            field: (await fetch_image_data(ref, field=field, settings=self.settings, client=self.http))
            for field, ref in refs.items()
        }
        if not fetched:
            return {}
        # One hop off the event loop for all of it: Pillow releases the GIL while decoding.
        # A plain executor: half the CPU of anyio's thread hop (its limiter and cancel scope).
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()  # log lines keep the request id
        return await loop.run_in_executor(self._inputs_pool, context.run, self._validate_and_keep, fetched)

    def _validate_and_keep(self, fetched: dict[str, bytes]) -> dict[str, StoredImage]:
        images = {
            field: validate_image_bytes(data, field=field, settings=self.settings)
            for field, data in fetched.items()
        }
        stored: dict[str, StoredImage] = {}
        for field, image in images.items():  # kept only once every input is valid
            # Content-addressed (storage.local) and never deleted: a resubmitted image is
            # kept already, and this process remembers which it has seen kept.
            key = f"inputs/{image.sha256}.{image.ext}"
            if key not in self._kept_inputs:
                key = self.artifacts.put_input(image.data, image.sha256, image.ext)
                if len(self._kept_inputs) >= KEPT_INPUTS_SIZE:
                    self._kept_inputs.clear()
                self._kept_inputs.add(key)
            stored[field] = StoredImage(key, image.width, image.height)
        return stored

    def deliveries(self, owner: str, job_id: Any) -> list[Delivery]:
        """The callback deliveries of one of this owner's jobs, with their attempt history."""
        return self.store.deliveries(self.get(owner, job_id).id)

    def usage(self, owner: str, limit: int) -> tuple[list[LedgerLine], Decimal, Decimal | None]:
        """The owner's latest ledger lines, net amount spent, and balance (None: unlimited)."""
        return self.store.ledger(owner, limit=limit), self.store.ledger_total(owner), self.store.balance(owner)

    def queue_stats(self) -> dict[str, int]:
        """Queue counts for metrics; raises when the database is unreachable (health checks)."""
        return self.store.queue_stats()

    def get(self, owner: str, job_id: Any, *, field: str = "id") -> Job:
        """A job of this owner; another owner's job is indistinguishable from a missing one.
        A queued job comes with an estimated `eta` from its queue position."""
        return self.locate(owner, job_id, field=field)[0]

    def locate(self, owner: str, job_id: Any, *, field: str = "id") -> tuple[Job, int | None]:
        """As `get`, with the job's place in the queue (jobs ahead of it; None unless queued)."""
        if not isinstance(job_id, str) or not job_id:
            raise FieldInvalid("required", field=field)
        job = self._final.get(job_id)
        position = None
        if job is None:
            # One read for the job and, while the queue is short, its exact position.
            job, position = self.store.get_job_placed(job_id, exact_position=not self.ranker.is_deep(job_id))
        if job is None or job.owner != owner:
            raise NotFound(f"no job {job_id!r}", field=field)
        self._remember_final(job)
        if job.status != JobStatus.QUEUED:
            return job, None
        if position is None:
            position = self.ranker.position(job)
        elif position >= self.ranker.deep:
            self.ranker.deepened(job.engine)
        return job.with_eta(self.queued_eta(job, position)), position

    def placed(self, job: Job) -> tuple[Job, int | None]:
        """The job with its queue position and estimated `eta` filled in while it is queued."""
        if job.status != JobStatus.QUEUED:
            return job, None
        position = self.ranker.position(job)
        return job.with_eta(self.queued_eta(job, position)), position

    def _fetch(self, owner: str, job_id: Any, field: str) -> Job:
        if not isinstance(job_id, str) or not job_id:
            raise FieldInvalid("required", field=field)
        job = self._final.get(job_id) or self.store.get_job(job_id)
        if job is None or job.owner != owner:
            raise NotFound(f"no job {job_id!r}", field=field)
        self._remember_final(job)
        return job

    def _remember_final(self, job: Job) -> None:
        if job.status.final and job.id not in self._final:
            if len(self._final) >= FINAL_CACHE_SIZE:
                self._final.pop(next(iter(self._final)))  # oldest first: dicts keep insertion order
            self._final[job.id] = job

    def forget(self, job_id: str) -> None:
        """Drop a cached final job (its record changed: result files deleted)."""
        self._final.pop(job_id, None)

    def queued_eta(self, job: Job, position: int | None) -> int | None:
        """Seconds until a queued job is likely done: the jobs ahead shared over the running
        ones, plus its own run, at the mean run time of recent jobs (or a guess from the clip)."""
        if position is None:
            return None
        mean_s, parallel = self._stats()
        if mean_s <= 0:
            mean_s = max(1.0, 2.0 * float(job.spec.get("duration", 5)))
        return max(1, math.ceil((position / parallel + 1) * mean_s))

    def _stats(self) -> tuple[float, int]:
        read_at, mean_s, parallel = self._run_stats
        if time.monotonic() - read_at > _STATS_TTL_S:
            runs = self.store.recent_run_seconds()
            mean_s = sum(runs) / len(runs) if runs else 0.0
            parallel = max(1, self.store.queue_stats()["processing"])
            self._run_stats = (time.monotonic(), mean_s, parallel)
        return mean_s, parallel

    def cancel(self, owner: str, job_id: Any) -> Job:
        """Cancel and refund; a queued job at once, a running one as its worker notices (its
        next frame or step). Conflict when the job has already ended."""
        job = self.get(owner, job_id)
        canceled = self.store.cancel(job.id, final_deliveries(job))
        if canceled is None:
            current = self.store.get_job(job.id)
            state = current.status.name.lower() if current else "gone"
            raise Conflict(f"job {job.id!r} has already ended ({state}); nothing to cancel", field="id")
        return canceled

    def list(self, owner: str, filters: JobFilter, limit: int) -> list[Job]:
        return self.store.list_jobs(owner, limit=limit, filters=filters)

    def quote(self, model_id: Any, args: Any) -> tuple[Any, Decimal, dict[str, Any]]:
        """The price of an input without creating a job: (entry, amount, normalised input)."""
        if not isinstance(model_id, str) or not model_id:
            raise FieldInvalid("required string", field="model")
        entry = get_model(model_id)
        if not isinstance(args, dict):
            raise FieldInvalid("must be a JSON object", field="input")
        valid = entry.validate(args)
        valid.pop("_ignored", None)
        return entry, entry.price(valid), _public_args(valid)

    @staticmethod
    def models() -> list[Any]:
        return list(MODELS.values())


def _public_args(valid: dict[str, Any]) -> dict[str, Any]:
    """Arguments as stored: image data URIs shortened so job rows stay small."""
    return {
        name: [_short(v) for v in value] if isinstance(value, list) else _short(value)
        for name, value in valid.items()
    }


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > 512:
        return value[:64] + f"...({len(value)} chars)"
    return value
