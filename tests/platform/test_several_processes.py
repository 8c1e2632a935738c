"""Several processes on one database: housekeeping rounds claimed once across hosts, caches that
never outlive another process's change (revoked keys, price files), and the process roles
(`serve --no-workers`, `worker`, `status`) as real child processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import requests

from stillmotion.auth import Authenticator
from stillmotion.catalog import Catalog
from stillmotion.errors import Unauthorized
from stillmotion.housekeeping import Housekeeper
from stillmotion.jobs import RetryPolicy
from stillmotion.jobs.memory import MemoryDatabase
from stillmotion.settings import Settings
from stillmotion.storage import LocalArtifactStore
from stillmotion.store import Database
from tests.helpers import (
    ROOT,
    Service,
    auth,
    data_uri,
    png_bytes,
    service_env,
    textured_image,
)

Q3 = "vidu/vidu-q3/image-to-video"


def test_every_host_runs_housekeeping_but_each_round_runs_once(tmp_path: Path) -> None:
    db = MemoryDatabase()
    reaps: list[str] = []
    real_reap = db.jobs.reap

    def counted(policy: RetryPolicy):  # type: ignore[no-untyped-def]
        reaps.append("reap")
        return real_reap(policy)

    db.jobs.reap = counted  # type: ignore[method-assign]
    settings = Settings(data_dir=tmp_path, reap_interval_s=60, housekeeping_interval_s=600)
    artifacts = LocalArtifactStore(tmp_path, b"s", "http://t")
    hosts = [Housekeeper(settings, db, artifacts, RetryPolicy()) for _ in range(3)]
    for i, keeper in enumerate(hosts):
        keeper.id = f"hk-host{i}"
    ran = [keeper.tick(54) for keeper in hosts]
    assert ran == [["reap", "upkeep"], [], []] and reaps == ["reap"]


def test_a_key_revoked_by_one_process_is_refused_by_another_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    with Database(url) as a, Database(url) as b:
        a.migrate()
        settings = Settings(data_dir=tmp_path, api_keys="")
        host_a, host_b = Authenticator(a.accounts, settings), Authenticator(b.accounts, settings)
        key, _ = host_a.create_key("k")
        owner = host_b.owner(f"Bearer {key}")  # host B has now seen (and once cached) the key
        assert host_a.owner(f"Bearer {key}") == owner
        assert a.accounts.revoke_key(owner)
        try:
            host_b.owner(f"Bearer {key}")
        except Unauthorized:
            pass
        else:
            raise AssertionError("host B still accepted a key revoked on host A")


def test_an_edited_price_file_reaches_a_running_catalog(tmp_path: Path) -> None:
    from stillmotion.catalog import get_model

    path = tmp_path / "prices.json"
    path.write_text(json.dumps({Q3: {"pro": {"720p": {"per_sec": "0.2"}}}}))
    catalog = Catalog.load(path)
    args = get_model(Q3).prepare({"mode": "pro", "prompt": "x", "duration": 5, "resolution": "720p",
                                   "image": "https://e/x.png"}).args
    assert catalog.get(Q3).price(args) == Decimal("1.0")
    path.write_text(json.dumps({Q3: {"pro": {"720p": {"per_sec": "0.3"}}}}))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    assert catalog.get(Q3).price(args) == Decimal("1.5")
    path.write_text("{not json")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 2_000_000))
    assert catalog.get(Q3).price(args) == Decimal("1.5")  # a broken edit keeps the last good prices


def status(data: Path, **env: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "stillmotion.cli", "status", "--data-dir", str(data), "--json"],
                         env=service_env(data, **env), cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_api_only_and_worker_processes_and_status(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"STILLMOTION_DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}"}
    api = Service(data, "--no-workers", **env)
    try:
        assert status(data, **env)["workers"] == []  # the API process runs no worker
        body = {"model": Q3, "args": {"mode": "pro", "prompt": "zoom in", "duration": 16, "resolution": "1080p",
                                     "image": data_uri(png_bytes(textured_image(640, 480)))}}
        job_id = requests.post(f"{api.base}/api/v1/job/create", json=body, headers=auth(), timeout=30).json()["job_id"]
        time.sleep(1.0)
        assert requests.get(f"{api.base}/api/v1/job/query", params={"id": job_id}, headers=auth(),
                            timeout=10).json()["data"]["status"] == 0  # nobody claims it
        worker = Service(data, command="worker", STILLMOTION_SHUTDOWN_GRACE_S="0.5", **env)  # one data dir here; tests/cluster: none shared
        try:
            deadline = time.monotonic() + 60
            while True:
                seen = status(data, **env)
                running = [w for w in seen["workers"] if job_id in w["jobs"]]
                if running:
                    break
                assert time.monotonic() < deadline, seen
                time.sleep(0.3)
            (w,) = seen["workers"]
            assert w["host"] == os.uname().nodename and w["engines"] == ["motion"] and w["pid"] == worker.proc.pid
            assert seen["queue"]["processing"] == 1
        finally:
            worker.stop()
        assert status(data, **env)["workers"] == []  # a clean stop leaves the list at once
    finally:
        api.stop()
