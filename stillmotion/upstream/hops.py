"""A job's route as a chain of hops (the route, then its fallbacks), and what each create sends."""

from __future__ import annotations

import base64
import mimetypes
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stillmotion.errors import FieldInvalid
from stillmotion.jobs import Job
from stillmotion.storage import ArtifactStore

from .providers import Provider, get_provider


@dataclass(frozen=True)
class Hop:
    """One link of the chain: an upstream (provider set) or a local engine."""

    engine: str
    config: dict[str, Any]

    @property
    def local(self) -> bool:
        return self.engine != "upstream"

    @property
    def label(self) -> str:
        """The provider's name in metrics, limits and metadata (never its URL or key)."""
        if self.local:
            return self.engine
        return str(self.config.get("name") or self.config.get("provider"))

    @property
    def provider(self) -> Provider:
        return get_provider(str(self.config["provider"]))

    @property
    def base_url(self) -> str:
        return str(self.config["base_url"])

    def key(self) -> str | None:
        """The API key, read when a request is made (an operator may rotate it): from the named
        environment variable or file. Never stored, logged or shown."""
        if name := self.config.get("api_key_env"):
            value = os.environ.get(name)
            if not value:
                raise KeyMissing(f"the upstream key variable {name} is not set")
            return value.strip()
        if path := self.config.get("api_key_file"):
            try:
                return Path(path).read_text().strip()
            except OSError as exc:
                raise KeyMissing(f"the upstream key file cannot be read ({type(exc).__name__})") from None
        return None

    def local_route(self) -> dict[str, Any] | None:
        """The job's route once handed to a local engine (None: motion's default)."""
        return None if self.engine == "motion" else dict(self.config)


class KeyMissing(Exception):
    """The operator's key for a provider is not where the route says."""


def chain(job: Job) -> list[Hop]:
    route = dict(job.route or {})
    fallbacks = route.pop("fallbacks", [])
    return [Hop(route.get("engine", "upstream"), route),
            *(Hop(f.get("engine", "motion"), dict(f)) for f in fallbacks)]


def token(job_id: str, hop: int, round_: int = 0) -> str:
    """The create's idempotency key: the same job and hop always send the same one, so a
    re-create after a crash finds the task made before it; a lost task gets a new round."""
    return f"sm-{job_id}-{hop}" + (f"-r{round_}" if round_ else "")


def image_fields(job: Job, catalog: Any) -> dict[str, str]:
    """Arg field path -> stored input key, head image first (the catalog knows the fields)."""
    refs = list(catalog.get(job.model).image_refs(job.args))
    stored: dict[str, str] = {}
    for field in refs:
        key = job.spec.get("image_tail") if field == "image_tail" else job.spec.get("image")
        if key:
            stored[field] = key
    return stored


def set_path(args: dict[str, Any], path: str, value: Any) -> None:
    """Set `images[0]` or `image` in args."""
    name, _, rest = path.partition("[")
    if rest:
        index = int(rest.rstrip("]"))
        items = list(args.get(name) or [])
        items[index] = value
        args[name] = items
    else:
        args[name] = value


def create_args(job: Job, catalog: Any, artifacts: ArtifactStore, provider: Provider,
                public_url: str | None) -> dict[str, Any]:
    """The job's args as the upstream gets them: images as signed stillmotion URLs when the
    service has a public URL, else as data URIs within the provider's inline limit (a larger one
    is refused naming its field, before anything is sent)."""
    args = {k: v for k, v in job.args.items() if k != "_ignored"}
    for field, key in image_fields(job, catalog).items():
        if public_url:
            set_path(args, field, artifacts.sign(key))
            continue
        size = artifacts.size(key) or 0
        if size > provider.max_inline_bytes:
            raise FieldInvalid(
                f"{size} bytes is over the {provider.max_inline_bytes} bytes {provider.name} takes inline; "
                "the operator can set STILLMOTION_PUBLIC_URL so the upstream fetches it by URL", field=field)
        mime = mimetypes.guess_type(key)[0] or "image/png"
        data = b"".join(artifacts.read(key))
        set_path(args, field, f"data:{mime};base64," + base64.b64encode(data).decode())
    return args
