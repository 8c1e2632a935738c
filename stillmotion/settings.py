"""Operator settings: built once (from flags and the environment) and passed down.

Nothing reads the environment at import time; `Settings()` does it when asked.
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STILLMOTION_", extra="ignore")

    data_dir: Path = Path("./data")
    database_url: str | None = None  # default: sqlite:///<data_dir>/stillmotion.db
    api_keys: str = ""  # comma-separated keys accepted besides stored ones
    allow_private_urls: bool = False
    public_url: str | None = None  # base of result links; default http://host:port

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1

    # Inputs
    max_image_bytes: int = 50 * 1024 * 1024
    max_image_pixels: int = 64_000_000  # refuse decompression bombs before decoding
    min_image_side: int = 128
    download_timeout_s: float = 20.0
    max_redirects: int = 3

    # Queue
    lease_s: float = 30.0
    heartbeat_s: float = 5.0
    max_attempts: int = 3
    poll_interval_s: float = 0.25
    reap_interval_s: float = 5.0
    shutdown_grace_s: float = 20.0

    # Results
    url_ttl_s: int = 3600
    secret: str | None = None  # signs result URLs; default: a file in the data dir

    # Callbacks
    callback_max_attempts: int = 6
    callback_backoff_s: float = 2.0
    callback_timeout_s: float = 10.0

    price_file: Path | None = None  # JSON/TOML price overrides (see catalog.load_price_overrides)

    engine: str = "motion"
    log_level: str = "info"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'stillmotion.db').resolve()}"

    @property
    def env_keys(self) -> list[str]:
        return [k.strip() for k in self.api_keys.split(",") if k.strip()]

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")
