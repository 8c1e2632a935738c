"""Several hosts for real: an API host and two worker hosts, each a network namespace with its own
empty data dir (no shared filesystem), PostgreSQL and an S3 server (moto) reachable only over the
namespaces' links. Jobs through every dialect complete and the API host serves their results;
then, while jobs run: a worker host is SIGKILLed, a worker host's link is cut past its lease and
restored, PostgreSQL restarts, the object store goes away for a while. At the end every job is
checked (final, its file served and decodable, charged once, refunded when failed) and a summary
line is printed.

Select it with `-m cluster`; it needs root and `ip` (skipped with the reason otherwise).
"""

from __future__ import annotations

import io
import logging
import re
import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import pytest
import requests

from stillmotion.auth import hash_key
from stillmotion.jobs import Job, JobStatus
from stillmotion.store import Database
from tests.helpers import KEY, ROOT, auth, data_uri, free_port, png_bytes, service_env, textured_image

from .netlab import Forwarder, HostProcess, Net, PrivatePostgres, wait_until, why_not

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(420)]

OWNER = "env-" + hash_key(KEY)[:16]
LEASE_S = 4.0
IMAGE = data_uri(png_bytes(textured_image(480, 360, seed=3)))
SHORT = {"mode": "turbo", "duration": 1, "resolution": "540p"}
LONG = {"mode": "pro", "duration": 8, "resolution": "1080p"}  # about 8-10 s of rendering here


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

    def db(self) -> Database:
        return Database(self.pg.url("127.0.0.1"), pool_size=2)

    def holder(self, job: Job) -> str | None:
        """The worker host whose process holds the job's lease."""
        if not job.lease_owner:
            return None
        pid = int(job.lease_owner.split("~")[0].rsplit("-", 2)[1])
        return next((name for name, proc in self.workers.items() if proc.pid == pid), None)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    reason = why_not()
    if reason:
        pytest.skip(reason)
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's access log
    root = tmp_path_factory.mktemp("cluster")
    net = Net()
    closers: list[Any] = [net.close]
    try:
        api_addr = net.add_host("api")
        for name in ("w1", "w2"):
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
        boto3.client("s3", endpoint_url=f"http://127.0.0.1:{moto_port}", **{
            "aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": "us-east-1"
        }).create_bucket(Bucket=bucket)
        port = free_port()
        env = {
            **aws, "AWS_ENDPOINT_URL": f"http://{net.gateway}:{s3.listen[1]}",
            "STILLMOTION_DATABASE_URL": pg.url(net.gateway), "STILLMOTION_STORAGE_URL": f"s3://{bucket}/sm",
            "STILLMOTION_SECRET": "cluster-secret-" + "x" * 24, "STILLMOTION_PUBLIC_URL": f"http://{api_addr}:{port}",
            "STILLMOTION_LEASE_S": str(LEASE_S), "STILLMOTION_HEARTBEAT_S": "0.5", "STILLMOTION_REAP_INTERVAL_S": "0.5",
            "STILLMOTION_POLL_INTERVAL_S": "0.1", "STILLMOTION_MAX_ATTEMPTS": "4", "STILLMOTION_RETRY_BACKOFF_S": "1",
            "STILLMOTION_SHUTDOWN_GRACE_S": "1", "STILLMOTION_MAX_RUNNING_PER_KEY": "0",
            "STILLMOTION_LOG_LEVEL": "info", "STILLMOTION_LOG_FORMAT": "text", "STILLMOTION_API_THREADS": "8",
        }
        (root / "api").mkdir()
        api = HostProcess(net.hosts["api"][0], "api",
                          ["serve", "--no-workers", "--host", api_addr, "--port", str(port), "--data-dir",
                           str(root / "api")], service_env(root / "api", **env), root / "api.log", ROOT)
        cluster = Cluster(net, pg, s3, bucket, env, root, api, f"http://{api_addr}:{port}")
        closers.append(lambda: [p.stop() for p in [api, *cluster.workers.values()]])
        wait_until(lambda: _healthy(cluster.base), 60, "the API host")
        for name in ("w1", "w2"):
            cluster.start_worker(name)
        yield cluster
    finally:
        for close in reversed(closers):
            try:
                close()
            except Exception as exc:  # clean up the rest whatever fails
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


# -- the run --------------------------------------------------------------------------------------


