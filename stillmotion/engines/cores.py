"""The CPU cores this process may use (its affinity mask, not the machine's count)."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """Cores the scheduler lets this process run on; a container or `taskset` may allow fewer than the machine has."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
