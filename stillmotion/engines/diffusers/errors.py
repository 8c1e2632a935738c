"""Engine outcomes that give the job back to the queue instead of failing it.

Both subclass Canceled, which the worker already turns into a release (the job goes back to
the queue uncounted) when the user did not cancel it: a host that cannot serve a job must
leave it to one that can, and a hung model process is this host's fault, not the job's.
"""

from __future__ import annotations

from stillmotion.errors import Canceled


class WeightsUnavailable(Canceled):
    """The route's weights are not on this host (or this host cannot run them)."""


class DeviceUnavailable(WeightsUnavailable):
    """No GPU as configured (gpu_device=auto on a host without CUDA)."""


class ModelProcessHung(Canceled):
    """The model process said nothing for longer than the watchdog period and was killed."""
