"""JobService: the one door through which the API dialects and the CLI create and read jobs."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import anyio
import httpx

from stillmotion.catalog import get_model
from stillmotion.domain import Job, StoredImage
from stillmotion.errors import FieldInvalid, NotFound
from stillmotion.media.inputs import load_image
from stillmotion.media.netguard import check_url
from stillmotion.settings import Settings
from stillmotion.storage import ArtifactStore
from stillmotion.store import NewJob, Store

MAX_SEED = 2_147_483_647
FINAL_CACHE_SIZE = 10_000


def random_seed() -> int:
    return secrets.randbelow(MAX_SEED) + 1


class JobService:
    def __init__(self, settings: Settings, store: Store, artifacts: ArtifactStore) -> None:
        self.settings = settings
        self.store = store
        self.artifacts = artifacts
        self._http: httpx.AsyncClient | None = None
        # Jobs in a final state never change again, so polls after the end skip the database.
        self._final: dict[str, Job] = {}

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(follow_redirects=False, trust_env=False)
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def submit(
        self,
        owner: str,
        model_id: Any,
        args: Any,
        *,
        dialect: str,
        callback_url: Any = None,
        callback_field: str = "callback_url",
    ) -> Job:
        """Validate, fetch inputs, price and store a job with its charge; refusals store nothing.

        Checks run cheapest first (fields, then the callback address, then downloads) so a
        bad request costs little; images are kept only once everything about them is valid.
        """
        if not isinstance(model_id, str) or not model_id:
            raise FieldInvalid("required string", field="model")
        entry = get_model(model_id)
        if entry.dialect != dialect:
            raise FieldInvalid(f"model {model_id!r} is not served by this endpoint", field="model")
        if not isinstance(args, dict):
            raise FieldInvalid("must be a JSON object", field="args" if dialect == "job" else "body")
        valid = entry.validate(args)
        if callback_url is not None:
            if not isinstance(callback_url, str) or not callback_url:
                raise FieldInvalid("must be a URL string", field=callback_field)
            await anyio.to_thread.run_sync(
                lambda: check_url(callback_url, field=callback_field, settings=self.settings)
            )
        loaded = {
            field: await load_image(ref, field=field, settings=self.settings, client=self.http)
            for field, ref in entry.image_refs(valid).items()
        }
        stored: dict[str, StoredImage] = {}
        for field, image in loaded.items():  # kept only once every input is valid
            key = await anyio.to_thread.run_sync(
                self.artifacts.put_input, image.data, image.sha256, image.ext
            )
            stored[field] = StoredImage(key, image.width, image.height)
        seed = entry.requested_seed(valid) or random_seed()
        spec = entry.build_spec(valid, stored, seed)
        ignored = valid.pop("_ignored", None)
        new = NewJob(
            id=str(uuid.uuid4()),
            owner=owner,
            model=entry.id,
            dialect=dialect,
            engine=entry.engine,
            amount=entry.price(valid),
            args=_public_args(valid),
            spec=spec.to_dict(),
            seed=seed,
            callback_url=callback_url,
            off_peak=bool(valid.get("off_peak", False)),
            metadata={"ignored_fields": ignored} if ignored else {},
        )
        return await anyio.to_thread.run_sync(self.store.create_job, new)

    def get(self, owner: str, job_id: Any, *, field: str = "id") -> Job:
        """A job of this owner; another owner's job is indistinguishable from a missing one."""
        if not isinstance(job_id, str) or not job_id:
            raise FieldInvalid("required", field=field)
        job = self._final.get(job_id) or self.store.get_job(job_id)
        if job is None or job.owner != owner:
            raise NotFound(f"no job {job_id!r}", field=field)
        if job.status.final and job_id not in self._final:
            if len(self._final) >= FINAL_CACHE_SIZE:
                self._final.pop(next(iter(self._final)))  # oldest first: dicts keep insertion order
            self._final[job_id] = job
        return job


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
