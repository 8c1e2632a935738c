"""F4/F6: every parser is total. Hostile ids, cursors, dates, limits and signed-URL parameters
(NUL bytes, non-ASCII digits, overflowing dates, huge numbers) answer 4xx naming the field,
never 5xx, on SQLite and on PostgreSQL (real servers on loopback)."""

from __future__ import annotations

import base64
from uuid import uuid4

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.faults.support import figure
from tests.helpers import Service, auth
from tests.jobs.conftest import PG_URL

NUL, SUP2 = "\x00", "\u00b2"  # a NUL byte; a superscript two (str.isdigit() says yes, int() says no)


def b64(text_: str) -> str:
    return base64.urlsafe_b64encode(text_.encode()).decode().rstrip("=")


BAD_IDS = [NUL, f"a{NUL}b", SUP2, "é" * 10, "x" * 300, "../../etc/passwd", "%00", " ", "a\nb"]
BAD_DATES = ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", f"2024-01-01{NUL}", SUP2 * 4, "2024-13-45",
             "99999-01-01T00:00:00Z", "2024-01-01T00:00:00+99:00", "2024-01-01T25:00:00Z"]
BAD_LIMITS = [SUP2, "-1", "0", "1e3", "99999999999999999999999", NUL, "٣", " 5", "5.0", "0x10"]
BAD_CURSORS = [NUL, b64(f"2024-01-01T00:00:00+00:00|a{NUL}b"), b64("9999-12-31T23:59:59-14:00|x"),
               b64("0001-01-01T00:00:00+14:00|x"), "!!!", b64("no-bar"), b64(f"{SUP2}|x"), "A" * 5000,
               b64("2024-01-01T00:00:00|naive")]


def cases() -> list[tuple[str, str, dict, str | None]]:
    """(method, path, params, field the refusal must name; None: a status-only route)."""
    out: list[tuple[str, str, dict, str | None]] = []
    for bad in BAD_IDS:
        quoted = requests.utils.quote(bad, safe="")
        out += [("GET", f"/v1/jobs/{quoted}", {}, "job_id"), ("POST", f"/v1/jobs/{quoted}/cancel", {}, "job_id"),
                ("GET", f"/v1/jobs/{quoted}/deliveries", {}, "job_id"),
                ("GET", f"/v1/jobs/{quoted}/events", {}, "job_id"),
                ("GET", "/api/v1/job/query", {"id": bad}, None), ("GET", "/v3/async/task-result", {"task_id": bad}, None)]
    for bad in BAD_DATES:
        out += [("GET", "/v1/jobs", {"created_after": bad}, "created_after"),
                ("GET", "/v1/jobs", {"created_before": bad}, "created_before")]
    for bad in BAD_LIMITS:
        out += [("GET", "/v1/jobs", {"limit": bad}, "limit"), ("GET", "/v1/usage", {"limit": bad}, "limit")]
    for bad in BAD_CURSORS:
        out += [("GET", "/v1/jobs", {"cursor": bad}, "cursor")]
    for bad in [NUL, f"m{NUL}", SUP2, "x" * 1000]:
        out += [("GET", "/v1/jobs", {"model": bad}, "model"), ("GET", "/v1/jobs", {"status": bad}, "status")]
    for expires in [SUP2, "9" * 40, "-1", NUL, "", "1e9", "٣٣٣"]:
        for sig in ["0" * 32, NUL, SUP2]:
            out += [("GET", "/files/outputs/x/video.mp4", {"expires": expires, "sig": sig}, None)]
    out += [("GET", f"/files/outputs/{requests.utils.quote(NUL)}/video.mp4", {"expires": "1", "sig": "x"}, None),
            ("GET", "/files/..%2F..%2Fsecret", {"expires": "9999999999", "sig": "x"}, None)]
    return out


def probe(base: str) -> tuple[int, int, list[str]]:
    tried = refused = 0
    wrong: list[str] = []
    for method, path, params, field in cases():
        tried += 1
        r = requests.request(method, base + path, params=params, headers=auth(), timeout=10, stream=True)
        status = r.status_code
        body = r.json() if r.headers.get("content-type", "").startswith("application/json") else None
        r.close()
        model_filter = params.get("model") == SUP2  # a printable unknown model: matches nothing, 200
        if 400 <= status < 500 or (model_filter and status == 200):
            refused += 1
        else:
            wrong.append(f"{method} {path} {params!r} -> {status}")
            continue
        if field and status != 200:
            named = (body or {}).get("error", {}).get("field")
            unrouted = status == 404 and (body or {}).get("detail") == "Not Found"  # no route at all
            if named not in (field, "id", "path") and not unrouted:
                wrong.append(f"{method} {path} {params!r} -> {status} names {named!r}, not {field!r}")
    return tried, refused, wrong


def pg_url() -> tuple[str, str] | None:
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    schema = f"sm_faults_{uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001 - reported as the skip reason
        pytest.skip(f"PostgreSQL unreachable at {make_url(PG_URL)!r}: {exc}")
    finally:
        admin.dispose()
    return make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False), schema


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_hostile_parameters_are_refused_naming_the_field(tmp_path, backend):
    env, schema = {}, None
    if backend == "postgresql":
        url, schema = pg_url()
        env["STILLMOTION_DATABASE_URL"] = url
    svc = Service(tmp_path / "data", "--workers", "0", **env)
    try:
        tried, refused, wrong = probe(svc.base)
        figure(f"bad query inputs refused ({backend})", f"{refused} / {tried}")
        assert not wrong, "\n".join(wrong)
        log = open(svc.log.name).read()
        assert "unhandled error" not in log and "Traceback" not in log
    finally:
        svc.stop()
        if schema:
            admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
