"""CPU per request of the API, in-process: the ASGI app driven directly (no sockets, no uvicorn).

    .venv/bin/python -m benchmarks.api_cpu [--n 1200] [--concurrency 16] [--root OTHER_CHECKOUT]

Prints, for `GET /livez`, each dialect's create (the bench's 256x256 PNG bodies) and each dialect's
query of a job queued behind the creates, the process CPU per request (event loop plus the writer
and image threads) and the event loop's share. SQLite, no worker. `--root` measures another
checkout's `stillmotion` (e.g. `git worktree` of an older commit) with this script, so before and
after can be compared in one window on a machine whose speed swings.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
import tempfile
import time
from pathlib import Path


async def call(app, method: str, path: str, body: bytes = b"", query: bytes = b"") -> tuple[int, bytes]:
    headers = [(b"host", b"x"), (b"authorization", b"Bearer bench-key"), (b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query,
             "headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "root_path": ""}
    sent = False
    status, chunks = 0, []

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def main(n: int, concurrency: int) -> None:
    from stillmotion.api.app import create_app
    from benchmarks.service import test_image
    from stillmotion.runtime import Runtime
    from stillmotion.settings import Settings

    runtime = Runtime(Settings(data_dir=Path(tempfile.mkdtemp())))
    app = create_app(runtime, workers=0)
    image = "data:image/png;base64," + base64.b64encode(test_image(256, 256, noise=0)).decode()
    job_body = json.dumps({"model": "vidu/vidu-q3/image-to-video", "args": {
        "mode": "turbo", "prompt": "static", "image": image, "duration": 1, "resolution": "540p"}}).encode()
    async_args = {"images": [image], "prompt": "static", "duration": 1, "resolution": "540p", "audio": False}
    cases = {
        "bare": ("GET", "/livez", b"", b""),
        "create job": ("POST", "/api/v1/job/create", job_body, b""),
        "create async": ("POST", "/v3/async/vidu-q3-turbo-i2v", json.dumps(async_args).encode(), b""),
        "create v1": ("POST", "/v1/jobs", json.dumps({"model": "vidu-q3-turbo-i2v", "input": async_args}).encode(),
                      b""),
    }
    for name, (method, path, body, query) in cases.items():  # warm up
        for _ in range(20):
            status, out = await call(app, method, path, body, query)
            assert status in (200, 201), (name, status, out[:300])
    job_id = json.loads((await call(app, "POST", "/api/v1/job/create", job_body))[1])["job_id"]
    cases["queued job"] = ("GET", "/api/v1/job/query", b"", f"id={job_id}".encode())
    cases["queued async"] = ("GET", "/v3/async/task-result", b"", f"task_id={job_id}".encode())
    cases["queued v1"] = ("GET", f"/v1/jobs/{job_id}", b"", b"")
    for name, (method, path, body, query) in cases.items():
        cpu, loop_cpu = time.process_time(), time.thread_time()
        for _ in range(n // concurrency):
            done = await asyncio.gather(*(call(app, method, path, body, query) for _ in range(concurrency)))
            assert all(status in (200, 201) for status, _ in done), (name, done[0])
        per = (time.process_time() - cpu) / n * 1e6
        print(f"{name:14s} {per:7.0f} us CPU per request (event loop {(time.thread_time() - loop_cpu) / n * 1e6:5.0f})",
              flush=True)
    runtime.store.close()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1200, help="requests per case")
    p.add_argument("--concurrency", type=int, default=16, help="requests in flight at once")
    p.add_argument("--root", help="a checkout whose stillmotion package to measure instead of this one")
    args = p.parse_args()
    if args.root:
        sys.path.insert(0, str(Path(args.root).resolve()))
    os.environ.update(STILLMOTION_API_KEYS="bench-key", STILLMOTION_LOG_LEVEL="warning",
                      STILLMOTION_RATE_LIMIT_PER_MIN="0")
    import stillmotion

    print(f"stillmotion from {Path(stillmotion.__file__).parent}")
    asyncio.run(main(args.n, args.concurrency))
