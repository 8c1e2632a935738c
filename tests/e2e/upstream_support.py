"""Helpers for the upstream tests: a front stillmotion whose routes point at upstreams, and a
small loopback upstream that misbehaves on cue (a real stillmotion never would)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from tests.helpers import auth, data_uri, png_bytes, textured_image

UPSTREAM_KEY = "upkey-7f3c9a1e5b2d4c6e8a0b"  # must never show in the front's logs or bodies
JOB_MODEL = "vidu/vidu-q3/image-to-video"
ASYNC_MODEL = "vidu-q3-turbo-i2v"


def write_routes(path: Path, body: str) -> None:
    """Replace the routes file; the front re-reads it when its mtime changes."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(body)
    while path.stat().st_mtime_ns == before:  # coarse clocks: make the change visible
        time.sleep(0.01)
        path.write_text(body)


def upstream_route(model: str, provider: str, base: str, extra: str = "") -> str:
    return (f'[[routes]]\nmodel = "{model}"\nengine = "upstream"\nprovider = "{provider}"\n'
            f'base_url = "{base}"\napi_key_env = "UPSTREAM_KEY"\n{extra}\n')


def job_body(seed: int = 1, duration: str = "1") -> dict[str, Any]:
    return {"model": JOB_MODEL, "args": {"mode": "turbo", "prompt": "The camera zooms in.",
                                         "image": data_uri(png_bytes(textured_image(320, 240, seed=seed))),
                                         "duration": duration, "resolution": "540p"}}


def async_body(seed: int = 1) -> dict[str, Any]:
    return {"images": [data_uri(png_bytes(textured_image(320, 240, seed=seed)))], "prompt": "pan left",
            "duration": 1, "resolution": "540p", "audio": False}


def submit_job(base: str, seed: int = 1, **headers: str) -> str:
    r = requests.post(f"{base}/api/v1/job/create", json=job_body(seed), headers={**auth(), **headers}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["job_id"]


def v1_job(base: str, job_id: str) -> dict[str, Any]:
    r = requests.get(f"{base}/v1/jobs/{job_id}", headers=auth(), timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def upstream_jobs(base: str, key: str = UPSTREAM_KEY) -> list[dict[str, Any]]:
    r = requests.get(f"{base}/v1/jobs", params={"limit": 100}, headers=auth(key), timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["data"]


Reply = tuple[int, dict[str, str], Any]  # status, headers, JSON body (or bytes)


class FakeUpstream:
    """A loopback server speaking the job dialect with scripted answers.

    `creates` / `queries`: replies used in order (the last one repeats); each may be a callable
    taking the request count. `files`: path -> bytes served by GET. Every request is recorded."""

    def __init__(self) -> None:
        self.creates: list[Reply | Callable[[int], Reply]] = []
        self.queries: list[Reply | Callable[[int], Reply]] = []
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str, dict[str, str], Any, float]] = []  # ..., monotonic time
        self.hang_s = 0.0  # POSTs wait this long before answering ...
        self.hang_posts = 1 << 30  # ... the first this many of them
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: the poller's connection pool is used as in life

            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, reply: Reply) -> None:
                status, headers, body = reply
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _next(self, script: list[Any], n: int) -> Reply:
                item = script[min(n, len(script) - 1)]
                return item(n) if callable(item) else item

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                outer.requests.append(("GET", self.path, dict(self.headers), None, time.monotonic()))
                if path in outer.files:
                    self._reply((200, {"content-type": "video/mp4"}, outer.files[path]))
                elif path == "/api/v1/job/query":
                    n = sum(1 for r in outer.requests if r[1].startswith("/api/v1/job/query")) - 1
                    self._reply(self._next(outer.queries, n))
                else:
                    self._reply((404, {}, {"code": 404, "message": "not found"}))

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"null")
                outer.requests.append(("POST", self.path, dict(self.headers), body, time.monotonic()))
                n = sum(1 for r in outer.requests if r[0] == "POST") - 1
                if outer.hang_s and n < outer.hang_posts:
                    time.sleep(outer.hang_s)
                self._reply(self._next(outer.creates, n))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def posts(self) -> list[tuple[str, str, dict[str, str], Any, float]]:
        return [r for r in self.requests if r[0] == "POST"]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def created(job_id: str, amount: str = "0.05") -> Reply:
    return (200, {}, {"code": 0, "message": "success", "data": {"job_id": job_id, "amount": amount}, "job_id": job_id})


def queried(job_id: str, status: int, url: str | None = None, error: dict[str, str] | None = None,
            amount: str = "0.05") -> Reply:
    result = {"videos": [{"url": url}]} if url else None
    return (200, {}, {"code": 0, "message": "success", "data": {
        "job_id": job_id, "status": status, "progress": 50, "amount": amount, "refunded": False,
        "error": error, "result": result}})


def small_mp4(path: Path, frames: int = 24) -> bytes:
    """A real 1 s 320x240 H.264 clip, what a well-behaved upstream returns."""
    import numpy as np

    from stillmotion.media.video import VideoWriter, rgb_to_yuv_frame

    with VideoWriter(path, 320, 240, 24, mode="turbo") as writer:
        for i in range(frames):
            frame = np.full((240, 320, 3), (i * 10) % 255, np.uint8)
            writer.write_frame(rgb_to_yuv_frame(frame))
    return path.read_bytes()


def wait_for(check: Callable[[], Any], timeout: float = 30, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(every)
    raise TimeoutError("condition not met")


Q2_MODEL = "vidu/vidu-q2/image-to-video"
FRONT_DIALECTS = ("job", "async", "native", "openai", "vidu")


def submit_via(base: str, dialect: str, kind: str, seed: int) -> str:
    """Create one 1 s 540p job through one of the front's client dialects; its id. `kind`: "job"
    (a job-dialect catalog model) or "async" (an async-dialect one), for wires that take only one."""
    image = data_uri(png_bytes(textured_image(320, 240, seed=seed)))
    model = JOB_MODEL if kind == "job" else ASYNC_MODEL
    if dialect == "job":
        r = requests.post(f"{base}/api/v1/job/create", json=job_body(seed), headers=auth(), timeout=30)
        key = "job_id"
    elif dialect == "async":
        r = requests.post(f"{base}/v3/async/{ASYNC_MODEL}", json=async_body(seed), headers=auth(), timeout=30)
        key = "task_id"
    elif dialect == "native":
        args = job_body(seed)["args"] if kind == "job" else async_body(seed)
        r = requests.post(f"{base}/v1/jobs", json={"model": model, "input": args}, headers=auth(), timeout=30)
        key = "id"
    elif dialect == "openai":
        body = {"model": model, "prompt": "The camera zooms in.", "input_reference": {"image_url": image},
                "seconds": "1", **({"mode": "turbo"} if kind == "job" else {})}
        r = requests.post(f"{base}/v1/videos", json=body, headers=auth(), timeout=30)
        key = "id"
    else:  # Vidu: viduq2-turbo is a job-dialect model here, viduq3-turbo the async one
        body = {"model": "viduq2-turbo" if kind == "job" else "viduq3-turbo", "images": [image],
                "prompt": "The camera zooms in.", "duration": 1, "resolution": "540p"}
        r = requests.post(f"{base}/ent/v2/img2video", json=body, headers=auth(), timeout=30)
        key = "task_id"
    assert r.status_code in (200, 201), (dialect, r.text)
    return r.json()[key]
