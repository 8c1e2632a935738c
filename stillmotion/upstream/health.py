"""Per-provider health: Prometheus counters and histograms, in-flight gauges read from the
database at scrape time, and a circuit breaker that lets fallbacks skip a failing provider."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from stillmotion.observability import REGISTRY

log = logging.getLogger("stillmotion.upstream")

REQUESTS = Counter("stillmotion_upstream_requests", "HTTP calls to upstream providers",
                   ["provider", "action", "outcome"], registry=REGISTRY)
JOBS = Counter("stillmotion_upstream_jobs", "Upstream tasks ended, by outcome", ["provider", "outcome"],
               registry=REGISTRY)
LATENCY = Histogram("stillmotion_upstream_job_seconds", "Upstream create to mirrored result", ["provider"],
                    registry=REGISTRY, buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800))
REQUEST_SECONDS = Histogram("stillmotion_upstream_request_seconds", "One HTTP call to an upstream",
                            ["provider", "action"], registry=REGISTRY,
                            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))


class _InFlight:
    def __init__(self, counts: Callable[[], dict[tuple[str, str], int]]) -> None:
        self.counts = counts

    def collect(self) -> Any:
        gauge = GaugeMetricFamily("stillmotion_upstream_in_flight", "Upstream tasks not yet ended",
                                  labels=["provider", "state"])
        try:
            counts = self.counts()
        except Exception:  # a scrape must not fail because the database hiccuped
            counts = {}
        for (provider, state), n in sorted(counts.items()):
            gauge.add_metric([provider, state], n)
        yield gauge


_registered: list[_InFlight] = []


def watch_in_flight(counts: Callable[[], dict[tuple[str, str], int]]) -> None:
    """Expose the database's in-flight counts in /metrics (once per process)."""
    if _registered:
        _registered[0].counts = counts
        return
    collector = _InFlight(counts)
    REGISTRY.register(collector)
    _registered.append(collector)


class Breaker:
    """Consecutive failures per provider; at `threshold` the provider is open (skipped by
    fallbacks) for `cooldown_s`, logged once per opening. A success closes it."""

    def __init__(self, threshold: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold, self.cooldown_s, self.clock = threshold, cooldown_s, clock
        self._lock = threading.Lock()
        self._fails: dict[str, int] = {}
        self._open_until: dict[str, float] = {}

    def success(self, provider: str) -> None:
        with self._lock:
            self._fails[provider] = 0
            self._open_until.pop(provider, None)

    def failure(self, provider: str) -> None:
        with self._lock:
            n = self._fails.get(provider, 0) + 1
            self._fails[provider] = n
            if n >= self.threshold and provider not in self._open_until:
                self._open_until[provider] = self.clock() + self.cooldown_s
                log.warning("upstream %s failed %d times in a row; fallbacks skip it for %.0f s",
                            provider, n, self.cooldown_s)

    def is_open(self, provider: str) -> bool:
        with self._lock:
            until = self._open_until.get(provider)
            if until is None:
                return False
            if self.clock() >= until:  # half-open: the next call decides
                del self._open_until[provider]
                self._fails[provider] = self.threshold - 1
                return False
            return True


class RateLimit:
    """requests_per_minute per provider in this process: a sliding one-minute window."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._sent: dict[str, list[float]] = {}

    def wait_s(self, provider: str, per_minute: int | None) -> float:
        """0 and the call is counted, or the seconds to wait before trying again."""
        if not per_minute:
            return 0.0
        with self._lock:
            now = self.clock()
            sent = [t for t in self._sent.get(provider, []) if t > now - 60]
            if len(sent) >= per_minute:
                self._sent[provider] = sent
                return max(0.05, sent[0] + 60 - now)
            sent.append(now)
            self._sent[provider] = sent
            return 0.0
