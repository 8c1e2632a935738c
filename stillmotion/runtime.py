"""Builds the service's parts from Settings, once, and runs its background threads.

Shared by `stillmotion serve` (API + in-process workers) and `stillmotion worker` (workers
only), so both processes see the same database, data dir and signing secret. A supervisor
thread restarts any background thread (worker, webhook sender, housekeeping) that stops
while the process is not stopping, and counts it (`stillmotion_thread_restarts`). Everything that
reads configuration (the routes file, prices, the off-peak window) is read here, at start, so a
bad file stops the start instead of failing requests later.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from stillmotion import observability
from stillmotion.auth import Authenticator
from stillmotion.callbacks import CallbackDispatcher
from stillmotion.catalog import Catalog
from stillmotion.housekeeping import Housekeeper
from stillmotion.jobs import Capability, ClaimRules, Database, WorkerRecord
from stillmotion.media.imaging import set_decode_budget
from stillmotion.routing import Router
from stillmotion.service import JobService
from stillmotion.settings import Settings
from stillmotion.storage import load_secret, open_store
from stillmotion.worker import Worker, policy_from, worker_id

log = logging.getLogger("stillmotion")
SUPERVISE_S = 1.0  # how often the supervisor looks at the background threads


@dataclass
class Slot:
    """One supervised background thread and how to start a fresh one in its place."""

    name: str
    kind: str  # worker | callbacks | housekeeping
    start: Callable[[], tuple[object, Callable[[threading.Event], None]]]
    owner: object = None
    thread: threading.Thread | None = None
    restarts: int = 0


def open_database(settings: Settings) -> Database:
    from stillmotion.store import open_database as open_sql

    return open_sql(settings)


class Runtime:
    def __init__(self, settings: Settings, db: Database | None = None) -> None:
        """`db`: a ready database (tests pass `MemoryDatabase`); default: the settings' SQL one."""
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog.load(settings.price_file)  # a bad price file stops the start
        self.router = Router.from_settings(settings)  # a bad routes file stops the start
        ClaimRules(settings.off_peak_window)  # a bad window stops the start
        self.db = db or open_database(settings)
        set_decode_budget(settings.decode_concurrency)
        secret = load_secret(settings)
        if not settings.secret and self.db.backend == "postgresql":
            log.warning("STILLMOTION_SECRET is not set: this host signs result links with a secret of its own "
                        "data dir; several hosts need one shared secret (docs/deploy.md)")
        self.artifacts = open_store(settings, secret)  # a bad storage URL stops the start
        self.auth = Authenticator(self.db.accounts, settings, secret)
        self.service = JobService(settings, self.db, self.artifacts, self.router, self.catalog)
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.slots: list[Slot] = []
        self.workers: list[tuple[Worker, threading.Thread]] = []  # the current worker of each slot
        self._supervisor: threading.Thread | None = None
        self._worker_capability: Callable[[], Capability] | None = None
        self.make_worker: Callable[[], Worker] = self._new_worker  # tests swap in their own

    def start_background(self, workers: int, *, dispatcher: bool = True) -> None:
        """Start `workers` worker threads, and (optionally) the callback sender and housekeeping,
        under a supervisor that restarts any of them that stops."""
        self._worker_capability = self._capability() if workers else None
        for n in range(workers):
            self._add(Slot(f"worker-{n + 1}", "worker", self._worker_slot))
        if workers:
            self._spawn(lambda stop: self._presence(stop, self._worker_capability), "presence")
        if dispatcher:
            def callbacks() -> tuple[object, Callable[[threading.Event], None]]:
                sender = CallbackDispatcher(
                    self.settings, self.db, self.artifacts, worker_id("cb"), self.auth.webhook_secret
                )
                return sender, sender.run

            def housekeeping() -> tuple[object, Callable[[threading.Event], None]]:
                keeper = Housekeeper(self.settings, self.db, self.artifacts, policy_from(self.settings))
                return keeper, keeper.run

            self._add(Slot("callbacks", "callbacks", callbacks))
            self._add(Slot("housekeeping", "housekeeping", housekeeping))

            def upstream() -> tuple[object, Callable[[threading.Event], None]]:
                from stillmotion.upstream.poller import Poller  # upstream jobs wait here, not in a worker

                poller = Poller(self.settings, self.db, self.artifacts, self.catalog)
                return poller, poller.run

            self._add(Slot("upstream", "upstream", upstream))
        if self.slots and self._supervisor is None:
            self._supervisor = threading.Thread(target=self._supervise, name="supervisor", daemon=True)
            self._supervisor.start()

    def _new_worker(self) -> Worker:
        return Worker(self.settings, self.db, self.artifacts, engines=self.settings.engine_names,
                      capability=self._worker_capability)

    def _worker_slot(self) -> tuple[object, Callable[[threading.Event], None]]:
        worker = self.make_worker()
        return worker, worker.run

    def _add(self, slot: Slot) -> None:
        self.slots.append(slot)
        self._launch(slot)

    def _launch(self, slot: Slot) -> None:
        old = slot.owner
        slot.owner, target = slot.start()
        label = f"worker:{slot.owner.id}" if slot.kind == "worker" else slot.name  # type: ignore[attr-defined]
        slot.thread = self._spawn(_logged(target, label), label)
        if slot.kind == "worker":
            self.workers[:] = [(w, t) for w, t in self.workers if w is not old] + [(slot.owner, slot.thread)]  # type: ignore[list-item]

    def _supervise(self) -> None:
        """Restart what stopped unexpectedly; a worker's unfinished job goes back to the queue."""
        while not self.stop.wait(SUPERVISE_S):
            for slot in self.slots:
                if slot.thread is None or slot.thread.is_alive() or self.stop.is_set():
                    continue
                slot.restarts += 1
                observability.THREAD_RESTARTS.labels(slot.kind).inc()
                log.error("background thread %s stopped unexpectedly; restarting it (restart %d)",
                          slot.thread.name, slot.restarts)
                if slot.kind == "worker":
                    self._give_back(slot.owner)  # type: ignore[arg-type]
                try:
                    self._launch(slot)
                except Exception:  # e.g. an engine that cannot be built now: try again next round
                    log.exception("restarting %s failed", slot.name)

    def _give_back(self, worker: Worker) -> None:
        job = worker.current
        if job is None:
            return
        try:
            if self.db.jobs.release(job.id, job.lease_owner or worker.id):  # the claim's fencing token
                log.warning("job %s went back to the queue: its worker thread stopped", job.id)
        except Exception:  # the lease runs out instead and the reaper returns it
            log.exception("releasing job %s of a stopped worker failed", job.id)

    def background_health(self) -> dict[str, object]:
        """Live threads per kind, restarts, and the workers idle now (for /readyz)."""
        live: dict[str, int] = {}
        for slot in self.slots:
            if slot.thread is not None and slot.thread.is_alive():
                live[slot.kind] = live.get(slot.kind, 0) + 1
        workers = [s for s in self.slots if s.kind == "worker"]
        idle = sum(1 for s in workers if s.thread is not None and s.thread.is_alive() and s.owner.current is None)  # type: ignore[attr-defined]
        return {"slots": {s.kind for s in self.slots}, "live": live, "workers": len(workers), "idle": idle,
                "restarts": sum(s.restarts for s in self.slots), "engines": self.settings.engine_names,
                "supervised": self._supervisor is not None and self._supervisor.is_alive()}

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
            self.db.workers.forget(ids + [worker.id for worker, _ in self.workers if worker.id not in ids])
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


def _logged(target: Callable[[threading.Event], None], name: str) -> Callable[[threading.Event], None]:
    """`target` with anything that ends it logged (the supervisor then restarts it)."""

    def run(stop: threading.Event) -> None:
        try:
            target(stop)
        except BaseException:  # noqa: BLE001 - even SystemExit from an engine ends only this thread
            log.exception("background thread %s died", name)
        if not stop.is_set():
            log.error("background thread %s returned while the process is running", name)

    return run
