"""The cluster lab put together: hosts, database, object store and stillmotion processes, plus the
client-side helpers the cluster test and the cluster benchmark share (submit through each
dialect, fetch results from the API host, read jobs from the database)."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import requests

from stillmotion.jobs import Job, JobStatus
from stillmotion.store import Database
from tests.helpers import (
    ROOT,
    auth,
    data_uri,
    free_port,
    png_bytes,
    service_env,
    textured_image,
)

from .netlab import Forwarder, HostProcess, Net, PrivatePostgres, wait_until

LEASE_S = 4.0
IMAGE = data_uri(png_bytes(textured_image(480, 360, seed=3)))
SHORT = {"mode": "turbo", "duration": 1, "resolution": "540p"}
LONG = {"mode": "pro", "duration": 8, "resolution": "1080p"}  # about 8-20 s of rendering here


@dataclass
class Cluster:
    net: Net
    pg: PrivatePostgres
    s3: Forwarder
    bucket: str
    env: dict[str, str]
    root: Path
    api: HostProcess
    base: str
    workers: dict[str, HostProcess] = field(default_factory=dict)
    submitted: list[tuple[str, str]] = field(default_factory=list)  # (dialect, job id)
    refused: list[str] = field(default_factory=list)  # submits refused with a reason (nothing stored)

    def start_worker(self, name: str) -> HostProcess:
        ns = self.net.hosts[name][0]
        data = self.root / name
        data.mkdir(exist_ok=True)
        env = service_env(data, **self.env)
        self.workers[name] = HostProcess(ns, name, ["worker", "--data-dir", str(data)], env,
                                         self.root / f"{name}.log", ROOT)
        return self.workers[name]

    def status(self, host: str) -> dict[str, Any]:
        """`stillmotion status --json` run on a host."""
        ns = self.net.hosts[host][0]
        out = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-m", "stillmotion.cli", "status", "--json",
                              "--data-dir", str(self.root / host)], env=service_env(self.root / host, **self.env),
                             cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
        return dict(json.loads(out.stdout))

    def db(self) -> Database:
        return Database(self.pg.url("127.0.0.1"), pool_size=2)

    def holder(self, job: Job) -> str | None:
        """The worker host whose process holds the job's lease."""
        if not job.lease_owner:
            return None
        pid = int(job.lease_owner.split("~")[0].rsplit("-", 2)[1])
        return next((name for name, proc in self.workers.items() if proc.pid == pid), None)


