"""Upstream callbacks: with STILLMOTION_PUBLIC_URL set, each create gives the upstream a callback
URL of its own. A callback is only a hint: it makes the task due at once and the poller asks the
upstream itself, so a forged call could at most cause one early poll. Still, the URL carries a MAC
of the job and hop (unguessable), and a route with `webhook_secret_env` also checks the upstream's
Standard Webhooks signature (`webhook-id`, `webhook-timestamp`, `webhook-signature`)."""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Mapping

from stillmotion.callbacks import sign

TOLERANCE_S = 300


def mac(secret: bytes, job_id: str, hop: int) -> str:
    return hmac.new(secret, f"upstream-hook\n{job_id}\n{hop}".encode(), hashlib.sha256).hexdigest()[:32]


def hook_url(public_url: str, secret: bytes, job_id: str, hop: int) -> str:
    return f"{public_url.rstrip('/')}/upstream/hooks/{job_id}/{hop}/{mac(secret, job_id, hop)}"


def signature_ok(secret_env: str, headers: Mapping[str, str], body: bytes, now: float | None = None) -> bool:
    """The Standard Webhooks check with the secret in the named variable (False when unset)."""
    secret = os.environ.get(secret_env, "")
    msg_id, stamp, given = (headers.get(h, "") for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not secret or not msg_id or not stamp.isdigit():
        return False
    if abs((now if now is not None else time.time()) - int(stamp)) > TOLERANCE_S:
        return False
    try:
        expected = sign(secret, msg_id, int(stamp), body)
    except ValueError:  # a malformed secret
        return False
    return any(hmac.compare_digest(expected, candidate) for candidate in given.split())