def test_a_cluster_survives_kills_partitions_and_outages(cluster: Cluster) -> None:
    c = cluster
    t0 = time.monotonic()

    # 1. every dialect, results served by the API host (which holds no file: no shared disk)
    first = [submit(c, d, SHORT) for d in ("job", "async", "v1")]
    assert all(first), c.refused
    wait_final(c, [i for i in first if i], 120)
    for dialect, job_id in c.submitted:
        url = result_url(c, dialect, job_id)
        assert url.startswith(c.base + "/files/outputs/")
        got = requests.get(url, timeout=60)
        assert got.status_code == 200 and frames_of(got.content) > 0, (dialect, got.status_code)
    assert not list((c.root / "api").rglob("*.mp4"))
    print(f"\n[{time.monotonic() - t0:5.1f} s] every dialect completed on the cluster")

    # 2. SIGKILL the worker host running a job: the job completes on the other host, charged once
    killed_job = submit(c, "v1", LONG)
    assert killed_job, c.refused
    job, host = running_on(c, killed_job)
    c.workers[host].stop(signal.SIGKILL)
    death = time.monotonic()
    other = "w2" if host == "w1" else "w1"
    moved, _ = wait_until(lambda: (lambda j: (j, 1) if c.holder(j) == other else None)(get_job(c, killed_job)),
                          60, "the job to move")
    print(f"[{time.monotonic() - t0:5.1f} s] SIGKILL {host}: job {killed_job} running on {other} "
          f"{time.monotonic() - death:.1f} s after the death (lease {LEASE_S} s, reaper every 0.5 s)")
    c.start_worker(host)  # a fresh process on the dead host, for what follows
    done = wait_final(c, [killed_job], 120)[killed_job]
    assert done.status is JobStatus.SUCCEEDED and done.attempts == 2 and not done.refunded

    # 3. cut a worker host's link mid-job, past the lease; restore it: the other host finishes the
    #    job, the returning worker's late writes and upload are refused
    cut_job = submit(c, "job", LONG)
    assert cut_job
    job, host = running_on(c, cut_job)
    other = "w2" if host == "w1" else "w1"
    c.net.cut(host)
    try:
        wait_until(lambda: c.holder(get_job(c, cut_job)) == other, 60, "the cut-off job to move")
        won = wait_final(c, [cut_job], 120)[cut_job]
        assert won.status is JobStatus.SUCCEEDED, won
    finally:
        c.net.restore(host)
    print(f"[{time.monotonic() - t0:5.1f} s] link of {host} cut: job {cut_job} finished on {other}; link restored")
    winner_prefix = won.result["video"].rsplit("/", 1)[0]  # type: ignore[index]
    zombie_log = c.workers[host].log_path
    # one log record (continuation lines never start with a time) naming the job and the refusal
    refused = re.compile(rf"job {cut_job}\b((?!\n\d\d:\d\d:\d\d ).)*?(lease was lost|lease lost to another claim)", re.S)
    wait_until(lambda: refused.search(zombie_log.read_text()), 90, "the returning worker to learn it lost the job")
    after = get_job(c, cut_job)
    assert after.result == won.result and after.status is JobStatus.SUCCEEDED and after.attempts == won.attempts
    leftovers = {k.rsplit("/", 1)[0] for k in objects(c, f"sm/outputs/{cut_job}/")}
    assert leftovers == {f"sm/{winner_prefix}"}, leftovers  # nothing of the returning worker's is kept
    print(f"[{time.monotonic() - t0:5.1f} s] the returning worker's writes were refused; its upload is not kept")

    # 4. restart PostgreSQL mid-run: workers and API reconnect; nothing lost or run twice
    batch = [submit(c, d, SHORT) for d in ("job", "async", "v1")] + [submit(c, "v1", LONG)]
    running_on(c, batch[-1] or "", min_progress=1)
    c.pg.restart()
    print(f"[{time.monotonic() - t0:5.1f} s] PostgreSQL restarted")
    batch += [wait_until(lambda: submit(c, "async", SHORT), 30, "a submit after the restart")]
    wait_final(c, [i for i in batch if i], 150)

    # 5. the object store away for a while: submits are refused (nothing charged), running jobs
    #    wait and retry, or fail visibly with a refund; none succeeds without its file
    during = [submit(c, "v1", {"mode": "pro", "duration": 4, "resolution": "1080p"}) for _ in range(2)]
    running_on(c, during[0] or "", min_progress=1)
    c.s3.down()
    refused_before = len(c.refused)
    down_submit = submit(c, "job", SHORT)
    time.sleep(8)
    c.s3.up()
    assert down_submit is None and " 503: " in c.refused[refused_before], c.refused
    print(f"[{time.monotonic() - t0:5.1f} s] object store away for 8 s and back; a submit meanwhile was refused (503)")
    wait_final(c, [i for i in during if i], 150)

    # -- the books ------------------------------------------------------------------------------
    summary = audit(c)
    print(f"[{time.monotonic() - t0:5.1f} s] " + summary["line"])
    assert summary["lost"] == 0 and summary["charged_twice"] == 0
    assert summary["succeeded_without_file"] == 0 and summary["failed_without_refund"] == 0


def audit(c: Cluster) -> dict[str, Any]:
    ids = [job_id for _, job_id in c.submitted]
    with c.db() as db:
        jobs = db.jobs.watch(ids)
        ledger = Counter((line.job_id, line.kind) for line in db.accounts.ledger(OWNER))
    by_dialect = {job_id: dialect for dialect, job_id in c.submitted}
    succeeded = failed_no_refund = no_file = lost = twice = 0
    reasons: Counter[str] = Counter()
    for job_id in ids:
        job = jobs.get(job_id)
        if job is None or job.status not in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED):
            lost += 1
            continue
        if ledger[(job_id, "charge")] != 1 or ledger[(job_id, "refund")] > 1 or (
                job.status is JobStatus.SUCCEEDED and ledger[(job_id, "refund")]):
            twice += 1
        if job.status is JobStatus.SUCCEEDED:
            succeeded += 1
            got = requests.get(result_url(c, by_dialect[job_id], job_id), timeout=60)
            if got.status_code != 200 or frames_of(got.content) == 0:
                no_file += 1
        else:
            reasons[str(job.error_code)] += 1
            if not (job.refunded and ledger[(job_id, "refund")] == 1):
                failed_no_refund += 1
    failed = sum(reasons.values())
    twice += max(0, sum(n for (_, kind), n in ledger.items() if kind == "charge") - len(ids))  # refused submits
    why = ", ".join(f"{n} {code}" for code, n in reasons.items()) or "none"
    line = (f"cluster: submitted {len(ids)} / succeeded {succeeded} / failed {failed} ({why}) / lost {lost} / "
            f"charged twice {twice}; refused at submit {len(c.refused)} (nothing stored or charged)")
    return {"line": line, "lost": lost, "charged_twice": twice, "succeeded_without_file": no_file,
            "failed_without_refund": failed_no_refund}
