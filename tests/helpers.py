"""Shared test helpers: synthetic images, loopback HTTP servers, a running stillmotion process."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import requests
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def textured_image(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A smooth gradient with random blobs: distinct everywhere, so flow and PSNR mean something."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.stack([x / width * 200 + 30, y / height * 200 + 30, (x + y) / (width + height) * 150 + 50], -1)
    for _ in range(40):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(5, min(width, height) / 6)
        color = rng.uniform(0, 255, 3)
        mask = ((x - cx) ** 2 + (y - cy) ** 2) < r * r
        img[mask] = img[mask] * 0.3 + color * 0.7
    return img.clip(0, 255).astype(np.uint8)


def png_bytes(arr: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt)
    return buf.getvalue()


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FileServer:
    """A loopback HTTP server: fixed routes for GET, and a record of every POST (callbacks)."""

    def __init__(self) -> None:
        self.routes: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {}
        self.posts: list[tuple[str, dict]] = []
        self.post_status: list[int] = []  # statuses to answer POSTs with, in order; then 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                route = outer.routes.get(self.path.split("?")[0])
                if route is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                route(self)

            def do_POST(self):
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"null")
                status = outer.post_status.pop(0) if outer.post_status else 200
                outer.posts.append((self.path, body))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def add_bytes(self, path: str, data: bytes, content_type: str = "image/png") -> str:
        def route(h: BaseHTTPRequestHandler) -> None:
            h.send_response(200)
            h.send_header("content-type", content_type)
            h.send_header("content-length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)

        self.routes[path] = route
        return self.url(path)

    def add_slow(self, path: str, seconds: float) -> str:
        def route(h: BaseHTTPRequestHandler) -> None:
            h.send_response(200)
            h.send_header("content-type", "image/png")
            h.send_header("content-length", "100000")
            h.end_headers()
            h.wfile.write(b"\x89PNG")
            h.wfile.flush()
            time.sleep(seconds)

        self.routes[path] = route
        return self.url(path)

    def wait_posts(self, n: int, timeout: float = 30) -> list[tuple[str, dict]]:
        deadline = time.monotonic() + timeout
        while len(self.posts) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.posts)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


KEY = "test-key-one"
OTHER_KEY = "test-key-two"


def service_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        STILLMOTION_DATA_DIR=str(data_dir),
        STILLMOTION_API_KEYS=f"{KEY},{OTHER_KEY}",
        STILLMOTION_ALLOW_PRIVATE_URLS="true",
        STILLMOTION_DOWNLOAD_TIMEOUT_S="2",
        STILLMOTION_CALLBACK_BACKOFF_S="0.2",
        STILLMOTION_LEASE_S="3",
        STILLMOTION_HEARTBEAT_S="0.5",
        STILLMOTION_REAP_INTERVAL_S="0.5",
        STILLMOTION_POLL_INTERVAL_S="0.1",
        STILLMOTION_LOG_LEVEL="warning",
    )
    env.update(extra)
    return env


class Service:
    """`stillmotion serve` (or `worker`) as a real child process on a loopback port."""

    def __init__(self, data_dir: Path, *args: str, command: str = "serve", **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "stillmotion.cli", command, "--data-dir", str(data_dir)]
        if command == "serve":
            cmd += ["--port", str(self.port)]
        self.log = open(data_dir.parent / f"{command}-{self.port}.log", "w")
        data_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            cmd + list(args), env=service_env(data_dir, **env), stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT
        )
        if command == "serve":
            self.wait_ready()

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"service exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if requests.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise RuntimeError("service did not become ready")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def auth(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def wait_job(base: str, job_id: str, key: str = KEY, timeout: float = 120) -> dict:
    """Poll the job dialect until the job ends; return its `data`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = requests.get(f"{base}/api/v1/job/query", params={"id": job_id}, headers=auth(key), timeout=10)
        r.raise_for_status()
        data = r.json()["data"]
        if data["status"] >= 2:
            return data
        time.sleep(0.2)
    raise TimeoutError(f"job {job_id} did not finish")


def wait_v1(base: str, job_id: str, timeout: float = 60, key: str = KEY, poll_s: float = 0.1) -> dict:
    """Poll `GET /v1/jobs/{id}` until the job ends; return the job object."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = requests.get(f"{base}/v1/jobs/{job_id}", headers=auth(key), timeout=10).json()
        if job["status"] in ("succeeded", "failed", "canceled"):
            return job
        time.sleep(poll_s)
    raise TimeoutError(job_id)


def race(n: int, target: Callable[[int], object]) -> list[BaseException]:
    """Run target(0..n-1) on n threads released together; the errors they raised."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            target(i)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors
