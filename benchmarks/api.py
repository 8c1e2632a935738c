"""API benchmark (issue 15): a real `stillmotion serve` on loopback under 64 concurrent connections.

    python -m benchmarks.api [--seconds 10] [--warmup 2] [--concurrency 64] [--client-procs 1]
                             [--backends sqlite postgresql] [--pg URL] [--no-profile] [--json]

For each backend (SQLite in the data dir; PostgreSQL in a fresh database, dropped afterwards) it
starts the server with `--workers 0` (nothing renders) and no per-key rate limit, then loads, one
phase after another, each for `--seconds` after `--warmup` seconds that are not counted:

  bare      GET /livez                    the server's floor: HTTP + ASGI, no auth, no database
  create    POST /api/v1/job/create       vidu-q3 turbo, a 256x256 PNG as a data URI
  query     GET /api/v1/job/query?id=...  the ids created by the create phase, in turn
  create 1.5MB  the same create with a 1920x1280 photo-like JPEG (~1.5 MB) as a data URI

and prints req/s, p50, p99 (of the requests completed inside the window), failed requests
(transport error, non-200, or `code` != 0), the ratio to bare, and what each request cost: the
server's CPU ms per request, the cores it used and its busiest thread's cores (psutil on the
server pid; one thread at ~1.0 core is a GIL/event-loop bound), `srv runq`: the average number of
its threads that sat runnable waiting for a core (Linux schedstat; > 0 means the CPUs were full,
with its own threads or other processes'), and the client's own cores. The
client (`--client`) is raw asyncio keep-alive HTTP/1.1 sockets by default: httpx.AsyncClient costs
~40x the client CPU per request and caps the load far below the server (`--client httpx`, one
client per connection, or `httpx-pool`, one pool of 64, show it), in `--client-procs` processes.
During the 1.5 MB phase py-spy (if installed) samples the server: each thread's busy share and the
top frames by own time are printed. Goals (issue 15, SQLite, 2 cores): create >= 200/s, query >= 1,000/s, p99 <
250 ms, no failed request. The machine's load average is printed at start and end.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
from PIL import Image

KEY = "bench-key"
MODEL = "vidu/vidu-q3/image-to-video"
GOALS = {"create": 200.0, "query": 1000.0}  # req/s, SQLite, 2 cores
P99_GOAL_MS = 250.0
ROOT = Path(__file__).resolve().parents[1]


def small_png() -> bytes:
    y, x = np.mgrid[0:256, 0:256]
    img = np.stack([x, y, (x ^ y) & 255], -1).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def photo_jpeg(width: int = 1920, height: int = 1280, seed: int = 0) -> bytes:
    """A noisy gradient: as costly to decode as a photo; ~1.5 MB as JPEG quality 95."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.stack([x / width * 220, y / height * 220, (x + y) / (width + height) * 180 + 40], -1)
    img += rng.normal(0, 16, img.shape)
    buf = io.BytesIO()
    Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def create_body(image: bytes, mime: str) -> bytes:
    uri = f"data:{mime};base64," + base64.b64encode(image).decode()
    args = {"mode": "turbo", "prompt": "a cat", "image": uri, "duration": 5}
    return json.dumps({"model": MODEL, "args": args}).encode()


