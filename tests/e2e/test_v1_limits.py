"""Keys, balances and limits over HTTP; off-peak window and expiry; retention of result files."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from tests.e2e.test_v1_jobs import v1_body
from tests.helpers import ROOT, Service, auth, service_env, wait_v1


def closed_window() -> str:
    """An off-peak window that does not include the present."""
    start = datetime.now(UTC) + timedelta(hours=2)
    return f"{start:%H:%M}-{start + timedelta(hours=1):%H:%M}"


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    data = tmp_path_factory.mktemp("limits") / "data"
    service = Service(data, "--workers", "1", STILLMOTION_RETENTION_S="3", STILLMOTION_HOUSEKEEPING_INTERVAL_S="0.3",
                      STILLMOTION_OFF_PEAK_WINDOW=closed_window(), STILLMOTION_OFF_PEAK_MAX_AGE_S="2")
    service.data = data  # type: ignore[attr-defined]
    yield service
    service.stop()


def cli_key(data: Path, name: str, *flags: str) -> tuple[str, str]:
    out = subprocess.run([sys.executable, "-m", "stillmotion.cli", "keys", "create", name, "--data-dir", str(data),
                          *flags], capture_output=True, text=True, cwd=ROOT, env=service_env(data), timeout=60)
    assert out.returncode == 0, out.stderr
    key, secret_line = out.stdout.strip().splitlines()
    return key, secret_line.removeprefix("webhook secret: ")


def test_concurrent_creates_never_overdraw_a_small_balance(svc):
    key, secret = cli_key(svc.data, "small", "--balance", "0.50")
    assert key.startswith("sm_") and secret.startswith("whsec_")
    answers: list[requests.Response] = []
    barrier = threading.Barrier(50)

    def create() -> None:
        barrier.wait()
        answers.append(requests.post(f"{svc.base}/v1/jobs", json=v1_body(), headers=auth(key), timeout=60))

    threads = [threading.Thread(target=create) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] * 15 + [402] * 35, codes  # 15 * 0.032 = 0.48 <= 0.50 < 16 * 0.032
    refused = next(a for a in answers if a.status_code == 402).json()["error"]
    assert refused["code"] == "CreditInsufficient" and "balance" in refused["message"]
    usage = requests.get(f"{svc.base}/v1/usage", headers=auth(key), timeout=10).json()
    assert usage["balance"] == "0.02" and Decimal(usage["net_spent"]) == Decimal("0.48")
    # A cancel refunds onto the balance, visibly.
    queued = [a.json()["id"] for a in answers if a.status_code == 201]
    canceled = requests.post(f"{svc.base}/v1/jobs/{queued[-1]}/cancel", headers=auth(key), timeout=10).json()
    assert canceled["refunded"] is True
    usage = requests.get(f"{svc.base}/v1/usage", headers=auth(key), timeout=10).json()
    assert usage["balance"] == "0.052" and usage["ledger"][-1]["kind"] == "refund"
    for job_id in queued[:-1]:
        requests.post(f"{svc.base}/v1/jobs/{job_id}/cancel", headers=auth(key), timeout=10)


def test_burst_over_the_rate_limit_gets_429(svc):
    key, _ = cli_key(svc.data, "slow", "--rpm", "10")
    codes, retry = [], []
    for _ in range(14):
        r = requests.get(f"{svc.base}/v1/jobs", headers=auth(key), timeout=10)
        codes.append(r.status_code)
        if r.status_code == 429:
            retry.append(int(r.headers["retry-after"]))
            assert r.json()["error"]["code"] == "RateLimited"
    assert codes[:10] == [200] * 10 and codes[10:] == [429] * 4
    assert all(1 <= s <= 6 for s in retry)
    job_dialect = requests.get(f"{svc.base}/api/v1/job/query", params={"id": "x"}, headers=auth(key), timeout=10)
    assert job_dialect.status_code == 429 and job_dialect.json()["code"] == 429  # every dialect
    assert requests.get(f"{svc.base}/v1/jobs", headers=auth(), timeout=10).status_code == 200  # per key


def test_off_peak_waits_for_its_window_then_expires_refunded(svc):
    off = requests.post(f"{svc.base}/v1/jobs", json=v1_body(off_peak=True), headers=auth(), timeout=30).json()
    assert off["amount"] == "0.016" and off["off_peak"] is True  # half of 0.032
    normal = requests.post(f"{svc.base}/v1/jobs", json=v1_body(), headers=auth(), timeout=30).json()
    assert wait_v1(svc.base, normal["id"])["status"] == "succeeded"  # normal jobs pass it by
    ended = wait_v1(svc.base, off["id"], timeout=20)
    assert ended["status"] == "canceled" and ended["refunded"] and ended["error"]["code"] == "OffPeakExpired"
    assert ended["started_at"] is None  # never ran: outside the operator's window


def test_retention_deletes_files_and_keeps_the_record(svc):
    job = requests.post(f"{svc.base}/v1/jobs", json=v1_body(), headers=auth(), timeout=30).json()
    done = wait_v1(svc.base, job["id"])
    url = done["output"]["video_url"]
    assert requests.get(url, timeout=10).status_code == 200
    out_dir = Path(svc.data) / "outputs" / job["id"]
    deadline = time.monotonic() + 15
    while out_dir.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not out_dir.exists()
    assert requests.get(url, timeout=10).status_code == 404
    kept = requests.get(f"{svc.base}/v1/jobs/{job['id']}", headers=auth(), timeout=10).json()
    assert kept["status"] == "succeeded" and kept["output"]["files_deleted"] is True
    assert kept["output"]["video_url"] is None and kept["metadata"]["files_deleted_at"]
