"""Which engine (and which weights) serve a catalog model and mode: the operator's routes file.

Without a routes file everything goes to the `motion` engine. A file (TOML or JSON, path in
STILLMOTION_ROUTES_FILE) lists routes; the first route matching a model and mode wins:

    [[routes]]
    model = "vidu/vidu-q3/image-to-video"   # catalog model id
    modes = ["pro"]                          # optional; default every mode
    engine = "diffusers"                     # default "diffusers"; "motion" pins the CPU engine
    weights = "wan22-a14b"                   # a name from `stillmotion models add`, or:
    path = "/models/Wan2.2-I2V-A14B-Diffusers"
    kind = "wan2.2-i2v-a14b"                 # see stillmotion/engines/diffusers/kinds.py
    steps = 40                               # optional; default from the kind and mode
    guidance = 3.5                           # optional
    resolutions = ["540p", "720p"]           # optional; others are refused at submit
    max_area = 399360                        # optional: model pixels (832x480 for a 480p checkpoint);
                                             # frames are made at most this big, then scaled to the output
    negative_prompt = "..."                  # optional; default the model family's
    # speed options (docs/gpu.md): attention = "auto" | "_flash_3" | "_native_cudnn" | "sage" | ...;
    # cache = "none" | "fbc[:threshold]" | "taylorseer[:interval]" | "magcache" (+ mag_ratios = [...]);
    # compile = true (regional) with warm_shapes = [[832, 480, 81], ...]; fp8 = true; vae_tiling = "auto"

An upstream route sends the job to another generator (docs/upstream.md):

    [[routes]]
    model = "vidu/vidu-q3/image-to-video"
    engine = "upstream"
    provider = "shortapi"                    # shortapi | novita | highway | openai-videos | vidu
    name = "shortapi-eu"                     # optional label in metrics and job metadata
    base_url = "https://api.shortapi.ai"     # optional where the provider has a default
    api_key_env = "SHORTAPI_KEY"             # the variable holding the key (or api_key_file = "/run/key")
    upstream_model = "vidu/vidu-q3/image-to-video"  # optional; default the catalog model's id
    max_in_flight = 50                       # optional limits
    requests_per_minute = 120
    timeout_s = 900
    webhook_secret_env = "SHORTAPI_WEBHOOK_SECRET"  # optional: checks its callbacks' signatures
    fallbacks = [{ engine = "upstream", provider = "novita", api_key_env = "NOVITA_KEY" },
                 { engine = "motion" }]

A route is checked against each request at submit, so what its model cannot serve (a last
frame for a model without one, a size or length beyond it) is a 400 naming the field.
The file is re-read when it changes, so an operator can edit routes without a restart.
"""

from __future__ import annotations

import json
import threading
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from stillmotion.engines.diffusers.kinds import KINDS, get_kind, max_duration
from stillmotion.errors import FieldInvalid

ENGINES = ("motion", "diffusers", "upstream")


