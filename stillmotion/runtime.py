"""Builds the service's parts from Settings and runs its background threads.

Shared by `stillmotion serve` (API + in-process workers) and `stillmotion worker` (workers
only), so both processes see the same database, data dir and signing secret.
"""

from __future__ import annotations

import logging
import threading

from stillmotion.auth import Authenticator
from stillmotion.callbacks import CallbackDispatcher
from stillmotion.housekeeping import Housekeeper
from stillmotion.offpeak import parse_window
from stillmotion.catalog import load_price_overrides
from stillmotion.routing import check_routes
from stillmotion.service import JobService
from stillmotion.settings import Settings
from stillmotion.storage import ArtifactStore, load_secret
from stillmotion.store import Store
from stillmotion.worker import Worker, worker_id

log = logging.getLogger("stillmotion")


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        if settings.price_file:
            load_price_overrides(settings.price_file)
        check_routes(settings)  # a bad routes file stops the start, not every submit
        self.store = Store(settings.db_url)
        self.store.migrate()
        self.artifacts = ArtifactStore(
            settings.data_dir, load_secret(settings), settings.base_url, settings.url_ttl_s
        )
        if settings.off_peak_window:
            parse_window(settings.off_peak_window)  # a bad window stops the start
        self.auth = Authenticator(self.store, settings, load_secret(settings))
        self.service = JobService(settings, self.store, self.artifacts)
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.workers: list[tuple[Worker, threading.Thread]] = []

    def start_background(self, workers: int, *, dispatcher: bool = True) -> None:
        """Start `workers` worker threads and (optionally) one callback dispatcher thread."""
        for _ in range(workers):
            worker = Worker(self.settings, self.store, self.artifacts, engines=self.settings.engine_names)
            self.workers.append((worker, self._spawn(worker.run, f"worker:{worker.id}")))
        if dispatcher:
            callbacks = CallbackDispatcher(
                self.settings, self.store, self.artifacts, worker_id("cb"), self.auth.webhook_secret
            )
            self._spawn(callbacks.run, "callbacks")
            keeper = Housekeeper(self.settings, self.store, self.artifacts, self.service.forget)
            self._spawn(keeper.run, "housekeeping")

    def _spawn(self, target, name: str) -> threading.Thread:
        thread = threading.Thread(target=target, args=(self.stop,), name=name, daemon=True)
        thread.start()
        self.threads.append(thread)
        return thread

    def shutdown(self, timeout: float | None = None) -> None:
        """Stop claiming; running jobs finish within the grace period or go back to the queue."""
        self.stop.set()
        limit = timeout if timeout is not None else self.settings.shutdown_grace_s + 10
        for thread in self.threads:
            thread.join(limit)
        self.release_stuck()
        self.store.close()

    def release_stuck(self) -> None:
        """Give back jobs whose render did not stop in time, so the process can exit losing nothing.

        The worker thread is a daemon and dies with the process; without this its job would stay
        `processing` until the lease expired and then count as a failed attempt.
        """
        for worker, thread in self.workers:
            job = worker.current
            if thread.is_alive() and job is not None and self.store.release(job.id, worker.id):
                log.warning("job %s did not stop within the grace period; released to the queue", job.id)
