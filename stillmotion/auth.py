"""API keys: `Authorization: Bearer <key>`, checked against the environment's and stored keys.

Only SHA-256 hashes are stored. A job's owner is the id of the key that made it, so a job is
visible to that key alone.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time

from stillmotion.errors import Unauthorized
from stillmotion.settings import Settings
from stillmotion.store import Store


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return "sm_" + secrets.token_urlsafe(32)


class Authenticator:
    """Resolves a bearer key to its owner id, with a short cache so hot paths skip the DB."""

    cache_ttl_s = 5.0

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.env_owners = {hash_key(k): "env-" + hash_key(k)[:16] for k in settings.env_keys}
        self._cache: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def ensure_initial_key(self) -> str | None:
        """Create and return a key when none exist at all, so a fresh install is usable."""
        if self.env_owners or self.store.count_keys():
            return None
        key = new_key()
        self.store.add_key("initial", hash_key(key))
        return key

    def create_key(self, name: str) -> str:
        key = new_key()
        self.store.add_key(name, hash_key(key))
        return key

    def owner(self, authorization: str | None) -> str:
        """The owner id for an Authorization header value; Unauthorized when missing or wrong."""
        if not authorization:
            raise Unauthorized("Authorization: missing; send 'Authorization: Bearer <key>'")
        scheme, _, key = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Unauthorized("Authorization: expected 'Bearer <key>'")
        digest = hash_key(key.strip())
        if digest in self.env_owners:
            return self.env_owners[digest]
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit and hit[1] > now:
            return hit[0]
        record = self.store.find_key(digest)
        if record is None:
            raise Unauthorized("Authorization: invalid API key")
        with self._lock:
            self._cache[digest] = (record.id, now + self.cache_ttl_s)
        return record.id
