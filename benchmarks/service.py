"""Benchmarks for the service core (figures for notes, never a timed test).

    python -m benchmarks.service [--seconds 5] [--concurrency 64] [--skip-render]

Prints: the wall time of a 5 s 720p pro job (engine alone, and end to end through the HTTP
API on a fresh server), then create and query throughput with p50/p99 latency at 64
concurrent keep-alive connections on every dialect (job, async, /v1), with the server's
workers rendering the jobs meanwhile, beside a bare endpoint of the same server in the same run,
each against its goal (issues 2 and 5) and as a ratio to bare. Phases, in order: bare
(`/livez`); `query *` of 20 ended jobs; `create *` (the worker renders the growing queue
meanwhile); `queued *`, queries of 20 jobs still queued behind those creates.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

KEY = "bench-key"


def test_image(width: int, height: int, noise: int = 20) -> bytes:
    """A gradient with texture; `noise` makes it photo-like (and as slow to decode as a photo)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width]
    img = np.stack([x * 255 // width, y * 255 // height, (x ^ y) & 255], -1).astype(np.uint8)
    if noise:
        img = (img.astype(np.int16) + rng.integers(-noise, noise, img.shape)).clip(0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def bench_engine(tmp: Path) -> float:
    from stillmotion.cli import main

    src = tmp / "in.png"
    src.write_bytes(test_image(1280, 720))
    t0 = time.perf_counter()
    code = main(["generate", str(src), "--prompt", "The camera zooms in slowly.", "--duration", "5",
                 "--resolution", "720p", "--mode", "pro", "--seed", "1", "-o", str(tmp / "engine.mp4")])
    if code:
        raise RuntimeError(f"stillmotion generate exited with {code}")
    return time.perf_counter() - t0


class Server:
    def __init__(self, tmp: Path, workers: int) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        # No rate limit: the benchmark measures the service, not its per-key limiter.
        env = dict(os.environ, STILLMOTION_API_KEYS=KEY, STILLMOTION_LOG_LEVEL="warning",
                   STILLMOTION_POLL_INTERVAL_S="0.05", STILLMOTION_RATE_LIMIT_PER_MIN="0")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "stillmotion.cli", "serve", "--port", str(self.port),
             "--data-dir", str(tmp / f"data-{self.port}"), "--workers", str(workers)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import httpx

        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/livez").status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def bench_http_job(tmp: Path) -> float:
    import httpx

    server = Server(tmp, workers=1)
    try:
        image = "data:image/png;base64," + base64.b64encode(test_image(1280, 720)).decode()
        body = {"model": "vidu/vidu-q3/image-to-video",
                "args": {"mode": "pro", "prompt": "The camera zooms in slowly.", "image": image, "duration": 5}}
        headers = {"Authorization": f"Bearer {KEY}"}
        base = f"http://127.0.0.1:{server.port}"
        with httpx.Client(timeout=30) as client:
            t0 = time.perf_counter()
            job_id = client.post(f"{base}/api/v1/job/create", json=body, headers=headers).json()["job_id"]
            while True:
                data = client.get(f"{base}/api/v1/job/query", params={"id": job_id}, headers=headers).json()["data"]
                if data["status"] >= 2:
                    break
                time.sleep(0.05)
            video = client.get(data["result"]["videos"][0]["url"]).content
            elapsed = time.perf_counter() - t0
        assert data["status"] == 2 and len(video) > 1000, data
        return elapsed
    finally:
        server.stop()


async def _one_conn(port: int, requests: list[bytes], deadline: float, lat: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = 0
    try:
        while time.perf_counter() < deadline:
            req = requests[i % len(requests)]
            i += 1
            t0 = time.perf_counter()
            writer.write(req)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            lat.append(time.perf_counter() - t0)
            if not 200 <= status < 300:
                errors.append(status)
    finally:
        writer.close()


def _load(port: int, requests: list[bytes], seconds: float, conns: int) -> dict[str, float]:
    lat: list[float] = []
    errors: list[int] = []

    async def main() -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(_one_conn(port, requests, deadline, lat, errors) for _ in range(conns)))

    t0 = time.perf_counter()
    asyncio.run(main())
    wall = time.perf_counter() - t0
    arr = np.array(lat) * 1000
    return {"rps": len(lat) / wall, "p50_ms": float(np.percentile(arr, 50)), "p99_ms": float(np.percentile(arr, 99)),
            "n": len(lat), "errors": len(errors)}


def http_request(method: str, path: str, body: bytes = b"") -> bytes:
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def _queue_depth(base: str) -> int:
    import httpx

    for line in httpx.get(f"{base}/metrics").text.splitlines():
        if line.startswith("stillmotion_queue_depth"):
            return int(float(line.split()[-1]))
    return -1


GOALS = {"create": 500.0, "query": 2000.0}  # req/s on 2 cores (issues 2 and 5)


def bench_throughput(tmp: Path, seconds: float, conns: int, workers: int,
                     phases: tuple[str, ...] = ()) -> dict[str, dict[str, float]]:
    """Each phase loads one endpoint for `seconds`; the server's workers render meanwhile."""
    import httpx

    server = Server(tmp, workers=workers)
    try:
        image = "data:image/png;base64," + base64.b64encode(test_image(256, 256, noise=0)).decode()
        job_body = json.dumps({"model": "vidu/vidu-q3/image-to-video",
                               "args": {"mode": "turbo", "prompt": "static", "image": image,
                                        "duration": 1, "resolution": "540p"}}).encode()
        async_args = {"images": [image], "prompt": "static", "duration": 1, "resolution": "540p", "audio": False}
        async_body = json.dumps(async_args).encode()
        v1_body = json.dumps({"model": "vidu-q3-turbo-i2v", "input": async_args}).encode()
        base = f"http://127.0.0.1:{server.port}"
        headers = {"Authorization": f"Bearer {KEY}", "content-type": "application/json"}
        ids = [httpx.post(f"{base}/api/v1/job/create", content=job_body, headers=headers).json()["job_id"]
               for _ in range(20)]
        # The query phases of ended jobs start once the worker has rendered these, so every
        # dialect is measured in the same state (the first phase used to share the CPU with
        # their renders). Queued jobs are queried after the creates, when the queue is deep.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and any(
            httpx.get(f"{base}/v1/jobs/{i}", headers=headers).json()["status"] in ("queued", "processing")
            for i in ids
        ):
            time.sleep(0.2)

        def queries(job_ids: list[str]) -> dict[str, list[bytes]]:
            return {
                "job": [http_request("GET", f"/api/v1/job/query?id={i}") for i in job_ids],
                "async": [http_request("GET", f"/v3/async/task-result?task_id={i}") for i in job_ids],
                "v1": [http_request("GET", f"/v1/jobs/{i}") for i in job_ids],
            }

        loads = {
            "bare": [http_request("GET", "/livez")],
            **{f"query {k}": v for k, v in queries(ids).items()},
            "create job": [http_request("POST", "/api/v1/job/create", job_body)],
            "create async": [http_request("POST", "/v3/async/vidu-q3-turbo-i2v", async_body)],
            "create v1": [http_request("POST", "/v1/jobs", v1_body)],
            **{f"queued {k}": [] for k in ("job", "async", "v1")},
        }
        chosen = ["bare", *[name for name in loads if name != "bare" and (not phases or name in phases)]]
        results: dict[str, dict[str, float]] = {}
        for name in chosen:
            if name.startswith("queued ") and not loads[name]:
                page = httpx.get(f"{base}/v1/jobs", params={"status": "queued", "limit": 20}, headers=headers).json()
                queued = [job["id"] for job in page["data"]]
                if not queued:
                    continue
                for k, v in queries(queued).items():
                    loads[f"queued {k}"] = v
                results["queue depth"] = {"depth": float(_queue_depth(base))}
            results[name] = _load(server.port, loads[name], seconds, conns)
        return results
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=5.0, help="duration of each load phase")
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--skip-render", action="store_true")
    p.add_argument("--phases", nargs="*", default=[],
                   help="load phases to run besides bare (default all): 'create v1', 'query job', ...")
    p.add_argument("--workers", type=int, nargs="+", default=[1],
                   help="in-process workers of the server under load (each value is one run)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        print(f"machine: {os.cpu_count()} cores")
        if not args.skip_render:
            engine_s = bench_engine(tmp)
            print(f"5 s 720p pro job, engine alone:      {engine_s:6.2f} s  ({5 / engine_s:.2f}x real time)")
            http_s = bench_http_job(tmp)
            print(f"5 s 720p pro job, through HTTP API:  {http_s:6.2f} s  ({5 / http_s:.2f}x real time, create -> MP4 downloaded)")
        for workers in args.workers:
            res = bench_throughput(tmp, args.seconds, args.concurrency, workers, tuple(args.phases))
            print(f"\n{args.concurrency} connections, {args.seconds:.0f} s each, server with {workers} in-process worker(s):")
            bare = res["bare"]["rps"]
            met = True
            for name, r in res.items():
                if name == "queue depth":
                    print(f"  (queued jobs when the queued-job queries began: {int(r['depth'])})")
                    continue
                goal = GOALS.get(name.split()[0])
                verdict = "  (informational: every query reads the database)" if name.startswith("queued") else ""
                if goal is not None:
                    ok = r["rps"] >= goal and r["errors"] == 0
                    met = met and ok
                    verdict = f"  goal {goal:.0f}/s, 0 failed: {'met' if ok else 'NOT met'}"
                print(f"  {name:12s} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:7.1f} ms  p99 {r['p99_ms']:7.1f} ms"
                      f"  ({r['n']} requests, {r['errors']} failed)  ratio to bare {r['rps'] / bare:.2f}{verdict}")
            print(f"  goals (create >= 500/s, query >= 2000/s, no failed request): {'all met' if met else 'NOT all met'}")

if __name__ == "__main__":
    main()