@dataclass(frozen=True)
class Route:
    engine: str = "motion"
    model: str = "*"
    modes: tuple[str, ...] = ()
    weights: str | None = None  # registered name, for messages
    path: str | None = None
    kind: str | None = None
    steps: int | None = None
    guidance: float | None = None
    resolutions: tuple[str, ...] = ()
    max_area: int | None = None
    negative_prompt: str | None = None
    attention: str | None = None
    cache: str | None = None
    mag_ratios: tuple[float, ...] | None = None
    compile: bool | None = None
    fp8: bool | None = None
    vae_tiling: str | None = None
    warm_shapes: tuple[tuple[int, int, int], ...] = ()
    # engine = "upstream" (docs/upstream.md); never the key itself, only where to read it
    provider: str | None = None
    name: str | None = None  # the provider's label in metrics and metadata; default `provider`
    base_url: str | None = None
    api_key_env: str | None = None
    api_key_file: str | None = None
    upstream_model: str | None = None
    fallbacks: tuple[dict[str, Any], ...] = ()  # each a fallback route's config(), tried in order
    max_in_flight: int | None = None
    requests_per_minute: int | None = None
    timeout_s: float | None = None
    webhook_secret_env: str | None = None  # verifies the upstream's callbacks (Standard Webhooks)

    def matches(self, model: str, mode: str) -> bool:
        return self.model in (model, "*") and (not self.modes or mode in self.modes)

    @property
    def label(self) -> str:
        return self.weights or self.kind or self.engine

    def check(self, *, mode: str, resolution: str | None, duration: float | None, has_tail: bool) -> None:
        """Refuse at submit what this route's model cannot make, naming the field."""
        if resolution is not None and self.resolutions and resolution not in self.resolutions:
            raise FieldInvalid(f"{resolution} is not served in {mode} mode on this server "
                               f"(model {self.label} serves {', '.join(self.resolutions)})", field="resolution")
        if self.kind is None:
            return
        kind = get_kind(self.kind)
        if has_tail and not kind.start_end:
            raise FieldInvalid(f"this server's model for {mode} mode ({self.label}) cannot take an end frame",
                               field="image_tail")
        if duration is not None and duration > max_duration(kind) + 1e-9:
            raise FieldInvalid(f"at most {max_duration(kind):g} s in {mode} mode on this server "
                               f"(model {self.label})", field="duration")

    def config(self) -> dict[str, Any] | None:
        """What the worker's engine needs, stored with the job apart from its public
        metadata (`Job.route`, read back by the worker as `RenderContext.route`)."""
        if self.engine == "motion":
            return None
        data = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items() if v not in (None, ())}
        if self.fallbacks:
            data["fallbacks"] = [dict(f) for f in self.fallbacks]
        for name in ("model", "modes", "resolutions"):
            data.pop(name, None)
        return data


DEFAULT = Route()


def _field(entry: Mapping[str, Any], name: str, types: type | tuple[type, ...], where: str) -> Any:
    value = entry.get(name)
    if value is not None and not isinstance(value, types):
        raise ValueError(f"{where}: {name} must be {types}")
    return value


def parse_route(entry: Mapping[str, Any], where: str, registry: Mapping[str, Mapping[str, str]]) -> Route:
    """One route from the file, with its weights resolved and its kind checked."""
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: must be a table")
    model = _field(entry, "model", str, where)
    if not model:
        raise ValueError(f"{where}: model is required (a catalog model id, or '*')")
    engine = _field(entry, "engine", str, where) or "diffusers"
    if engine not in ENGINES:
        raise ValueError(f"{where}: engine must be one of {', '.join(ENGINES)}")
    modes = tuple(_field(entry, "modes", list, where) or ([entry["mode"]] if "mode" in entry else []))
    resolutions = tuple(_field(entry, "resolutions", list, where) or ())
    weights, path, kind = entry.get("weights"), entry.get("path"), entry.get("kind")
    if weights is not None:
        if weights not in registry:
            raise ValueError(f"{where}: weights {weights!r} is not registered (stillmotion models add)")
        path = path or registry[weights]["path"]
        kind = kind or registry[weights].get("kind")
    if engine == "upstream":
        return _upstream_route(entry, where, model, modes, resolutions, registry)
    if engine == "diffusers":
        if not path:
            raise ValueError(f"{where}: a diffusers route needs weights (a registered name) or path")
        if kind not in KINDS:
            raise ValueError(f"{where}: kind must be one of {', '.join(KINDS)}")
    steps = _field(entry, "steps", int, where)
    if steps is not None and steps < 1:
        raise ValueError(f"{where}: steps must be >= 1")
    guidance = _field(entry, "guidance", (int, float), where)
    max_area = _field(entry, "max_area", int, where)
    if max_area is None and weights is not None:
        max_area = registry[weights].get("max_area")  # type: ignore[assignment]  # e.g. a 480P checkpoint
    if max_area is not None and max_area < 256:
        raise ValueError(f"{where}: max_area must be >= 256 pixels")
    return Route(engine=engine, model=model, modes=modes, weights=weights, path=str(path) if path else None,
                 kind=kind, steps=steps, guidance=float(guidance) if guidance is not None else None,
                 resolutions=resolutions, max_area=max_area, **_speed_fields(entry, where))


