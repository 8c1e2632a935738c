"""The operator's off-peak window: when off-peak jobs may start.

Without a window, off-peak jobs may start whenever no normal job waits (the claim orders them
last). With `off_peak_window = "HH:MM-HH:MM"` (UTC; it may wrap past midnight) they start only
inside it, still behind normal jobs.
"""

from __future__ import annotations

from datetime import UTC, datetime, time


def parse_window(text: str) -> tuple[time, time]:
    """"22:00-06:00" -> (22:00, 06:00); ValueError naming the setting otherwise."""
    try:
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise ValueError(f"off_peak_window: expected 'HH:MM-HH:MM' (UTC), got {text!r}") from None
    return start, end


def off_peak_open(window: str | None, now: datetime | None = None) -> bool:
    if not window:
        return True
    start, end = parse_window(window)
    at = (now or datetime.now(UTC)).astimezone(UTC).time()
    if start <= end:
        return start <= at < end
    return at >= start or at < end  # wraps past midnight
