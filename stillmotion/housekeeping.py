"""Periodic upkeep shared by every process that runs workers: retention, off-peak expiry,
expired idempotency keys. Each step is idempotent, so several hosts may run it at once."""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable

from stillmotion.settings import Settings
from stillmotion.storage import ArtifactStore
from stillmotion.store import Store, final_deliveries

log = logging.getLogger("stillmotion.housekeeping")


class Housekeeper:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        artifacts: ArtifactStore,
        on_purged: Callable[[str], None] = lambda job_id: None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.artifacts = artifacts
        self.on_purged = on_purged

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.once()
            except Exception:  # a database hiccup must not end upkeep for good
                log.exception("housekeeping failed")
            stop.wait(self.settings.housekeeping_interval_s)

    def once(self) -> dict[str, int]:
        """One round; counts of what it did (for logs and tests)."""
        expired = self.store.expire_off_peak(self.settings.off_peak_max_age_s, final_deliveries)
        if expired:
            log.info("off-peak jobs expired, canceled and refunded: %s", expired)
        purged = self.purge()
        forgotten = self.store.forget_idempotency_keys()
        return {"expired": len(expired), "purged": purged, "idempotency_forgotten": forgotten}

    def purge(self) -> int:
        """Delete result files of jobs that ended more than `retention_s` ago; keep the jobs."""
        done = 0
        for job_id in self.store.purge_candidates(self.settings.retention_s):
            shutil.rmtree(self.artifacts.path(f"outputs/{job_id}"), ignore_errors=True)
            if self.store.mark_purged(job_id):
                self.on_purged(job_id)
                done += 1
        if done:
            log.info("retention: deleted the result files of %d job(s)", done)
        return done
