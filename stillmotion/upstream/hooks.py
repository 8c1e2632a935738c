"""Upstream callbacks: with STILLMOTION_PUBLIC_URL set, each create gives the upstream a callback
URL of its own. A callback is only a hint: it makes the task due at once and the poller asks the
upstream itself, so a forged call could at most cause one early poll. Still, the URL carries a MAC
of the job and hop (unguessable), and a route with `webhook_secret_env` also checks the upstream's
signature: Vidu's HMAC-SHA256 (`X-HMAC-SIGNATURE` over its signing string) for `vidu`, Standard
Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`) for the others."""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

from stillmotion.callbacks import sign
from stillmotion.jobs import Database

TOLERANCE_S = 300


def mac(secret: bytes, job_id: str, hop: int) -> str:
    return hmac.new(secret, f"upstream-hook\n{job_id}\n{hop}".encode(), hashlib.sha256).hexdigest()[:32]


def hook_url(public_url: str, secret: bytes, job_id: str, hop: int) -> str:
    return f"{public_url.rstrip('/')}/upstream/hooks/{job_id}/{hop}/{mac(secret, job_id, hop)}"


def signature_ok(secret_env: str, headers: Mapping[str, str], body: bytes, now: float | None = None) -> bool:
    """The Standard Webhooks check with the secret in the named variable (False when unset)."""
    secret = os.environ.get(secret_env, "")
    msg_id, stamp, given = (headers.get(h, "") for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not secret or not msg_id or not (stamp.isascii() and stamp.isdigit()):
        return False
    if abs((now if now is not None else time.time()) - int(stamp)) > TOLERANCE_S:
        return False
    try:
        expected = sign(secret, msg_id, int(stamp), body)
    except ValueError:  # a malformed secret
        return False
    return any(candidate.isascii() and hmac.compare_digest(expected, candidate) for candidate in given.split())


def vidu_signature_ok(secret_env: str, path_and_query: str, headers: Mapping[str, str],
                      now: float | None = None) -> bool:
    """Vidu's callback check: HMAC-SHA256 of its signing string (method, path, query, access key,
    Date, the signed headers) under the secret in the named variable; Date within 5 minutes."""
    from stillmotion.dialects.vidu import signature, string_to_sign

    secret = os.environ.get(secret_env, "")
    headers = {k.lower(): v for k, v in headers.items()}
    date, given = headers.get("date", ""), headers.get("x-hmac-signature", "")
    names = [n for n in headers.get("x-hmac-signed-headers", "").split(";") if n]
    if not secret or not date or not given:
        return False
    try:
        stamp = parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - stamp) > TOLERANCE_S:
        return False
    text = string_to_sign("POST", path_and_query, date, [(n, headers.get(n.lower(), "")) for n in names])
    expected = signature(secret, text)
    return given.isascii() and hmac.compare_digest(expected, given)  # compare_digest refuses non-ASCII str


def accept(db: Database, job_id: str, hop: int, path_and_query: str, headers: Mapping[str, str],
           body: bytes) -> bool:
    """An upstream's callback for this job and hop (its URL's MAC already checked): False when the
    route asks for a signature and this one is wrong; otherwise the task is made due now (a job
    already handed on or gone needs nothing)."""
    from stillmotion.upstream.hops import chain

    job = db.jobs.get(job_id)
    if job is None or job.engine != "upstream":
        return True
    hops = chain(job)
    config = hops[hop].config if hop < len(hops) else {}
    secret_env = config.get("webhook_secret_env")
    if secret_env:
        if config.get("provider") == "vidu":
            ok = vidu_signature_ok(secret_env, path_and_query, headers)
        else:
            ok = signature_ok(secret_env, headers, body)
        if not ok:
            return False
    db.upstream.poke(job_id, hop)
    return True
