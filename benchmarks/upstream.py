"""Upstream engines (issue 17): the overhead a front stillmotion adds over calling the upstream
directly, and how many upstream jobs one poller process keeps on schedule.

    python -m benchmarks.upstream [--jobs 12] [--capacity 100 300 600] [--window 15]

Overhead: a real upstream stillmotion (2 workers) and a front whose route sends the job model to it
(shortapi wire), both on loopback; the same 1 s 540p turbo job, alternately created directly on the
upstream (create -> poll every 50 ms -> download the MP4) and through the front (create -> poll ->
download the mirrored MP4). Prints p50/p99 of each and of their difference.

Capacity: a scripted upstream that answers "running" at once; N jobs in flight with
STILLMOTION_UPSTREAM_POLL_S=1; the lag of each poll behind its schedule (gap between two polls of one
task minus 1 s), p50/p99/max over `--window` seconds, per N. The scripted upstream shares the cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import requests

from tests.e2e.upstream_support import (
    JOB_MODEL, UPSTREAM_KEY, FakeUpstream, created, job_body, queried, upstream_route, write_routes,
)
from tests.helpers import Service, auth


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run_job(base: str, key: str, seed: int) -> float:
    """Create, poll every 50 ms, download the result; seconds from create to bytes in hand."""
    t0 = time.perf_counter()
    r = requests.post(f"{base}/api/v1/job/create", json=job_body(seed), headers=auth(key), timeout=30)
    r.raise_for_status()
    job_id = r.json()["job_id"]
    while True:
        answer = requests.get(f"{base}/api/v1/job/query", params={"id": job_id}, headers=auth(key), timeout=10)
        data = answer.json()["data"]
        if data["status"] >= 2:
            break
        time.sleep(0.05)
    assert data["status"] == 2, data
    video = requests.get(data["result"]["videos"][0]["url"], timeout=30)
    assert video.status_code == 200 and len(video.content) > 1000
    return time.perf_counter() - t0


def overhead(tmp: Path, jobs: int) -> None:
    (tmp / "up").mkdir()
    upstream = Service(tmp / "up" / "data", "--workers", "2", STILLMOTION_API_KEYS=UPSTREAM_KEY,
                       STILLMOTION_LOG_LEVEL="warning")
    routes = tmp / "routes.toml"
    write_routes(routes, upstream_route(JOB_MODEL, "shortapi", upstream.base))
    (tmp / "front").mkdir()
    front = Service(tmp / "front" / "data", "--workers", "1", STILLMOTION_ROUTES_FILE=str(routes),
                    UPSTREAM_KEY=UPSTREAM_KEY, STILLMOTION_UPSTREAM_POLL_S="0.05", STILLMOTION_LOG_LEVEL="warning")
    try:
        run_job(upstream.base, UPSTREAM_KEY, 0)
        run_job(front.base, "test-key-one", 0)  # warm both
        direct, via = [], []
        for i in range(jobs):
            direct.append(run_job(upstream.base, UPSTREAM_KEY, 100 + i))
            via.append(run_job(front.base, "test-key-one", 200 + i))
        diff = [v - d for v, d in zip(via, direct)]
        print(f"overhead, {jobs} jobs each, 1 s 540p turbo, same upstream, alternated")
        for name, values in (("direct", direct), ("via front", via), ("difference", diff)):
            print(f"  {name:11s} p50 {statistics.median(values):.3f} s  p99 {pct(values, 0.99):.3f} s")
    finally:
        front.stop()
        upstream.stop()


def capacity(tmp: Path, sizes: list[int], window: float) -> None:
    fake = FakeUpstream()
    fake.creates = [lambda n: created(f"t-{n}")]
    fake.queries = [queried("t", 1)]
    print(f"capacity: poll lag behind a 1 s schedule over {window:g} s (os.cpu_count={os.cpu_count()})")
    try:
        for n in sizes:
            fake.requests = []
            routes = tmp / f"routes-{n}.toml"
            write_routes(routes, upstream_route(JOB_MODEL, "shortapi", fake.base))
            (tmp / f"cap-{n}").mkdir()
            front = Service(tmp / f"cap-{n}" / "data", "--workers", "0", STILLMOTION_ROUTES_FILE=str(routes),
                            UPSTREAM_KEY=UPSTREAM_KEY, STILLMOTION_UPSTREAM_POLL_S="1",
                            STILLMOTION_UPSTREAM_POLLERS="16", STILLMOTION_LOG_LEVEL="warning")
            try:
                with ThreadPoolExecutor(8) as pool:
                    list(pool.map(lambda i: requests.post(f"{front.base}/api/v1/job/create", json=job_body(i % 50),
                                                          headers=auth(), timeout=60).raise_for_status(), range(n)))
                while len([r for r in fake.requests if r[0] == "POST"]) < n:
                    time.sleep(0.2)
                start = time.monotonic()
                time.sleep(window)
                polls: dict[str, list[float]] = defaultdict(list)
                for method, path, _, _, at in list(fake.requests):
                    if method == "GET" and at >= start and path.startswith("/api/v1/job/query"):
                        polls[parse_qs(urlparse(path).query)["id"][0]].append(at)
                lags = [b - a - 1.0 for times in polls.values() for a, b in zip(times, times[1:])]
                rate = sum(len(t) for t in polls.values()) / window
                print(f"  {n:5d} in flight: {rate:6.0f} polls/s, lag p50 {statistics.median(lags):.3f} s, "
                      f"p99 {pct(lags, 0.99):.3f} s, max {max(lags):.3f} s")
            finally:
                front.stop()
    finally:
        fake.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=12)
    ap.add_argument("--capacity", type=int, nargs="*", default=[100, 300, 600])
    ap.add_argument("--window", type=float, default=15.0)
    ap.add_argument("--skip-overhead", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_overhead:
            overhead(Path(tmp), args.jobs)
        if args.capacity:
            capacity(Path(tmp), args.capacity, args.window)


if __name__ == "__main__":
    main()
