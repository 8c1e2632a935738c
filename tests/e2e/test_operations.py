"""Operator-facing behaviour: first-start key, PostgreSQL backend, callback retries, `generate`."""

from __future__ import annotations

import subprocess
import sys
import time
from uuid import uuid4

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from stillmotion.media.video import probe
from stillmotion.store import Database
from tests.helpers import ROOT, Service, auth, data_uri, png_bytes, textured_image, wait_job

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def small_job(**extra) -> dict:
    return {"model": "vidu/vidu-q3/image-to-video",
            "args": {"mode": "turbo", "prompt": "tilt up", "image": data_uri(png_bytes(textured_image(320, 240))),
                     "duration": 1, "resolution": "540p"}, **extra}


def test_first_start_prints_one_key_once(tmp_path):
    data = tmp_path / "data"
    first = Service(data, "--workers", "0", STILLMOTION_API_KEYS="")
    first.stop()
    log = (tmp_path / f"serve-{first.port}.log").read_text()
    key = log.split("keep it): ")[1].split()[0]
    again = Service(data, "--workers", "0", STILLMOTION_API_KEYS="")
    try:
        r = requests.post(f"{again.base}/api/v1/job/create", json=small_job(), headers=auth(key), timeout=30)
        assert r.status_code == 200, r.text
        assert requests.post(f"{again.base}/api/v1/job/create", json=small_job(), timeout=30).status_code == 401
    finally:
        again.stop()
    assert "keep it" not in (tmp_path / f"serve-{again.port}.log").read_text()


def test_callback_retried_until_receiver_accepts(service, files):
    files.post_status.extend([500, 503])
    r = requests.post(f"{service.base}/api/v1/job/create", json=small_job(callback_url=files.url("/cb/retry")),
                      headers=auth(), timeout=30)
    job_id = r.json()["job_id"]
    assert wait_job(service.base, job_id)["status"] == 2
    deadline = time.monotonic() + 30
    while len([p for p in files.posts if p[0] == "/cb/retry"]) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    tries = [p for p in files.posts if p[0] == "/cb/retry"]
    assert len(tries) == 3 and all(body["data"]["job_id"] == job_id for _, body in tries)
    time.sleep(1.0)
    assert len([p for p in files.posts if p[0] == "/cb/retry"]) == 3  # delivered: no more tries


def test_job_on_postgresql(tmp_path):
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    schema = f"sm_e2e_{uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
    svc = Service(tmp_path / "data", "--workers", "1", STILLMOTION_DATABASE_URL=url)
    try:
        r = requests.post(f"{svc.base}/api/v1/job/create", json=small_job(), headers=auth(), timeout=30)
        assert r.status_code == 200, r.text
        assert wait_job(svc.base, r.json()["job_id"])["status"] == 2
        store = Database(url)
        try:
            assert store.jobs.get(r.json()["job_id"]).attempts == 1
        finally:
            store.close()
    finally:
        svc.stop()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_generate_command(tmp_path):
    image = tmp_path / "in.png"
    image.write_bytes(png_bytes(textured_image(640, 360)))
    out = tmp_path / "clip.mp4"
    proc = subprocess.run(
        [sys.executable, "-m", "stillmotion.cli", "generate", str(image), "--prompt", "pan left",
         "--duration", "2", "--resolution", "540p", "--mode", "turbo", "--seed", "5", "-o", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "frame" in proc.stderr  # the progress bar
    info = probe(out)
    assert (info.width, info.height, info.frames, info.fps) == (960, 540, 48, 24)
    bad = subprocess.run([sys.executable, "-m", "stillmotion.cli", "generate", str(image), "--prompt", "x",
                          "--duration", "99", "-o", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert bad.returncode == 2 and "duration" in bad.stderr
