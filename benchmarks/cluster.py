"""Throughput of completed turbo jobs with 1 and 2 worker hosts, and the time from a worker host's
death to its job running on another, on the network-namespace cluster of tests/cluster (root, `ip`).

    python -m benchmarks.cluster [--jobs 12] [--lease 4] [--reap 0.5] [--only load]

Each round builds a fresh cluster (API host, N worker hosts, its own PostgreSQL, moto S3), submits
`--jobs` turbo 540p 1 s jobs through the native API at once and times submit-to-last-success;
then SIGKILLs the worker running a long job and times until another host holds it. The figures
depend on the cores the hosts share: on one machine the worker "hosts" share its CPUs.
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import time
from pathlib import Path

from tests.cluster.lab import LONG, SHORT, cluster_up, get_job, running_on, submit, wait_final
from tests.cluster.netlab import wait_until, why_not


def throughput(workers: tuple[str, ...], jobs: int, settings: dict[str, str]) -> float:
    with tempfile.TemporaryDirectory(prefix="sm-bench-") as tmp, cluster_up(Path(tmp), workers, **settings) as c:
        wait_final(c, [submit(c, "v1", SHORT) or ""], 120)  # warm: imports, first connections
        start = time.monotonic()
        ids = [submit(c, "v1", SHORT) for _ in range(jobs)]
        assert all(ids), c.refused
        wait_final(c, [i for i in ids if i], 600)
        return jobs / (time.monotonic() - start) * 60


def failover(settings: dict[str, str]) -> float:
    with tempfile.TemporaryDirectory(prefix="sm-bench-") as tmp, cluster_up(Path(tmp), ("w1", "w2"), **settings) as c:
        job_id = submit(c, "v1", LONG)
        assert job_id, c.refused
        _, host = running_on(c, job_id)
        other = "w2" if host == "w1" else "w1"
        c.workers[host].stop(signal.SIGKILL)
        death = time.monotonic()
        wait_until(lambda: c.holder(get_job(c, job_id)) == other, 120, "the job to move", every=0.05)
        return time.monotonic() - death


def db_load(settings: dict[str, str], seconds: float = 8.0) -> tuple[float, float]:
    """Database transactions per second on the cluster: idle (2 worker hosts polling), then with
    2 long jobs running (heartbeats, cancel watch, progress)."""
    from sqlalchemy import text

    def rate(c) -> float:  # type: ignore[no-untyped-def]
        def count() -> int:
            with c.db() as db, db._engine.connect() as conn:  # noqa: SLF001 - a benchmark's peek
                return int(conn.execute(text("SELECT xact_commit + xact_rollback FROM pg_stat_database "
                                             "WHERE datname = current_database()")).scalar_one())
        before = count()
        time.sleep(seconds)
        return (count() - before - 1) / seconds  # less the probe's own transaction

    with tempfile.TemporaryDirectory(prefix="sm-bench-") as tmp, cluster_up(Path(tmp), ("w1", "w2"), **settings) as c:
        time.sleep(2)
        idle = rate(c)
        ids = [submit(c, "v1", LONG), submit(c, "v1", LONG)]
        for job_id in ids:
            running_on(c, job_id or "", min_progress=1)
        busy = rate(c)
        return idle, busy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=12)
    parser.add_argument("--lease", type=float, default=4.0)
    parser.add_argument("--reap", type=float, default=0.5)
    parser.add_argument("--only", choices=("load",), help="only the database load figures")
    args = parser.parse_args()
    reason = why_not()
    if reason:
        raise SystemExit(f"benchmarks.cluster: {reason}")
    settings = {"lease_s": str(args.lease), "reap_interval_s": str(args.reap), "poll_interval_s": "0.1",
                "heartbeat_s": str(min(0.5, args.lease / 4)), "log_level": "warning"}
    print(f"cores {os.cpu_count()}, load {os.getloadavg()[0]:.1f}; {args.jobs} turbo 540p 1 s jobs per round; "
          f"{settings}")
    if args.only == "load":
        return load_figures(settings)
    one = throughput(("w1",), args.jobs, settings)
    print(f"1 worker host:  {one:.1f} jobs/min")
    two = throughput(("w1", "w2"), args.jobs, settings)
    print(f"2 worker hosts: {two:.1f} jobs/min  (x{two / one:.2f})")
    took = failover(settings)
    print(f"worker host killed -> its job running elsewhere: {took:.1f} s (lease {args.lease} s, reaper every "
          f"{args.reap} s); load {os.getloadavg()[0]:.1f}")
    load_figures(settings)


def load_figures(settings: dict[str, str]) -> None:
    for label, tuned in (("these settings", settings),
                         ("the defaults (lease 30 s, heartbeat 5 s, reaper 5 s, poll 0.25 s)",
                          {"lease_s": "30", "heartbeat_s": "5", "reap_interval_s": "5", "poll_interval_s": "0.25",
                           "log_level": "warning"})):
        idle, busy = db_load(tuned)
        print(f"database transactions/s with {label}: {idle:.0f} idle, {busy:.0f} with 2 jobs running")


if __name__ == "__main__":
    main()