def _upstream_route(entry: Mapping[str, Any], where: str, model: str, modes: tuple[str, ...],
                    resolutions: tuple[str, ...], registry: Mapping[str, Mapping[str, str]]) -> Route:
    """An `engine = "upstream"` route: its provider, where its key is read, limits, fallbacks."""
    from stillmotion.upstream.names import PROVIDERS

    provider = _field(entry, "provider", str, where)
    if provider not in PROVIDERS:
        raise ValueError(f"{where}: an upstream route needs provider, one of {', '.join(PROVIDERS)}")
    base_url = _field(entry, "base_url", str, where) or PROVIDERS[provider][1]
    if not base_url or not base_url.startswith(("http://", "https://")):
        raise ValueError(f"{where}: base_url must be an http(s) URL (provider {provider} has no default)")
    if "api_key" in entry:
        raise ValueError(f"{where}: never put the key in the routes file; name its variable in api_key_env "
                         "or its file in api_key_file")
    key_env, key_file = _field(entry, "api_key_env", str, where), _field(entry, "api_key_file", str, where)
    if key_env and key_file:
        raise ValueError(f"{where}: give api_key_env or api_key_file, not both")
    limits: dict[str, Any] = {}
    for name in ("max_in_flight", "requests_per_minute"):
        value = _field(entry, name, int, where)
        if value is not None and value < 1:
            raise ValueError(f"{where}: {name} must be >= 1")
        limits[name] = value
    timeout = _field(entry, "timeout_s", (int, float), where)
    if timeout is not None and timeout <= 0:
        raise ValueError(f"{where}: timeout_s must be > 0")
    raw = _field(entry, "fallbacks", list, where) or []
    fallbacks = []
    for i, item in enumerate(raw):
        here = f"{where}: fallbacks[{i}]"
        if isinstance(item, Mapping) and "fallbacks" in item:
            raise ValueError(f"{here}: a fallback has no fallbacks of its own (list them all on the route)")
        fallback = parse_route({"model": model, "engine": "motion", **item} if isinstance(item, Mapping) else item,
                               here, registry)
        fallbacks.append(fallback.config() or {"engine": "motion"})
    return Route(engine="upstream", model=model, modes=modes, resolutions=resolutions, provider=provider,
                 name=_field(entry, "name", str, where), base_url=base_url.rstrip("/"), api_key_env=key_env,
                 api_key_file=key_file, webhook_secret_env=_field(entry, "webhook_secret_env", str, where),
                 upstream_model=_field(entry, "upstream_model", str, where), fallbacks=tuple(fallbacks),
                 timeout_s=float(timeout) if timeout is not None else None, **limits)


CACHES = ("none", "fbc", "taylorseer", "magcache")
VAE_TILING = ("auto", "true", "false")


