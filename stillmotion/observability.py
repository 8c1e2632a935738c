"""Metrics (Prometheus) and structured logs (one JSON object a line, with request and job ids).

Counters and histograms live in one process-wide registry that the worker, the callback
dispatcher and the HTTP layer feed; job counts by state and the queue depth are read from the
database at scrape time, so every process sharing a database reports the same numbers.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
JOB_ID: ContextVar[str | None] = ContextVar("job_id", default=None)
# What a request's access line reports besides method, path and status: the key's name and the job
# it made or read. One dict per request, shared by the threads its handler runs in.
REQUEST_FACTS: ContextVar[dict[str, str] | None] = ContextVar("request_facts", default=None)
FIELDS = ("method", "path", "status", "ms", "key", "job_id", "reason")  # structured extras a line may carry


def note(**facts: str) -> None:
    """Add facts (key=..., job_id=...) to the current request's access line, if there is one."""
    current = REQUEST_FACTS.get()
    if current is not None:
        current.update(facts)

REGISTRY = CollectorRegistry()
HTTP_REQUESTS = Counter(
    "stillmotion_http_requests", "HTTP requests answered", ["method", "route", "status"], registry=REGISTRY
)
HTTP_SECONDS = Histogram(
    "stillmotion_http_request_seconds", "HTTP request latency", ["route"], registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
JOBS_SUBMITTED = Counter(
    "stillmotion_jobs_submitted", "Jobs created", ["model", "dialect"], registry=REGISTRY
)
JOBS_ENDED = Counter("stillmotion_jobs_ended", "Runs ended by this process", ["state"], registry=REGISTRY)
RUN_SECONDS = Histogram(
    "stillmotion_job_run_seconds", "Wall time of a job's run, claim to end", ["engine"], registry=REGISTRY,
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800),
)
ENGINE_FPS = Histogram(
    "stillmotion_engine_frames_per_second", "Frames per second of a finished render", ["engine"],
    registry=REGISTRY, buckets=(0.1, 0.5, 1, 2, 5, 10, 20, 40, 80, 160),
)
WEBHOOK_ATTEMPTS = Counter(
    "stillmotion_webhook_attempts", "Webhook/callback POSTs", ["kind", "outcome"], registry=REGISTRY
)
WEBHOOK_FAILURES = Counter(
    "stillmotion_webhook_failures", "Webhook/callback POSTs that failed (any reason)", ["kind"],
    registry=REGISTRY,
)
THREAD_RESTARTS = Counter(
    "stillmotion_thread_restarts", "Background threads restarted after stopping unexpectedly", ["kind"],
    registry=REGISTRY,
)


def observe_run(engine: str, state: str, seconds: float, fps: float | None) -> None:
    """Called by the worker when a run ends (succeeded, failed, canceled, released)."""
    JOBS_ENDED.labels(state).inc()
    RUN_SECONDS.labels(engine).observe(seconds)
    if fps:
        ENGINE_FPS.labels(engine).observe(fps)


class _QueueCollector:
    def __init__(self, stats: Callable[[], dict[str, int]]) -> None:
        self.stats = stats

    def collect(self) -> Any:
        stats = self.stats()
        jobs = GaugeMetricFamily("stillmotion_jobs", "Jobs in the database by state", labels=["state"])
        for state in ("queued", "processing", "succeeded", "failed", "canceled"):
            jobs.add_metric([state], stats.get(state, 0))
        yield jobs
        yield GaugeMetricFamily("stillmotion_queue_depth", "Jobs waiting to run", value=stats.get("depth", 0))


def render_metrics(stats: Callable[[], dict[str, int]]) -> bytes:
    """The exposition text: this process's counters plus the database's job gauges."""
    scrape = CollectorRegistry()
    scrape.register(_QueueCollector(stats))
    return generate_latest(REGISTRY) + generate_latest(scrape)


# -- logs ---------------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id / job_id when set."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update(_context(record))
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """One readable line: time, level, message, then the request and job ids when set."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%H:%M:%S", time.localtime(record.created))
        ids = " ".join(f"{k}={v}" for k, v in _context(record).items() if k in ("request_id", "job_id"))
        line = f"{ts} {record.levelname.lower():7} {record.getMessage()}" + (f"  [{ids}]" if ids else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _context(record: logging.LogRecord) -> dict[str, Any]:
    out: dict[str, Any] = {}
    request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
    job_id = getattr(record, "job_id", None) or JOB_ID.get()
    if request_id:
        out["request_id"] = request_id
    if job_id:
        out["job_id"] = job_id
    for name in FIELDS:
        if name != "job_id" and hasattr(record, name):
            out[name] = getattr(record, name)
    return out


def setup_logging(level: str, fmt: str = "auto") -> None:
    """Root logging to stderr: JSON lines (`json`), readable single lines (`text`), or `auto`:
    text on a terminal, JSON otherwise (a service manager's log). Uvicorn's own loggers go
    through the same handler, so no line is in another format."""
    if fmt == "auto":
        fmt = "text" if sys.stderr.isatty() else "json"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its plugin list at every start is noise
