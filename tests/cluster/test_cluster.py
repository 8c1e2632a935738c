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

import re
import signal
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from stillmotion.auth import hash_key
from stillmotion.jobs import JobStatus
from tests.helpers import KEY

from .lab import (
    LEASE_S,
    LONG,
    SHORT,
    Cluster,
    cluster_up,
    frames_of,
    get_job,
    objects,
    result_url,
    running_on,
    submit,
    wait_final,
)
from .netlab import wait_until, why_not

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(420)]

OWNER = "env-" + hash_key(KEY)[:16]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    reason = why_not()
    if reason:
        pytest.skip(reason)
    with cluster_up(tmp_path_factory.mktemp("cluster")) as made:
        yield made


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
    seen = c.status("api")  # `stillmotion status` on the API host lists the workers of the others
    assert sorted(w["host"] for w in seen["workers"]) == ["w1", "w2"], seen
    assert all(w["engines"] == ["motion"] for w in seen["workers"]) and seen["queue"]["succeeded"] == 3

    # 2. SIGKILL the worker host running a job: the job completes on the other host, charged once
    killed_job = submit(c, "v1", LONG)
    assert killed_job, c.refused
    _, host = running_on(c, killed_job)
    c.workers[host].stop(signal.SIGKILL)
    death = time.monotonic()
    other = "w2" if host == "w1" else "w1"
    wait_until(lambda: c.holder(get_job(c, killed_job)) == other, 60, "the job to move")
    print(f"[{time.monotonic() - t0:5.1f} s] SIGKILL {host}: job {killed_job} running on {other} "
          f"{time.monotonic() - death:.1f} s after the death (lease {LEASE_S} s, reaper every 0.5 s)")
    c.start_worker(host)  # a fresh process on the dead host, for what follows
    done = wait_final(c, [killed_job], 120)[killed_job]
    assert done.status is JobStatus.SUCCEEDED and done.attempts == 2 and not done.refunded

    # 3. cut a worker host's link mid-job, past the lease; restore it: the other host finishes the
    #    job, the returning worker's late writes and upload are refused
    cut_job = submit(c, "job", LONG)
    assert cut_job
    _, host = running_on(c, cut_job)
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
    refused = re.compile(rf"job {cut_job}\b((?!\n\d\d:\d\d:\d\d ).)*?(lease was lost|lease lost to another claim)", re.DOTALL)
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