def _speed_fields(entry: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The diffusers engine's per-route options: negative prompt and speed (docs/gpu.md)."""
    out: dict[str, Any] = {
        "negative_prompt": _field(entry, "negative_prompt", str, where),
        "attention": _field(entry, "attention", str, where),
        "compile": _field(entry, "compile", bool, where),
        "fp8": _field(entry, "fp8", bool, where),
    }
    cache = _field(entry, "cache", str, where)
    if cache is not None:
        name, _, arg = cache.partition(":")
        if name not in CACHES:
            raise ValueError(f"{where}: cache must be one of {', '.join(CACHES)} (optionally name:value)")
        try:
            float(arg or 0)
        except ValueError:
            raise ValueError(f"{where}: cache {cache!r}: the value after ':' must be a number") from None
        out["cache"] = cache
    ratios = _field(entry, "mag_ratios", list, where)
    if cache and cache.startswith("magcache") and not ratios:
        raise ValueError(f"{where}: cache = \"magcache\" needs mag_ratios (calibrated for the checkpoint)")
    out["mag_ratios"] = tuple(float(r) for r in ratios) if ratios else None
    tiling = entry.get("vae_tiling")
    if tiling is not None:
        tiling = str(tiling).lower()
        if tiling not in VAE_TILING:
            raise ValueError(f"{where}: vae_tiling must be true, false or \"auto\"")
    out["vae_tiling"] = tiling
    shapes = _field(entry, "warm_shapes", list, where) or []
    if any(not isinstance(s, list) or len(s) != 3 or not all(isinstance(v, int) and v > 0 for v in s)
           for s in shapes):
        raise ValueError(f"{where}: warm_shapes must be [[width, height, frames], ...]")
    out["warm_shapes"] = tuple(tuple(s) for s in shapes)
    return out


def read_table(path: Path) -> dict[str, Any]:
    """A TOML or JSON file as a dict (by extension; TOML unless it ends in .json)."""
    text = path.read_text()
    return json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)


def load_routes(path: Path, registry: Mapping[str, Mapping[str, str]] | None = None) -> list[Route]:
    data = read_table(path)
    entries = data.get("routes", [])
    if not isinstance(entries, list):
        raise ValueError(f"{path}: routes must be a list of tables")
    return [parse_route(e, f"{path}: routes[{i}]", registry or {}) for i, e in enumerate(entries)]


class Router:
    """Routes from a file, re-read when its modification time changes. One per runtime,
    built from the settings at start (`Router.from_settings`), which also reads the file once
    so a bad one stops the start."""

    @classmethod
    def from_settings(cls, settings: Any) -> Router:
        if settings.routes_file is not None and not Path(settings.routes_file).is_file():
            raise ValueError(f"routes file {settings.routes_file} does not exist")
        router = cls(settings.routes_file, settings.models_path if settings.routes_file else None)
        router.routes()
        return router

    def for_request(self, entry: Any, valid: Mapping[str, Any], refs: Mapping[str, str] | None = None) -> Route:
        return route_request(self, entry, valid, refs)

    def __init__(self, path: Path | None, models_file: Path | None = None) -> None:
        self.path = path
        self.models_file = models_file
        self._lock = threading.Lock()
        self._stamp: tuple[float, float] | None = None
        self._routes: list[Route] = []

    def routes(self) -> list[Route]:
        if self.path is None:
            return []
        with self._lock:
            stamp = (_mtime(self.path), _mtime(self.models_file))
            if stamp != self._stamp:
                from stillmotion.engines.diffusers.models import read_registry

                registry = read_registry(self.models_file) if self.models_file else {}
                self._routes = load_routes(self.path, registry)
                self._stamp = stamp
            return self._routes

    def route(self, model: str, mode: str) -> Route:
        return next((r for r in self.routes() if r.matches(model, mode)), DEFAULT)


def _mtime(path: Path | None) -> float:
    try:
        return path.stat().st_mtime if path else 0.0
    except FileNotFoundError:
        return -1.0


def route_request(
    router: Router, entry: Any, valid: Mapping[str, Any], refs: Mapping[str, str] | None = None
) -> Route:
    """The route for a validated request, checked against it (FieldInvalid when it cannot serve it).
    `refs`: the request's image references when the caller has them (`entry.image_refs(valid)`)."""
    mode = entry.mode_of(valid)
    route = router.route(entry.id, mode)
    if refs is None:
        refs = entry.image_refs(valid)
    route.check(mode=mode, resolution=valid.get("resolution"), duration=valid.get("duration"),
                has_tail="image_tail" in refs)
    return route
