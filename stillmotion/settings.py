"""Operator settings: built once (from flags and the environment) and passed down.

Nothing reads the environment at import time; `Settings()` does it when asked.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from stillmotion.paths import default_data_dir


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STILLMOTION_", extra="ignore", env_ignore_empty=True)

    data_dir: Path = Field(default_factory=default_data_dir)  # the per-user XDG data dir (paths.py)
    database_url: str | None = None  # default: sqlite:///<data_dir>/stillmotion.db
    api_keys: str = ""  # comma-separated keys accepted besides stored ones
    allow_private_urls: bool = False
    public_url: str | None = None  # base of result links; default http://host:port

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # Threads that run the API's blocking calls (database reads, image checks); the database pool
    # is sized to them plus the workers, so no request waits for or opens a connection.
    api_threads: int = Field(default=16, ge=1, le=256)
    # Slow clients (docs/reliability.md): request headers must be whole this long after their first
    # byte, a request body within body_timeout_s; idle keep-alive connections close after keep_alive_s.
    header_timeout_s: float = 10.0
    body_timeout_s: float = 120.0
    keep_alive_s: int = 5
    max_streams_per_key: int = Field(default=20, ge=0)  # live event streams open at once per key; 0: none

    # Inputs
    max_image_bytes: int = 50 * 1024 * 1024
    max_audio_bytes: int = 20 * 1024 * 1024  # background music (q3 pro `audio`), fetched at render
    audio_target_lufs: float = -16.0  # integrated loudness of every soundtrack
    max_image_pixels: int = 64_000_000  # refuse decompression bombs before decoding
    # Full image decodes at once per process (submit checks and renders share it): each costs
    # up to ~7 bytes a pixel, so this times max_image_pixels bounds the decode memory.
    decode_concurrency: int = Field(default=2, ge=0, le=64)
    min_image_side: int = 128
    download_timeout_s: float = 20.0
    max_redirects: int = 3

    # Queue
    lease_s: float = 30.0
    heartbeat_s: float = 5.0
    max_attempts: int = 3
    retry_backoff_s: float = 2.0  # first retry of a crashed run waits this long; doubles per attempt
    poll_interval_s: float = 0.25
    reap_interval_s: float = 5.0
    shutdown_grace_s: float = 20.0
    # Health (docs/reliability.md): creates are refused (503) and /readyz fails below this free
    # space in the data dir; /readyz also fails when a runnable job waited this long while
    # every worker thread of the process sat idle.
    min_free_mb: int = Field(default=256, ge=0)
    stall_after_s: float = 60.0

    # Results
    url_ttl_s: int = 3600
    secret: str | None = None  # signs result URLs; default: a file in the data dir (several hosts: set one)
    storage_url: str | None = None  # file:///dir or s3://bucket/prefix (AWS_* variables); default: the data dir
    result_urls: str = "proxy"  # proxy: /files/... signed by stillmotion | presigned: the store's own URLs

    # Callbacks / webhooks: 11 tries, 3.5 s doubling, span about an hour (3.5 * (2^10 - 1) s)
    callback_max_attempts: int = 11
    callback_backoff_s: float = 3.5
    callback_timeout_s: float = 10.0  # total per attempt: connect + headers + body
    callback_concurrency: int = Field(default=16, ge=1, le=256)  # attempts in flight per process
    callback_per_host: int = Field(default=2, ge=1, le=64)  # ... of them to one receiver host
    webhook_secret: str | None = None  # signs webhooks of env keys; default: derived per key

    # Platform (docs/api-v1.md): limits, cancel, off-peak, retention, logs
    rate_limit_per_min: int = 6000  # requests per key per minute (per process); 0: none
    max_running_per_key: int = 5  # running jobs per key; more wait in the queue; 0: none
    cancel_poll_s: float = 0.25  # how often a running job checks for a user cancel
    off_peak_window: str | None = None  # "HH:MM-HH:MM" UTC; off-peak jobs run only then
    off_peak_max_age_s: float = 48 * 3600  # then canceled and refunded
    retention_s: float = 7 * 86400  # result files kept this long after a job ends
    housekeeping_interval_s: float = 60.0
    log_format: str = "auto"  # json | text | auto (text on a terminal, JSON otherwise)

    # OpenAI Videos dialect (docs/api-openai.md): model aliases, "alias=catalog id" comma-separated;
    # `sora-2` is also the model of a request that names none.
    openai_model_aliases: str = "sora-2=vidu-q3-turbo-i2v,sora-2-pro=vidu-q3-pro-i2v"

    price_file: Path | None = None  # JSON/TOML price overrides (see catalog.Catalog.load)
    # Vidu's official API (/ent/v2) reports integer `credits`: ceil(USD price x this); 1 credit = 0.005 USD.
    vidu_credits_per_usd: Decimal = Decimal("200")

    engine: str = "motion"
    # Local folder with a Depth Anything V2 checkpoint (save_pretrained layout) for the motion
    # engine; unset: depth from image cues, no weights.
    depth_model_dir: Path | None = None
    # Frames the motion engine renders at once (one OpenCV thread each); 0: the usable cores, at
    # most 4. Lower it when several workers share a host's cores.
    render_threads: int = Field(default=0, ge=0, le=64)
    engines: str = "motion"  # comma-separated engines this process's workers claim jobs for

    # GPU engine (diffusers); see docs/gpu.md
    routes_file: Path | None = None  # TOML/JSON: catalog model + mode -> engine + weights
    models_file: Path | None = None  # registered model dirs; default <data_dir>/models.json
    gpu_device: str = "auto"  # auto (cuda if present, else cpu) | cuda | cuda:N | cpu
    gpu_dtype: str = "auto"  # auto (bf16 on GPU, fp32 on CPU) | bf16 | fp16 | fp32
    gpu_compile: bool = False  # torch.compile the transformer(s): slow first job, faster steps
    gpu_offload: str = "none"  # none | model | sequential: CPU offload for small GPUs
    gpu_vae_tiling: str = "auto"  # auto (tiles above 720p) | true | false: decode in tiles, less memory
    gpu_attention: str = "auto"  # attention backend; auto: the fastest installed for the card (docs/gpu.md)
    gpu_fp8: bool = False  # FP8 weights through torchao (Hopper / Ada and later)
    gpu_watchdog_s: float = 900.0  # a model process silent this long while denoising is killed, its job released
    gpu_load_watchdog_s: float = 3600.0  # ... while loading, compiling or warming up
    log_level: str = "info"

    # Upstream engines (docs/upstream.md): routes with engine = "upstream"
    upstream_pollers: int = Field(default=8, ge=1, le=256)  # concurrent upstream calls per process
    upstream_poll_s: float = 2.0  # between polls of one upstream task at first ...
    upstream_max_poll_s: float = 30.0  # ... then a tenth of its age, at most this
    upstream_backoff_s: float = 1.0  # first retry after a 429/5xx/timeout; doubles, at most 60 s
    upstream_max_tries: int = 5  # retryable errors in a row before the next fallback
    upstream_timeout_s: float = 900.0  # per hop, create to result, unless the route says timeout_s
    upstream_request_timeout_s: float = 30.0  # one HTTP call to an upstream
    upstream_download_timeout_s: float = 120.0  # mirroring one result
    upstream_max_result_bytes: int = 512 * 1024 * 1024
    upstream_breaker_failures: int = 5  # failures in a row that open a provider's circuit
    upstream_breaker_cooldown_s: float = 60.0  # fallbacks skip an open provider this long
    upstream_test_kill_after_create: bool = False  # tests only: SIGKILL this process after a create

    @classmethod
    def defaults(cls) -> Settings:
        """The built-in defaults without reading the environment (tools and tests that run an
        engine outside a service)."""
        return cls.model_construct()

    @property
    def db_pool_size(self) -> int:
        """Database connections: the API threads, each worker with its heartbeat, and the
        callback sender, housekeeping and live-event reader."""
        return self.api_threads + 2 * max(1, self.workers) + 4

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'stillmotion.db').resolve()}"

    @property
    def engine_names(self) -> tuple[str, ...]:
        """Render engines the workers claim for; "upstream" jobs are the poller's, never a worker's."""
        names = tuple(n.strip() for n in self.engines.split(",") if n.strip() and n.strip() != "upstream")
        return names or ("motion",)

    @property
    def models_path(self) -> Path:
        return self.models_file or self.data_dir / "models.json"

    @property
    def env_keys(self) -> list[str]:
        return [k.strip() for k in self.api_keys.split(",") if k.strip()]

    @property
    def openai_aliases(self) -> dict[str, str]:
        pairs = (p.partition("=") for p in self.openai_model_aliases.split(",") if p.strip())
        return {a.strip(): m.strip() for a, _, m in pairs if a.strip() and m.strip()}

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")
