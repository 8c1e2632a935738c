"""Periodic upkeep, independent of any worker thread: the reaper (expired leases), off-peak
expiry, retention, expired idempotency keys. Every host may run it at once: each round is
claimed in the database first (`workers.claim_task`), so one host runs it per interval, and
each step is a guarded write besides, so even an overlap never does anything twice."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from stillmotion.jobs import Database, RetryPolicy
from stillmotion.settings import Settings
from stillmotion.storage import ArtifactStore

log = logging.getLogger("stillmotion.housekeeping")
WORKER_PRUNE_S = 24 * 3600.0  # a crashed process's workers leave `status` at once, the table after a day


class Housekeeper:
    def __init__(self, settings: Settings, db: Database, artifacts: ArtifactStore, policy: RetryPolicy) -> None:
        self.settings = settings
        self.db = db
        self.artifacts = artifacts
        self.policy = policy
        self.id = f"hk-{socket.gethostname()}-{os.getpid()}"
        self._upkeep_after = -float("inf")  # monotonic: before this, another host surely holds the round

    def run(self, stop: threading.Event) -> None:
        """Reap every `reap_interval_s`; the rest every `housekeeping_interval_s`; each round
        only on the host that claimed it."""
        reap_every = self.settings.reap_interval_s * 0.9  # a tick's jitter must not skip a round
        while not stop.is_set():
            try:
                self.tick(reap_every)
            except Exception:  # a database hiccup must not end upkeep for good
                log.exception("housekeeping failed")
            stop.wait(self.settings.reap_interval_s)

    def tick(self, reap_every: float) -> list[str]:
        """The rounds this host claimed and ran now."""
        ran = []
        if self.db.workers.claim_task("reap", self.id, reap_every):
            self.reap()
            ran.append("reap")
        if time.monotonic() >= self._upkeep_after:  # at most two claims per round and host, not one per tick
            self._upkeep_after = time.monotonic() + self.settings.housekeeping_interval_s / 2
            if self.db.workers.claim_task("upkeep", self.id, self.settings.housekeeping_interval_s):
                self.once()
                ran.append("upkeep")
        return ran

    def reap(self) -> None:
        result = self.db.jobs.reap(self.policy)
        if result.requeued or result.failed:
            log.warning("reaped: requeued %s failed %s", result.requeued, result.failed)

    def once(self) -> dict[str, int]:
        """One round of upkeep; counts of what it did (for logs and tests)."""
        expired = self.db.jobs.expire_off_peak(self.settings.off_peak_max_age_s)
        if expired:
            log.info("off-peak jobs expired, canceled and refunded: %s", expired)
        purged = self.purge()
        forgotten = self.db.jobs.forget_idempotency_keys()
        gone = self.db.workers.prune(WORKER_PRUNE_S)
        return {"expired": len(expired), "purged": purged, "idempotency_forgotten": forgotten, "workers_pruned": gone}

    def purge(self) -> int:
        """Delete result files of jobs that ended more than `retention_s` ago; keep the jobs."""
        done = 0
        for job_id in self.db.jobs.purge_candidates(self.settings.retention_s):
            self.artifacts.delete_prefix(f"outputs/{job_id}")  # every attempt's objects; raises on an outage
            if self.db.jobs.mark_purged(job_id):
                done += 1
        if done:
            log.info("retention: deleted the result files of %d job(s)", done)
        return done
