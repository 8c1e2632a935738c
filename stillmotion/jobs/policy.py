"""What happens to a job that did not finish, and when queued jobs may start: pure rules.

`RetryPolicy.decide` turns (failure code, attempts so far) into a `RetryDecision`; the worker
and the reaper carry it out. An engine crash or a lost worker is worth another try; a bad
input or a generation the engine refuses is not. The off-peak window and the per-key running
cap are claim rules and live here too, so the queue's behaviour is read in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Protocol

from .states import FailureCode

RETRYABLE = frozenset({FailureCode.ENGINE_CRASHED, FailureCode.STORAGE_FAILURE})
LEASE_LOST = "the job's worker stopped responding"


@dataclass(frozen=True)
class RetryDecision:
    retry: bool
    delay_s: float = 0.0
    code: FailureCode = FailureCode.GENERATION_FAILURE
    message: str = ""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    backoff_s: float = 2.0  # first retry delay; doubles per attempt
    max_backoff_s: float = 60.0
    retryable: frozenset[FailureCode] = RETRYABLE

    def decide(self, code: FailureCode, attempts: int, message: str = "") -> RetryDecision:
        """`attempts`: runs started so far (the claim counts each one)."""
        if code not in self.retryable:
            return RetryDecision(False, 0.0, code, message)
        if attempts >= self.max_attempts:
            note = f"{message}; gave up after {attempts} attempts" if message else f"{attempts} attempts failed"
            return RetryDecision(False, 0.0, FailureCode.ATTEMPTS_EXHAUSTED, note)
        delay = min(self.max_backoff_s, self.backoff_s * 2 ** max(0, attempts - 1))
        return RetryDecision(True, delay, code, message)

    def after_lease_lost(self, attempts: int) -> RetryDecision:
        """The reaper's rule: a worker that vanished mid-run is retried at once while attempts last."""
        if attempts >= self.max_attempts:
            return RetryDecision(False, 0.0, FailureCode.ATTEMPTS_EXHAUSTED, f"{LEASE_LOST} {attempts} times")
        return RetryDecision(True, 0.0, FailureCode.ENGINE_CRASHED, LEASE_LOST)


class Capability(Protocol):
    """What a worker's host can serve now (engines/diffusers/capability.py makes one)."""

    @property
    def weights(self) -> frozenset[str]: ...

    @property
    def warm(self) -> str | None: ...


def parse_window(text: str) -> tuple[time, time]:
    """"22:00-06:00" -> (22:00, 06:00); ValueError naming the setting otherwise."""
    try:
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise ValueError(f"off_peak_window: expected 'HH:MM-HH:MM' (UTC), got {text!r}") from None
    return start, end


@dataclass(frozen=True)
class ClaimRules:
    """Which queued jobs a claim may take now.

    Off-peak jobs sort last and, with a window ("HH:MM-HH:MM" UTC, may wrap midnight), start
    only inside it. `default_cap`: running jobs per key for keys without their own
    `max_running` (0: no cap); owners at their cap wait while others pass them by.
    `weights`: the route weights (paths) this claimer can serve; jobs routed to others stay
    for a host that has them (None: no restriction; jobs without a route are always taken).
    `warm`: the weights loaded now, whose jobs go first."""

    off_peak_window: str | None = None
    default_cap: int = 0
    weights: frozenset[str] | None = None
    warm: str | None = None

    def __post_init__(self) -> None:
        if self.off_peak_window:
            parse_window(self.off_peak_window)  # a bad window stops the start

    def off_peak_open(self, now: datetime | None = None) -> bool:
        if not self.off_peak_window:
            return True
        start, end = parse_window(self.off_peak_window)
        at = (now or datetime.now(UTC)).astimezone(UTC).time()
        if start <= end:
            return start <= at < end
        return at >= start or at < end
