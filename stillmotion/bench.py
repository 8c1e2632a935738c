"""Benchmarks for the service core (figures for notes, never a timed test).

    python -m stillmotion.bench [--seconds 5] [--concurrency 64] [--skip-render]

Prints: the wall time of a 5 s 720p pro job (engine alone, and end to end through the HTTP
API on a fresh server), then create and query throughput with p50/p99 latency at 64
concurrent keep-alive connections, beside a bare endpoint of the same server in the same run.
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
    from stillmotion.generate import generate_local
    from stillmotion.settings import Settings

    src = tmp / "in.png"
    src.write_bytes(test_image(1280, 720))
    t0 = time.perf_counter()
    generate_local(Settings(data_dir=tmp), image=src, tail=None, prompt="The camera zooms in slowly.",
                   output=tmp / "engine.mp4", duration=5, resolution="720p", mode="pro", seed=1)
    return time.perf_counter() - t0


class Server:
    def __init__(self, tmp: Path, workers: int) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        env = dict(os.environ, STILLMOTION_API_KEYS=KEY, STILLMOTION_LOG_LEVEL="warning",
                   STILLMOTION_POLL_INTERVAL_S="0.05")
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
            if status != 200:
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


def bench_throughput(tmp: Path, seconds: float, conns: int, workers: int) -> dict[str, dict[str, float]]:
    import httpx

    server = Server(tmp, workers=workers)
    try:
        image = "data:image/png;base64," + base64.b64encode(test_image(256, 256, noise=0)).decode()
        create_body = json.dumps({"model": "vidu/vidu-q3/image-to-video",
                                  "args": {"mode": "turbo", "prompt": "static", "image": image,
                                           "duration": 1, "resolution": "540p"}}).encode()
        base = f"http://127.0.0.1:{server.port}"
        ids = [httpx.post(f"{base}/api/v1/job/create", content=create_body,
                          headers={"Authorization": f"Bearer {KEY}", "content-type": "application/json"}).json()["job_id"]
               for _ in range(20)]
        results = {
            "bare": _load(server.port, [http_request("GET", "/livez")], seconds, conns),
            "query": _load(server.port, [http_request("GET", f"/api/v1/job/query?id={i}") for i in ids], seconds, conns),
            "create": _load(server.port, [http_request("POST", "/api/v1/job/create", create_body)], seconds, conns),
        }
        return results
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=5.0, help="duration of each load phase")
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--skip-render", action="store_true")
    p.add_argument("--workers", type=int, nargs="+", default=[0, 1],
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
            res = bench_throughput(tmp, args.seconds, args.concurrency, workers)
            print(f"\n{args.concurrency} connections, {args.seconds:.0f} s each, server with {workers} in-process worker(s):")
            for name, r in res.items():
                print(f"  {name:7s} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:7.1f} ms  p99 {r['p99_ms']:7.1f} ms"
                      f"  ({r['n']} requests, {r['errors']} non-200)")
            bare = res["bare"]["rps"]
            print(f"  ratios to bare: create {res['create']['rps'] / bare:.2f}, query {res['query']['rps'] / bare:.2f}")

if __name__ == "__main__":
    main()
