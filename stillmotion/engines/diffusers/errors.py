"""Engine outcomes that give the job back to the queue instead of failing it.

Missing weights subclass Canceled, which the worker turns into a release (the job goes back to
the queue uncounted): a host that cannot serve a job must leave it to one that can. A hung model
process is an EngineCrashed: retried by the worker's policy, each try counted, so a job that
hangs every time ends visibly instead of looping.
"""

from __future__ import annotations

from stillmotion.errors import Canceled, EngineCrashed


class WeightsUnavailable(Canceled):
    """The route's weights are not on this host (or this host cannot run them)."""


class DeviceUnavailable(WeightsUnavailable):
    """No GPU as configured (gpu_device=auto on a host without CUDA)."""


class ModelProcessHung(EngineCrashed):
    """The model process said nothing for longer than the watchdog period and was killed."""
