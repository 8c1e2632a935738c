"""API keys: `Authorization: Bearer <key>`, checked against the environment's and stored keys.

Only SHA-256 hashes of keys are stored. A job's owner is the id of the key that made it, so a
job is visible to that key alone. Each key also has a webhook signing secret (Standard
Webhooks, `whsec_<base64>`): stored keys get a random one, shown once by `keys create`; keys
from STILLMOTION_API_KEYS use STILLMOTION_WEBHOOK_SECRET when set, else a secret derived from
the key itself (`whsec_` + base64(HMAC-SHA256(key, "stillmotion webhook secret"))), which the
key's holder can also read at GET /v1/webhook-secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import threading
import time
from decimal import Decimal

from stillmotion.errors import RateLimited, Unauthorized
from stillmotion.settings import Settings
from stillmotion import observability
from stillmotion.jobs import AccountRepository, KeyRecord

_DERIVE_LABEL = b"stillmotion webhook secret"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return "sm_" + secrets.token_urlsafe(32)


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def derived_webhook_secret(material: bytes) -> str:
    return "whsec_" + base64.b64encode(hmac.new(material, _DERIVE_LABEL, hashlib.sha256).digest()).decode()


class RateLimiter:
    """A token bucket per owner: `per_min` requests a minute, bursts up to `per_min`.

    In-process: with several API processes each allows the full rate (documented)."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # owner -> (tokens, last refill)
        self._lock = threading.Lock()

    def take(self, owner: str, per_min: int) -> None:
        if per_min <= 0:
            return
        now = time.monotonic()
        rate = per_min / 60.0
        with self._lock:
            tokens, last = self._buckets.get(owner, (float(per_min), now))
            tokens = min(float(per_min), tokens + (now - last) * rate)
            if tokens < 1.0:
                self._buckets[owner] = (tokens, now)
                wait = math.ceil((1.0 - tokens) / rate)
                raise RateLimited(
                    f"more than {per_min} requests per minute for this key; retry in {wait} s",
                    retry_after=max(1, wait),
                )
            self._buckets[owner] = (tokens - 1.0, now)


class Authenticator:
    """Resolves a bearer key to its owner id: one indexed read per request, no cache, so a key
    revoked (or its limits changed) by any process on any host is refused at once everywhere."""

    def __init__(self, accounts: AccountRepository, settings: Settings, server_secret: bytes = b"") -> None:
        self.accounts = accounts
        self.settings = settings
        self.server_secret = server_secret
        self.env_owners = {hash_key(k): "env-" + hash_key(k)[:16] for k in settings.env_keys}
        self._env_secrets = {
            "env-" + hash_key(k)[:16]: settings.webhook_secret or derived_webhook_secret(k.encode())
            for k in settings.env_keys
        }
        self._by_owner: dict[str, KeyRecord] = {}
        self._lock = threading.Lock()
        self.limiter = RateLimiter()

    def ensure_initial_key(self) -> str | None:
        """Create and return a key when none exist at all, so a fresh install is usable."""
        if self.env_owners or self.accounts.count_keys():
            return None
        key, _secret = self.create_key("initial")
        return key

    def create_key(
        self,
        name: str,
        *,
        balance: Decimal | None = None,
        rate_per_min: int | None = None,
        max_running: int | None = None,
        webhook_url: str | None = None,
    ) -> tuple[str, str]:
        """A new key and its webhook secret (both shown once; only the key's hash is kept)."""
        key, secret = new_key(), new_webhook_secret()
        self.accounts.add_key(
            name, hash_key(key), balance=balance, webhook_secret=secret,
            rate_per_min=rate_per_min, max_running=max_running, webhook_url=webhook_url,
        )
        return key, secret

    def owner(self, authorization: str | None) -> str:
        """The owner id for an Authorization header value; Unauthorized when missing or wrong."""
        if not authorization:
            raise Unauthorized("Authorization: missing; send 'Authorization: Bearer <key>'")
        scheme, _, key = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Unauthorized("Authorization: expected 'Bearer <key>'")
        digest = hash_key(key.strip())
        if digest in self.env_owners:
            observability.note(key="env")
            return self.env_owners[digest]
        record = self.accounts.find_key(digest)  # revoked keys are not found
        if record is None:
            raise Unauthorized("Authorization: invalid API key")
        with self._lock:
            self._by_owner[record.id] = record  # the limits check_rate reads, as of this request
        observability.note(key=record.name)
        return record.id

    def check_rate(self, owner: str) -> None:
        """RateLimited (429 with Retry-After) when the key is over its requests per minute."""
        record = self._by_owner.get(owner)
        per_min = record.rate_per_min if record and record.rate_per_min is not None else None
        self.limiter.take(owner, self.settings.rate_limit_per_min if per_min is None else per_min)

    def webhook_url(self, owner: str) -> str | None:
        """The key's own webhook endpoint (`keys create|set --webhook-url`); None for env keys
        and keys without one. Read from the database, so a change applies at once."""
        if owner in self._env_secrets:
            return None
        record = self.accounts.get_key(owner)
        return record.webhook_url if record is not None else None

    def webhook_secret(self, owner: str) -> str:
        """The secret that signs this owner's webhooks."""
        if owner in self._env_secrets:
            return self._env_secrets[owner]
        record = self.accounts.get_key(owner)
        if record is not None and record.webhook_secret:
            return record.webhook_secret
        # Keys stored before secrets existed: stable, derived from the service's own secret.
        return derived_webhook_secret(self.server_secret + owner.encode())
