"""Builds the service's parts from Settings, once, and runs its background threads.

Shared by `stillmotion serve` (API + in-process workers) and `stillmotion worker` (workers
only), so both processes see the same database, data dir and signing secret. Everything that
reads configuration (the routes file, prices, the off-peak window) is read here, at start, so a
bad file stops the start instead of failing requests later.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from stillmotion.auth import Authenticator
from stillmotion.callbacks import CallbackDispatcher
from stillmotion.catalog import Catalog
from stillmotion.housekeeping import Housekeeper
from stillmotion.jobs import Capability, ClaimRules, Database, WorkerRecord
from stillmotion.routing import Router
from stillmotion.service import JobService
from stillmotion.settings import Settings
from stillmotion.storage import load_secret, open_store
from stillmotion.worker import Worker, policy_from, worker_id

log = logging.getLogger("stillmotion")


def open_database(settings: Settings) -> Database:
    from stillmotion.store import Database as SqlDatabase

    db = SqlDatabase(settings.db_url, pool_size=settings.db_pool_size)
    db.migrate()
    return db


class Runtime:
    def __init__(self, settings: Settings, db: Database | None = None) -> None:
        """`db`: a ready database (tests pass `MemoryDatabase`); default: the settings' SQL one."""
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog.load(settings.price_file)  # a bad price file stops the start
        self.router = Router.from_settings(settings)  # a bad routes file stops the start
        ClaimRules(settings.off_peak_window)  # a bad window stops the start
        self.db = db or open_database(settings)
        secret = load_secret(settings)
        if not settings.secret and self.db.backend == "postgresql":
            log.warning("STILLMOTION_SECRET is not set: this host signs result links with a secret of its own "
                        "data dir; several hosts need one shared secret (docs/deploy.md)")
        self.artifacts = open_store(settings, secret)  # a bad storage URL stops the start
        self.auth = Authenticator(self.db.accounts, settings, secret)
        self.service = JobService(settings, self.db, self.artifacts, self.router, self.catalog)
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.workers: list[tuple[Worker, threading.Thread]] = []

    def start_background(self, workers: int, *, dispatcher: bool = True) -> None:
        """Start `workers` worker threads, and (optionally) the callback sender and housekeeping."""
        capability = self._capability() if workers else None
        for _ in range(workers):
            worker = Worker(self.settings, self.db, self.artifacts, engines=self.settings.engine_names,
                            capability=capability)
            self.workers.append((worker, self._spawn(worker.run, f"worker:{worker.id}")))
        if workers:
            self._spawn(lambda stop: self._presence(stop, capability), "presence")
        if dispatcher:
            callbacks = CallbackDispatcher(
                self.settings, self.db, self.artifacts, worker_id("cb"), self.auth.webhook_secret
            )
            self._spawn(callbacks.run, "callbacks")
            keeper = Housekeeper(self.settings, self.db, self.artifacts, policy_from(self.settings))
            self._spawn(keeper.run, "housekeeping")
            from stillmotion.upstream.poller import Poller  # upstream jobs wait here, not in a worker

            self._spawn(Poller(self.settings, self.db, self.artifacts, self.catalog).run, "upstream")

    def _capability(self) -> Callable[[], Capability] | None:
        """For GPU workers: the weights this host holds (claims skip jobs routed elsewhere)."""
        if "diffusers" not in self.settings.engine_names:
            return None
        from stillmotion.engines.diffusers.capability import advertiser
        from stillmotion.engines.diffusers.engine import options_from_settings

        return advertiser(self.router.routes, options_from_settings(self.settings))

    def _presence(self, stop: threading.Event, capability: Callable[[], Capability] | None) -> None:
        """Register this process's workers and refresh them every heartbeat (host, engines,
        capabilities, the jobs they run) for `stillmotion status`; forget them on a clean stop."""
        host, pid, started = socket.gethostname(), os.getpid(), datetime.now(UTC)
        ids = [worker.id for worker, _ in self.workers]
        while True:
            try:
                caps: dict[str, object] = {}
                if capability is not None:
                    can = capability()
                    caps = {"weights": sorted(can.weights), "warm": can.warm}
                self.db.workers.beat([
                    WorkerRecord(worker.id, host, pid, self.settings.engine_names, caps,
                                 (worker.current.id,) if worker.current else (), started, started)
                    for worker, _ in self.workers
                ])
            except Exception:  # the database is away: status shows the gap, work goes on
                log.warning("could not refresh the worker registry", exc_info=True)
            if stop.wait(self.settings.heartbeat_s):
                break
        try:
            self.db.workers.forget(ids)
        except Exception:
            log.warning("could not remove this process's workers from the registry", exc_info=True)

    def _spawn(self, target: Callable[[threading.Event], None], name: str) -> threading.Thread:
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
        self.db.close()

    def release_stuck(self) -> None:
        """Give back jobs whose render did not stop in time, so the process can exit losing nothing.

        The worker thread is a daemon and dies with the process; without this its job would stay
        `processing` until the lease expired and then count as a failed attempt.
        """
        for worker, thread in self.workers:
            job = worker.current
            if thread.is_alive() and job is not None and self.db.jobs.release(job.id, job.lease_owner or worker.id):
                log.warning("job %s did not stop within the grace period; released to the queue", job.id)