@contextmanager
def cluster_up(root: Path, workers: tuple[str, ...] = ("w1", "w2"), **settings: str) -> Iterator[Cluster]:
    """The lab: an API host and `workers` worker hosts, PostgreSQL and S3 on the links; `settings`
    override the STILLMOTION_* defaults below (lower-case names, as in Settings)."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's access log
    net = Net()
    closers: list[Any] = [net.close]
    try:
        api_addr = net.add_host("api")
        for name in workers:
            net.add_host(name)
        pg = PrivatePostgres(net.gateway)
        closers.append(pg.close)
        moto_port = free_port()
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
        moto.start()
        closers.append(moto.stop)
        s3 = Forwarder((net.gateway, 0), ("127.0.0.1", moto_port))  # the store's only door to the hosts
        closers.append(s3.close)
        aws = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
        bucket = "stillmotion-cluster"
        boto3.client("s3", endpoint_url=f"http://127.0.0.1:{moto_port}", aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1").create_bucket(Bucket=bucket)
        port = free_port()
        env = {
            **aws, "AWS_ENDPOINT_URL": f"http://{net.gateway}:{s3.listen[1]}",
            "STILLMOTION_DATABASE_URL": pg.url(net.gateway), "STILLMOTION_STORAGE_URL": f"s3://{bucket}/sm",
            "STILLMOTION_SECRET": "cluster-secret-" + "x" * 24, "STILLMOTION_PUBLIC_URL": f"http://{api_addr}:{port}",
            "STILLMOTION_LEASE_S": str(LEASE_S), "STILLMOTION_HEARTBEAT_S": "0.5", "STILLMOTION_REAP_INTERVAL_S": "0.5",
            "STILLMOTION_POLL_INTERVAL_S": "0.1", "STILLMOTION_MAX_ATTEMPTS": "4", "STILLMOTION_RETRY_BACKOFF_S": "1",
            "STILLMOTION_SHUTDOWN_GRACE_S": "1", "STILLMOTION_MAX_RUNNING_PER_KEY": "0",
            "STILLMOTION_LOG_LEVEL": "info", "STILLMOTION_LOG_FORMAT": "text", "STILLMOTION_API_THREADS": "8",
            **{f"STILLMOTION_{name.upper()}": value for name, value in settings.items()},
        }
        (root / "api").mkdir()
        api = HostProcess(net.hosts["api"][0], "api",
                          ["serve", "--no-workers", "--host", api_addr, "--port", str(port), "--data-dir",
                           str(root / "api")], service_env(root / "api", **env), root / "api.log", ROOT)
        cluster = Cluster(net, pg, s3, bucket, env, root, api, f"http://{api_addr}:{port}")
        closers.append(lambda: [p.stop() for p in [api, *cluster.workers.values()]])
        wait_until(lambda: _healthy(cluster.base), 60, "the API host")
        for name in workers:
            cluster.start_worker(name)
        yield cluster
    finally:
        for close in reversed(closers):
            try:
                close()
            except Exception as exc:  # noqa: BLE001 - clean up the rest whatever fails
                print(f"cluster teardown: {exc!r}")


def _healthy(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


# -- the three dialects ---------------------------------------------------------------------------


def submit(c: Cluster, dialect: str, size: dict[str, Any]) -> str | None:
    """Submit through a dialect; the job id, or None when refused (the reason is kept)."""
    turbo = size["mode"] == "turbo"
    if dialect == "job":
        url, body = "/api/v1/job/create", {"model": "vidu/vidu-q3/image-to-video",
                                           "args": {**size, "prompt": "zoom in", "image": IMAGE}}
    elif dialect == "async":
        url = "/v3/async/" + ("vidu-q3-turbo-i2v" if turbo else "vidu-q3-pro-i2v")
        body = {"images": [IMAGE], "prompt": "pan left", "duration": size["duration"],
                "resolution": size["resolution"]}
    else:
        body = {"model": "vidu-q3-turbo-i2v" if turbo else "vidu-q3-pro-i2v",
                "input": {"images": [IMAGE], "prompt": "orbit", "duration": size["duration"],
                          "resolution": size["resolution"], **({"audio": False} if turbo else {})}}
        url = "/v1/jobs"
    r = requests.post(c.base + url, json=body, headers=auth(), timeout=60)
    if r.status_code >= 300 or (dialect == "job" and r.json().get("code") not in (0, 200, None)):
        c.refused.append(f"{dialect} {r.status_code}: {r.text[:160]}")
        return None
    out = r.json()
    job_id = out.get("job_id") or out.get("task_id") or out.get("id")
    assert job_id, out
    c.submitted.append((dialect, job_id))
    return str(job_id)


def result_url(c: Cluster, dialect: str, job_id: str) -> str:
    if dialect == "job":
        data = requests.get(f"{c.base}/api/v1/job/query", params={"id": job_id}, headers=auth(), timeout=30).json()
        return str(data["data"]["result"]["videos"][0]["url"])
    if dialect == "async":
        body = requests.get(f"{c.base}/v3/async/task-result", params={"task_id": job_id}, headers=auth(),
                            timeout=30).json()
        return str(body["videos"][0]["video_url"])
    return str(requests.get(f"{c.base}/v1/jobs/{job_id}", headers=auth(), timeout=30).json()["output"]["video_url"])


def frames_of(data: bytes) -> int:
    with av.open(io.BytesIO(data)) as box:
        return sum(1 for _ in box.decode(video=0))


def get_job(c: Cluster, job_id: str) -> Job:
    with c.db() as db:
        job = db.jobs.get(job_id)
    assert job is not None, job_id
    return job


def wait_final(c: Cluster, ids: list[str], timeout: float) -> dict[str, Job]:
    def done() -> dict[str, Job] | None:
        with c.db() as db:
            jobs = db.jobs.watch(ids)
        return jobs if all(j.status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED)
                           for j in jobs.values()) and len(jobs) == len(ids) else None

    return wait_until(done, timeout, f"jobs {ids} to end", every=0.3)


def running_on(c: Cluster, job_id: str, min_progress: int = 5) -> tuple[Job, str]:
    def probe() -> tuple[Job, str] | None:
        job = get_job(c, job_id)
        host = c.holder(job)
        return (job, host) if job.status is JobStatus.PROCESSING and job.progress >= min_progress and host else None

    return wait_until(probe, 90, f"job {job_id} to run", every=0.1)


def objects(c: Cluster, prefix: str) -> list[str]:
    import boto3

    client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{c.s3.target[1]}", aws_access_key_id="test",
                          aws_secret_access_key="test", region_name="us-east-1")
    return [o["Key"] for o in client.list_objects_v2(Bucket=c.bucket, Prefix=prefix).get("Contents", [])]
