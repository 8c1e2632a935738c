"""F2: a slow receiver cannot delay another tenant's webhook, an attempt ends at its total
deadline, and two sending processes never send one delivery twice at once (real servers on
loopback, a raw-socket tarpit that answers one header byte a second)."""

from __future__ import annotations

import time

import requests

from tests.e2e.test_v1_jobs import v1_body
from tests.faults.support import Listener, figure
from tests.helpers import OTHER_KEY, Service, auth, wait_v1

DEADLINE_S = 2.0


def test_a_tarpit_receiver_delays_no_other_tenant(tmp_path):
    tarpit, ok = Listener("tarpit", drip_s=0.5), Listener("ok")
    env = {"STILLMOTION_CALLBACK_TIMEOUT_S": str(DEADLINE_S), "STILLMOTION_CALLBACK_BACKOFF_S": "0.5"}
    data = tmp_path / "data"
    svc = Service(data, "--workers", "1", **env)
    second = Service(data, "--workers", "0", command="worker", **env)  # a second sender on the same outbox
    try:
        slow = [requests.post(f"{svc.base}/v1/jobs", headers=auth(), timeout=30, json={
            **v1_body(seed=n), "webhook": tarpit.url(), "webhook_events_filter": ["completed"]}).json()["id"]
            for n in range(4)]  # more than the per-host limit of each process
        for job_id in slow:
            assert wait_v1(svc.base, job_id)["status"] == "succeeded"
        deadline = time.monotonic() + 10
        while tarpit.connections < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert tarpit.connections >= 2  # the tarpit holds attempts now
        fast = requests.post(f"{svc.base}/v1/jobs", headers=auth(OTHER_KEY), timeout=30, json={
            **v1_body(seed=9), "webhook": ok.url(), "webhook_events_filter": ["completed"]}).json()["id"]
        assert wait_v1(svc.base, fast, key=OTHER_KEY, poll_s=0.05)["status"] == "succeeded"
        done = time.monotonic()
        while not ok.arrivals and time.monotonic() - done < 30:
            time.sleep(0.02)
        assert ok.arrivals, "the other tenant's webhook never arrived"
        delay = ok.arrivals[0] - done
        figure("other tenant's webhook delay behind a tarpit (s)", f"{delay:.2f}")
        assert delay < 1.5, delay

        time.sleep(3 * DEADLINE_S)  # a few rounds of deadline, backoff and retry against the tarpit
        recorded = {}
        for job_id in slow:
            [d] = requests.get(f"{svc.base}/v1/jobs/{job_id}/deliveries", headers=auth(), timeout=10).json()["data"]
            recorded[d["webhook_id"]] = d
            assert d["status"] == "pending" and d["attempts"] >= 1
            assert all("deadline" in (h["error"] or "") for h in d["history"]), d["history"]
        sends = dict(tarpit.ids)
        for msg_id, d in recorded.items():
            # every send is a recorded attempt, but for at most one still open: no duplicates
            assert d["attempts"] <= sends.get(msg_id, 0) <= d["attempts"] + 1, (msg_id, d["attempts"], sends)
        figure("tarpit sends / recorded attempts", f"{sum(sends.values())} / "
               f"{sum(d['attempts'] for d in recorded.values())}")
    finally:
        second.stop()
        svc.stop()
        tarpit.close()
        ok.close()
