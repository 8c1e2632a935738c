"""JobService: the one door through which the dialects and the CLI create and read jobs.

It speaks no wire format: a dialect hands it a `CreateRequest` and presents the `Job` it gets
back. Database calls run in worker threads (`anyio.to_thread`), never on the event loop.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from decimal import Decimal
from fractions import Fraction
from typing import Any

import anyio
import httpx
import orjson

from stillmotion.catalog import Catalog, output_size
from stillmotion.domain import StoredImage
from stillmotion.errors import Conflict, FieldInvalid, NotFound, Unavailable
from stillmotion.health import RETRY_AFTER_S, StoreGate, storage_fault
from stillmotion.jobs import WEBHOOK_EVENTS, Database, Delivery, Job, JobFilter, JobStatus, LedgerLine, NewJob
from stillmotion.media.inputs import ImageData, fetch_image_data, validate_image_bytes
from stillmotion.media.netguard import check_url
from stillmotion import observability
from stillmotion.observability import JOBS_SUBMITTED
from stillmotion.routing import Router
from stillmotion.settings import Settings
from stillmotion.storage import ArtifactStore

log = logging.getLogger("stillmotion.jobs")
MAX_SEED = 2_147_483_647
MAX_IDEMPOTENCY_KEY = 255
_STATS_TTL_S = 5.0  # the mean run time behind queued ETAs: an estimate, read at most this often


def random_seed() -> int:
    return secrets.randbelow(MAX_SEED) + 1


@dataclass(frozen=True)
class CreateRequest:
    """A create request as a dialect parsed it, in no wire format.

    `args_field` and `callback_field` name the fields in the dialect's own words for errors;
    `models`: the model ids the endpoint serves (None: every catalog model);
    `default_events`: without a filter, every webhook event is sent (else the final one);
    `metadata`: what the dialect keeps with the job (public; e.g. Vidu's payload and meta_data);
    `size`: the (width, height) the client asked for; refused (field `size_field`) when the model
    makes another from these inputs (the aspect of models without an aspect argument follows the image)."""

    model: Any
    args: Any
    args_field: str
    dialect: str
    callback_url: Any = None
    callback_field: str = "callback_url"
    idempotency_key: Any = None
    webhook_events: Any = None
    models: frozenset[str] | None = None
    default_events: bool = False
    metadata: dict[str, Any] | None = None
    size: tuple[int, int] | None = None
    size_field: str = "size"


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


def render_urls(value: Any, path: str = "") -> list[tuple[str, str]]:
    """Every http(s) URL in validated arguments, with its field path ("wm_url", "a.b[0]"):
    found by value, so any model's URL fields are checked without naming them."""
    if isinstance(value, str):
        return [(path, value)] if value[:8].lower().startswith(("http://", "https://")) else []
    if isinstance(value, dict):
        return [hit for k, v in value.items() if isinstance(k, str) and not k.startswith("_")
                for hit in render_urls(v, f"{path}.{k}" if path else k)]
    if isinstance(value, (list, tuple)):
        return [hit for i, v in enumerate(value) for hit in render_urls(v, f"{path}[{i}]")]
    return []


def request_hash(req: CreateRequest) -> str:
    """What makes two requests "the same" for Idempotency-Key: endpoint, model, args, hooks."""
    body = {"d": req.dialect, "m": req.model, "a": req.args, "c": req.callback_url, "e": req.webhook_events}
    if req.metadata:
        body["x"] = req.metadata
    try:
        raw = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # a value orjson cannot encode would be refused by validation anyway
        raw = repr(body).encode()
    return hashlib.sha256(raw).hexdigest()


def check_job_id(job_id: Any, field: str) -> str:
    """Ids are printable ASCII of a sane length; anything else cannot name a job."""
    if not isinstance(job_id, str) or not job_id:
        raise FieldInvalid("required", field=field)
    if len(job_id) > 64 or not job_id.isascii() or not job_id.isprintable():
        raise NotFound(f"no job {job_id[:64]!r}", field=field)
    return job_id


class JobService:
    def __init__(
        self, settings: Settings, db: Database, artifacts: ArtifactStore, router: Router, catalog: Catalog,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.db = db
        self.artifacts = artifacts
        self.router = router
        self._http: httpx.AsyncClient | None = None
        self._stats_lock = threading.Lock()
        self.gate = StoreGate(settings)  # refuses creates while the data dir is short of space
        self._run_stats: tuple[float, float, int] = (-math.inf, 0.0, 1)  # (read at, mean run s, parallel)

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(follow_redirects=False, trust_env=False)
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def submit(self, owner: str, req: CreateRequest) -> Submission:
        """Validate, fetch inputs, price and store a job with its charge; refusals store nothing.

        Checks run cheapest first (fields, then the callback address, then downloads) so a
        bad request costs little; images are kept only once everything about them is valid.
        A repeated Idempotency-Key returns the earlier job before any of that work.
        """
        key = check_idempotency_key(req.idempotency_key)
        events = check_events(req.webhook_events)
        fingerprint = request_hash(req) if key else None
        if key:
            earlier = await anyio.to_thread.run_sync(self.db.jobs.find_idempotent, owner, key, fingerprint or "")
            if earlier is not None:
                return Submission(earlier, True)
        if not isinstance(req.model, str) or not req.model:
            raise FieldInvalid("required string", field="model")
        entry = self.catalog.get(req.model, among=req.models)
        if not isinstance(req.args, dict):
            raise FieldInvalid("must be a JSON object", field=req.args_field)
        request = entry.prepare(req.args)  # validated once; refs, mode, price and seed with it
        valid = request.args
        route = self.router.for_request(entry, valid, refs=request.image_refs)  # refuses what it cannot make
        if req.callback_url is not None:
            url, field = req.callback_url, req.callback_field
            if not isinstance(url, str) or not url:
                raise FieldInvalid("must be a URL string", field=field)
            await anyio.to_thread.run_sync(lambda: check_url(url, field=field, settings=self.settings))  # DNS
        # URLs fetched at render time (a watermark, background music): checked now too, so a
        # private target is refused before anything is charged (the fetch checks again).
        fetched_now = set(request.image_refs.values())  # downloaded and checked below
        for field, url in render_urls(valid):
            if url not in fetched_now:
                await anyio.to_thread.run_sync(partial(check_url, url, field=field, settings=self.settings))
        problem = await anyio.to_thread.run_sync(self.gate.problem)
        if problem is not None:
            raise Unavailable(f"cannot store jobs now ({problem}); nothing was stored or charged",
                              retry_after=RETRY_AFTER_S)
        try:
            return await self._store(owner, req, entry, request, valid, route, key, fingerprint, events)
        except Exception as exc:
            if not storage_fault(exc):
                raise
            self.gate.failed(str(exc)[:200])
            log.error("create refused: storage cannot take writes: %s", exc)
            raise Unavailable("cannot store jobs now (storage full or not writable); nothing was charged",
                              retry_after=RETRY_AFTER_S) from None

    async def _store(self, owner: str, req: CreateRequest, entry: Any, request: Any, valid: dict[str, Any],
                     route: Any, key: str | None, fingerprint: str | None,
                     events: tuple[str, ...] | None) -> Submission:
        """Keep the inputs, then store the job with its charge in one transaction."""
        stored = await self._store_images(request.image_refs, lambda images: _check_size(req, entry, valid, images))
        seed = request.requested_seed or random_seed()
        new = NewJob(
            id=str(uuid.uuid4()),
            owner=owner,
            model=entry.id,
            dialect=req.dialect,
            engine=route.engine,
            amount=request.price,
            args=_public_args(valid),
            spec=entry.spec_for(request, stored, seed).to_dict(),
            seed=seed,
            callback_url=req.callback_url,
            off_peak=bool(valid.get("off_peak", False)),
            metadata=_metadata(req.metadata, request.ignored),
            idempotency_key=key,
            request_hash=fingerprint,
            webhook_events=(events if events is not None else WEBHOOK_EVENTS) if req.default_events else events,
            route=route.config(),
        )
        job = await anyio.to_thread.run_sync(self.db.jobs.create, new)
        observability.note(job_id=job.id)
        if job.id == new.id:
            JOBS_SUBMITTED.labels(entry.id, req.dialect).inc()
            log.info("job %s queued: %s, %s mode, %s s, %s USD, %s dialect", job.id, entry.id, request.mode,
                     job.spec.get("duration"), job.amount, req.dialect, extra={"job_id": job.id})
        return Submission(job, job.id != new.id)

    async def _store_images(self, refs: dict[str, str], check: Callable[[dict[str, ImageData]], None] | None = None,
                            ) -> dict[str, StoredImage]:
        fetched = {
            field: (await fetch_image_data(ref, field=field, settings=self.settings, client=self.http))
            for field, ref in refs.items()
        }
        if not fetched:
            return {}
        return await anyio.to_thread.run_sync(self._validate_and_keep, fetched, check)  # Pillow releases the GIL

    def _validate_and_keep(self, fetched: dict[str, bytes], check: Callable[[dict[str, ImageData]], None] | None = None,
                           ) -> dict[str, StoredImage]:
        images = {
            field: validate_image_bytes(data, field=field, settings=self.settings)
            for field, data in fetched.items()
        }
        if check is not None:
            check(images)
        stored: dict[str, StoredImage] = {}
        for field, image in images.items():  # kept only once every input is valid
            key = self.artifacts.put_input(image.data, image.sha256, image.ext)  # content-addressed
            stored[field] = StoredImage(key, image.width, image.height)
        return stored

    # -- reads (blocking: call from a worker thread) -------------------------------------------

    def get(self, owner: str, job_id: Any, *, field: str = "id") -> Job:
        """A job of this owner; another owner's job is indistinguishable from a missing one.
        A queued job comes with an estimated `eta` from its queue position."""
        return self.locate(owner, job_id, field=field)[0]

    def locate(self, owner: str, job_id: Any, *, field: str = "id") -> tuple[Job, int | None]:
        """As `get`, with the job's place in the queue (jobs ahead of it; None unless queued)."""
        job = self.db.jobs.get(check_job_id(job_id, field))
        if job is None or job.owner != owner:
            raise NotFound(f"no job {job_id!r}", field=field)
        observability.note(job_id=job.id)
        return self.placed(job)

    def placed(self, job: Job) -> tuple[Job, int | None]:
        """The job with its queue position and estimated `eta` filled in while it is queued."""
        if job.status != JobStatus.QUEUED:
            return job, None
        position = self.db.jobs.position(job)
        return replace(job, eta=self.queued_eta(job, position)), position

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
        with self._stats_lock:
            read_at, mean_s, parallel = self._run_stats
            if time.monotonic() - read_at > _STATS_TTL_S:
                runs = self.db.jobs.recent_run_seconds()
                mean_s = sum(runs) / len(runs) if runs else 0.0
                parallel = max(1, self.db.jobs.stats()["processing"])
                self._run_stats = (time.monotonic(), mean_s, parallel)
            return mean_s, parallel

    def watch(self, job_ids: list[str]) -> dict[str, tuple[Job, int | None]]:
        """Many jobs in one read, placed (the live event streams' shared poll; each stream
        checks its job's owner)."""
        return {i: self.placed(job) for i, job in self.db.jobs.watch(job_ids).items()}

    def cancel(self, owner: str, job_id: Any) -> Job:
        """Cancel and refund; a queued job at once, a running one as its worker notices (its
        next frame or step). Conflict when the job has already ended."""
        job = self.get(owner, job_id)
        canceled = self.db.jobs.cancel(job.id)
        if canceled is not None:
            log.info("job %s canceled by its owner and refunded", job.id, extra={"job_id": job.id})
        if canceled is None:
            current = self.db.jobs.get(job.id)
            state = current.status.value if current else "gone"
            raise Conflict(f"job {job.id!r} has already ended ({state}); nothing to cancel", field="id")
        return canceled

    def delete(self, owner: str, job_id: Any, *, field: str = "id") -> Job:
        """Cancel (and refund) a job that has not ended, then delete its result files; the job
        record stays (ledger, other dialects) and reads as `purged`. Deleting twice is fine."""
        job = self.get(owner, job_id, field=field)
        canceled = None
        if job.status in (JobStatus.QUEUED, JobStatus.PROCESSING):
            canceled = self.db.jobs.cancel(job.id)
        if canceled is not None:
            log.info("job %s deleted by its owner: canceled and refunded", job.id, extra={"job_id": job.id})
        else:  # ended: its files are ours to remove (a running job's worker removes them as it stops)
            self.artifacts.delete_prefix(f"outputs/{job.id}")
        self.db.jobs.mark_purged(job.id)
        return self.get(owner, job.id)

    def stored_inputs(self, job: Job) -> dict[str, bytes]:
        """The input images a job was made from, by spec field (`image`, `image_tail`): kept
        content-addressed and never purged, so a job can be made again from them."""
        return {name: b"".join(self.artifacts.read(job.spec[name]))
                for name in ("image", "image_tail") if job.spec.get(name)}

    def spritesheet(self, job: Job) -> str | None:
        """The key of a finished job's spritesheet, built from its stored MP4 on first request;
        None once the video is no longer kept."""
        from stillmotion.media.spritesheet import stored_spritesheet

        return stored_spritesheet(self.artifacts, job.result["video"])

    def list(self, owner: str, filters: JobFilter, limit: int) -> list[Job]:
        return self.db.jobs.list(owner, filters, limit)

    def deliveries(self, owner: str, job_id: Any) -> list[Delivery]:
        """The callback deliveries of one of this owner's jobs, with their attempt history."""
        return self.db.outbox.for_job(self.get(owner, job_id).id)

    def usage(self, owner: str, limit: int) -> tuple[list[LedgerLine], Decimal, Decimal | None]:
        """The owner's latest ledger lines, net amount spent, and balance (None: unlimited)."""
        accounts = self.db.accounts
        return accounts.ledger(owner, limit=limit), accounts.ledger_total(owner), accounts.balance(owner)

    def queue_stats(self) -> dict[str, int]:
        """Queue counts for metrics; raises when the database is unreachable (health checks)."""
        return self.db.jobs.stats()

    def quote(self, model_id: Any, args: Any) -> tuple[Any, Decimal, dict[str, Any]]:
        """The price of an input without creating a job: (entry, amount, normalised input)."""
        if not isinstance(model_id, str) or not model_id:
            raise FieldInvalid("required string", field="model")
        entry = self.catalog.get(model_id)
        if not isinstance(args, dict):
            raise FieldInvalid("must be a JSON object", field="input")
        valid = entry.validate(args)
        valid.pop("_ignored", None)
        return entry, entry.price(valid), _public_args(valid)

    def models(self) -> list[Any]:
        return self.catalog.entries()


def _metadata(given: dict[str, Any] | None, ignored: list[str] | None) -> dict[str, Any]:
    """The dialect's metadata with the catalog's ignored keys added to its own."""
    out = dict(given or {})
    if ignored:
        out["ignored_fields"] = [*out.get("ignored_fields", []), *ignored]
    return out


def _check_size(req: CreateRequest, entry: Any, valid: dict[str, Any], images: dict[str, ImageData]) -> None:
    """The asked-for size against what the head image gives where the aspect follows it."""
    if req.size is None or "aspect_ratio" in valid or not images:
        return
    head = next(iter(images.values()))
    aspect = Fraction(head.width, head.height)
    made = output_size(valid["resolution"], aspect)
    if made != tuple(req.size):
        resolutions = next((getattr(f, "options", ()) for f in entry.fields if f.name == "resolution"), ())
        options = ", ".join(f"{w}x{h}" for w, h in (output_size(r, aspect) for r in resolutions))
        raise FieldInvalid(f"{req.size[0]}x{req.size[1]} does not follow the input image's aspect "
                           f"({head.width}x{head.height}); with this image: {options}", field=req.size_field)


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