class Server:
    """`python -m stillmotion.cli serve --workers 0` on a free loopback port; its log in a file."""

    def __init__(self, data_dir: Path, database_url: str | None) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.parent / f"server-{self.port}.log"
        cmd = [sys.executable, "-m", "stillmotion.cli", "serve", "--data-dir", str(data_dir),
               "--port", str(self.port), "--workers", "0"]
        if database_url:
            cmd += ["--database-url", database_url]
        env = dict(os.environ, STILLMOTION_API_KEYS=KEY, STILLMOTION_ALLOW_PRIVATE_URLS="true",
                   STILLMOTION_RATE_LIMIT_PER_MIN="0", STILLMOTION_LOG_LEVEL="warning")
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(self.base + "/livez", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not start")

    def stop(self) -> str:
        """Stop it; the error lines of its log (tracebacks, ERROR, 5xx)."""
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        lines = self.log_path.read_text(errors="replace").splitlines()
        keys = ("ERROR", "Error", "Traceback", " 500", "exception")
        return "\n".join(ln for ln in lines if any(k in ln for k in keys))


async def _raw_request(conn: list[Any], port: int, req: bytes) -> tuple[int, bytes]:
    """One request on a keep-alive HTTP/1.1 connection [reader, writer], (re)opened when needed."""
    if not conn:
        conn.extend(await asyncio.open_connection("127.0.0.1", port))
    reader, writer = conn
    try:
        writer.write(req)
        head = await reader.readuntil(b"\r\n\r\n")
        length = next((int(ln.split(b":")[1]) for ln in head.split(b"\r\n")
                       if ln.lower().startswith(b"content-length:")), 0)
        body = await reader.readexactly(length)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        writer.close()
        conn.clear()
        raise
    return int(head.split(b" ", 2)[1]), body


def _client(base: str, reqs: list[tuple[str, str, bytes]], conns: int, start_at: float, warmup: float,
            seconds: float, kind: str) -> dict[str, Any]:
    """One client process: `conns` keep-alive connections looping over `reqs` until the window ends."""
    lat: list[float] = []
    fails: Counter[str] = Counter()
    t_measure, t_end = start_at + warmup, start_at + warmup + seconds
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    port = int(base.rsplit(":", 1)[1])
    raw = [(f"{m} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json"
            f"\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body for m, path, body in reqs]

    async def loop(clients: list[httpx.AsyncClient], k: int) -> None:
        i, conn = k, []
        while (t0 := time.time()) < t_end:
            method, path, body = reqs[i % len(reqs)]
            err = None
            try:
                if kind == "raw":
                    status, text = await _raw_request(conn, port, raw[i % len(reqs)])
                else:
                    r = await clients[k % len(clients)].request(method, path, content=body or None)
                    status, text = r.status_code, r.content
                if status != 200:
                    err = f"HTTP {status}: {text[:160]!r}"
                elif path.startswith("/api/") and b'"code":0' not in text:
                    err = f"code != 0: {text[:160]!r}"
            except (httpx.HTTPError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                err = f"{type(exc).__name__}: {exc}"[:200]
            i += conns
            t1 = time.time()
            if t_measure <= t1 <= t_end:  # completed inside the window
                lat.append(t1 - t0)
                if err:
                    fails[err] += 1

    async def run() -> None:
        # httpx: one client per connection, or (httpx-pool) one client whose pool holds them all
        per, count = {"httpx": (1, conns), "httpx-pool": (conns, 1)}.get(kind, (1, 0))
        clients = [httpx.AsyncClient(base_url=base, headers=headers, timeout=60,
                                     limits=httpx.Limits(max_connections=per, max_keepalive_connections=per))
                   for _ in range(count)]
        await asyncio.sleep(max(0.0, start_at - time.time()))
        await asyncio.gather(*(loop(clients, k) for k in range(conns)))
        for c in clients:
            await c.aclose()

    cpu0 = time.process_time()
    asyncio.run(run())
    return {"lat": lat, "fails": dict(fails), "cpu": time.process_time() - cpu0}


def _server_cpu(pid: int) -> tuple[float, dict[int, float], float]:
    """CPU seconds of the server, per thread, and the seconds its threads sat runnable on a run
    queue waiting for a core (Linux schedstat)."""
    p = psutil.Process(pid)
    t = p.cpu_times()
    waited = 0.0
    for task in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            waited += int(task.read_text().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            pass
    return t.user + t.system, {th.id: th.user_time + th.system_time for th in p.threads()}, waited


def _profile(pid: int, seconds: float, out: Path) -> subprocess.Popen | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        return None
    cmd = [spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--format", "raw", "--threads",
           "--nonblocking", "--rate", "100", "--output", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _top_frames(raw: Path, seconds: float, n: int = 8) -> list[str]:
    """From py-spy's collapsed stacks ('thread (tid): name;frame;... count'): each thread kind's busy
    share of the window (100 Hz samples, idle threads not sampled) and the top frames by own time."""
    own: Counter[tuple[str, str]] = Counter()
    busy: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        thread = frames[0].split(": ", 1)[-1]
        thread = "event loop" if thread == "MainThread" else thread
        own[thread, frames[-1]] += int(count)
        busy[thread] += int(count)
    total = sum(own.values()) or 1
    lines = ["busy share of the window: " + ", ".join(
        f"{t} {c / (100 * seconds):.2f}" for t, c in busy.most_common(4))]
    return lines + [f"{100 * c / total:5.1f}%  [{t}] {frame}" for (t, frame), c in own.most_common(n)]


def phase(server: Server, reqs: list[tuple[str, str, bytes]], args: argparse.Namespace,
          profile_to: Path | None = None) -> dict[str, Any]:
    procs = args.client_procs
    start_at = time.time() + (1.5 if procs > 1 else 0.2)
    t_measure = start_at + args.warmup
    sample: dict[str, Any] = {}

    def sample_server() -> None:  # server CPU over exactly the measured window
        time.sleep(max(0.0, t_measure - time.time()))
        sample["before"] = _server_cpu(server.proc.pid)
        spy = _profile(server.proc.pid, args.seconds, profile_to) if profile_to else None
        time.sleep(max(0.0, t_measure + args.seconds - time.time()))
        sample["after"] = _server_cpu(server.proc.pid)
        if spy:
            spy.wait(30)
            found = profile_to.exists()
            sample["profile"] = _top_frames(profile_to, args.seconds) if found else ["py-spy wrote nothing"]

    sampler = threading.Thread(target=sample_server)
    sampler.start()
    shares = [args.concurrency // procs + (k < args.concurrency % procs) for k in range(procs)]
    if procs == 1:
        outs = [_client(server.base, reqs, args.concurrency, start_at, args.warmup, args.seconds, args.client)]
    else:
        with ProcessPoolExecutor(procs) as pool:
            futs = [pool.submit(_client, server.base, reqs[k::procs] or reqs, c, start_at, args.warmup, args.seconds,
                                 args.client)
                    for k, c in enumerate(shares)]
            outs = [f.result() for f in futs]
    sampler.join()
    lat = np.array([x for o in outs for x in o["lat"]]) * 1000
    fails: Counter[str] = Counter()
    for o in outs:
        fails.update(o["fails"])
    n = len(lat)
    (cpu0, th0, wait0), (cpu1, th1, wait1) = sample["before"], sample["after"]
    busiest = max((t - th0.get(i, 0.0) for i, t in th1.items()), default=0.0)
    return {"rps": n / args.seconds, "p50_ms": float(np.percentile(lat, 50)) if n else None,
            "p99_ms": float(np.percentile(lat, 99)) if n else None, "n": n, "failed": sum(fails.values()),
            "fail_kinds": dict(fails.most_common(5)), "server_cpu_ms_per_req": 1000 * (cpu1 - cpu0) / max(n, 1),
            "server_cores": (cpu1 - cpu0) / args.seconds, "server_busiest_thread_cores": busiest / args.seconds,
            "server_runqueue_cores": (wait1 - wait0) / args.seconds,
            # the client's CPU includes its warm-up; scaled to the measured window
            "client_cores": sum(o["cpu"] for o in outs) / (args.warmup + args.seconds),
            **({"profile": sample["profile"]} if "profile" in sample else {})}


def run_backend(name: str, database_url: str | None, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    server = Server(tmp / f"data-{name}", database_url)
    results: dict[str, Any] = {}
    try:
        small, big = create_body(small_png(), "image/png"), create_body(photo_jpeg(), "image/jpeg")
        results["bare"] = phase(server, [("GET", "/livez", b"")], args)
        results["create"] = phase(server, [("POST", "/api/v1/job/create", small)], args)
        with httpx.Client(base_url=server.base, headers={"Authorization": f"Bearer {KEY}"}) as c:
            page = c.get("/v1/jobs", params={"limit": 100}).json()["data"]
        ids = [job["id"] for job in page] or ["missing"]
        results["query"] = phase(server, [("GET", f"/api/v1/job/query?id={i}", b"") for i in ids], args)
        prof = None if args.no_profile else (args.profile_out or tmp) / f"pyspy-{name}.txt"
        results["create 1.5MB"] = phase(server, [("POST", "/api/v1/job/create", big)], args, prof)
        results["create 1.5MB"]["body_bytes"] = len(big)
    finally:
        results["server_errors"] = server.stop()
    return results


def pg_database(base_url: str) -> tuple[str, str] | str:
    """A fresh database on the server at `base_url`: (its SQLAlchemy URL, its name), or why not."""
    import psycopg

    name = f"bench_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(base_url.replace("+psycopg", "") + "/postgres", autocommit=True, connect_timeout=3) as c:
            c.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        return f"PostgreSQL unreachable at {base_url}: {exc}".strip()
    return f"{base_url}/{name}", name


def drop_pg(base_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(base_url.replace("+psycopg", "") + "/postgres", autocommit=True, connect_timeout=3) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def print_table(report: dict[str, Any]) -> None:
    print(f"\n{'backend':<11}{'endpoint':<14}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'failed':>7}{'x bare':>7}"
          f"{'srv ms/req':>11}{'srv cores':>10}{'busiest thr':>12}{'srv runq':>9}{'client cores':>13}  goal")
    for backend, res in report["backends"].items():
        if isinstance(res, str):
            print(f"{backend:<11}skipped: {res}")
            continue
        bare = res["bare"]["rps"] or 1
        for ep, r in res.items():
            if not isinstance(r, dict):
                continue
            goal = GOALS.get(ep) if backend == "sqlite" else None
            verdict = ""
            if goal:
                ok = r["rps"] >= goal and (r["p99_ms"] or 1e9) < P99_GOAL_MS and r["failed"] == 0
                verdict = f"{'met' if ok else 'NOT met'} (>= {goal:.0f}/s, p99 < {P99_GOAL_MS:.0f} ms, 0 failed)"
            fmt = lambda v: f"{v:8.1f}" if v is not None else f"{'-':>8}"  # noqa: E731
            print(f"{backend:<11}{ep:<14}{r['rps']:8.0f}{fmt(r['p50_ms'])}{fmt(r['p99_ms'])}{r['failed']:7d}"
                  f"{r['rps'] / bare:7.2f}{r['server_cpu_ms_per_req']:11.2f}{r['server_cores']:10.2f}"
                  f"{r['server_busiest_thread_cores']:12.2f}{r['server_runqueue_cores']:9.2f}"
                  f"{r['client_cores']:13.2f}  {verdict}")
            for kind, count in r["fail_kinds"].items():
                print(f"{'':<25}{count} x {kind}")
        for ep, r in res.items():
            if isinstance(r, dict) and "profile" in r:
                print(f"  {backend} {ep}: server frames by own time (py-spy, measured window):")
                print("\n".join("    " + line for line in r["profile"]))
        if res.get("server_errors"):
            print(f"  {backend} server log, error lines:\n" + res["server_errors"][-4000:])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=10.0, help="measured duration of each phase")
    p.add_argument("--warmup", type=float, default=2.0, help="uncounted seconds before each phase")
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--client", default="raw", choices=["raw", "httpx", "httpx-pool"],
                   help="raw asyncio keep-alive sockets (default), an httpx.AsyncClient per connection, or one pool")
    p.add_argument("--client-procs", type=int, default=1, help="client processes sharing the connections")
    p.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    p.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432", help="server URL, no database")
    p.add_argument("--no-profile", action="store_true", help="no py-spy during the 1.5 MB creates")
    p.add_argument("--profile-out", type=Path, help="keep py-spy's collapsed stacks (pyspy-<backend>.txt) here")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args(argv)
    report: dict[str, Any] = {"cores": os.cpu_count(), "loadavg_start": os.getloadavg(), "seconds": args.seconds,
                              "concurrency": args.concurrency, "client": args.client,
                              "client_procs": args.client_procs, "backends": {}}
    with tempfile.TemporaryDirectory() as d:
        for backend in args.backends:
            if backend == "sqlite":
                report["backends"]["sqlite"] = run_backend("sqlite", None, Path(d), args)
                continue
            made = pg_database(args.pg)
            if isinstance(made, str):
                report["backends"]["postgresql"] = made
                continue
            try:
                report["backends"]["postgresql"] = run_backend("postgresql", made[0], Path(d), args)
            finally:
                drop_pg(args.pg, made[1])
    report["loadavg_end"] = os.getloadavg()
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{report['cores']} cores; load average at start {' '.join(f'{x:.2f}' for x in report['loadavg_start'])}; "
          f"{args.concurrency} connections, client {args.client} in {args.client_procs} process(es); "
          f"{args.seconds:.0f} s per phase after {args.warmup:.0f} s warm-up; server --workers 0, no rate limit")
    print_table(report)
    print(f"load average at end {' '.join(f'{x:.2f}' for x in report['loadavg_end'])}")


if __name__ == "__main__":
    main()
