"""What this host's diffusers worker can serve: for capability-aware claims (no torch here).

A worker advertises the weights it holds (route weight paths present on this host, whose
kind fits its GPU memory) and the weights its GPU holds warm now. The store claims only jobs
whose route is in `weights`, and among the claimable ones prefers those on `warm` weights; a
job no worker advertises stays queued instead of failing on a host without its weights.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from stillmotion.engines.diffusers.kinds import get_kind
from stillmotion.engines.diffusers.models import weights_present
from stillmotion.engines.diffusers.plan import RuntimeOptions

_PROBE = """
import json, torch
out = {"cuda": torch.cuda.is_available(), "gpus": []}
if out["cuda"]:
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        out["gpus"].append({"name": p.name, "memory_gib": round(p.total_memory / 2**30, 1),
                            "capability": [p.major, p.minor]})
print(json.dumps(out))
"""


@dataclass(frozen=True)
class GpuInfo:
    cuda: bool
    gpus: tuple[dict[str, Any], ...] = ()


def probe_gpus(timeout_s: float = 120.0) -> GpuInfo:
    """CUDA and GPU memory from a short subprocess, so the worker process never imports torch."""
    try:
        out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=timeout_s,
                             check=True)
        data = json.loads(out.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return GpuInfo(cuda=False)
    return GpuInfo(cuda=bool(data["cuda"]), gpus=tuple(data["gpus"]))


@dataclass(frozen=True)
class Capability:
    """What one worker process can serve on its GPU."""

    device: str  # the GPU the engine runs on ("cuda:0", "cpu")
    gpu_memory_gib: float | None  # None: no GPU (or device=cpu)
    weights: frozenset[str] = frozenset()  # route weight paths this host can serve
    warm: str | None = None  # the weights loaded in the GPU's model process now
    refused: dict[str, str] = field(default_factory=dict)  # weights path -> why not (for logs and docs)

    def serves(self, route: dict[str, Any]) -> bool:
        """Whether a job with this route (`Job.route`) may be claimed here."""
        return str(route.get("path")) in self.weights

    def prefers(self, route: dict[str, Any]) -> bool:
        return self.warm is not None and str(route.get("path")) == self.warm

    def as_dict(self) -> dict[str, Any]:
        return {"device": self.device, "gpu_memory_gib": self.gpu_memory_gib, "weights": sorted(self.weights),
                "warm": self.warm}


def _gpu_for(device: str, info: GpuInfo) -> tuple[str, float | None, str | None]:
    """(device slot, its memory in GiB, why it cannot run GPU work or None)."""
    if device == "cpu":
        return "cpu", None, None  # tests and explicit CPU hosts: every present route, slowly
    if not info.cuda or not info.gpus:
        return "cuda:0", None, f"no CUDA GPU on this host (gpu_device={device})"
    index = int(device.split(":")[1]) if device.startswith("cuda:") else 0
    if index >= len(info.gpus):
        return device, None, f"{device} does not exist ({len(info.gpus)} GPUs)"
    return f"cuda:{index}", float(info.gpus[index]["memory_gib"]), None


def host_capability(routes: Iterable[Any], options: RuntimeOptions, *, gpu: GpuInfo | None = None,
                    probe: Callable[[], GpuInfo] = probe_gpus, warm: str | None = None) -> Capability:
    """The weights among `routes` (Route objects or route dicts) this host can serve.

    A route is served when its weights directory is here and its kind fits the GPU's memory
    (or the worker offloads to the CPU). Without a usable GPU nothing is served, so a CPU host
    configured with the diffusers engine claims no GPU job.
    """
    device, memory, problem = _gpu_for(options.device, gpu if gpu is not None or options.device == "cpu"
                                       else probe())
    served: set[str] = set()
    refused: dict[str, str] = {}
    for route in routes:
        data = route if isinstance(route, dict) else vars(route)
        if data.get("engine", "diffusers") != "diffusers" or not data.get("path") or not data.get("kind"):
            continue
        path = str(data["path"])
        if problem:
            refused[path] = problem
        elif not weights_present(path):
            refused[path] = "weights not on this host"
        elif memory is not None and options.offload == "none" and memory < _needs_gib(data["kind"], options):
            refused[path] = f"needs ~{_needs_gib(data['kind'], options):g} GiB, {device} has {memory:g}"
        else:
            served.add(path)
    return Capability(device=device, gpu_memory_gib=memory, weights=frozenset(served - set(refused)),
                      warm=warm if warm in served else None, refused=refused)


def _needs_gib(kind: str, options: RuntimeOptions) -> float:
    need = get_kind(kind).min_gpu_gib
    return need * 0.6 if options.fp8 else need  # FP8 halves the transformer, which is most of it


def worker_capability(routes: Iterable[Any], options: RuntimeOptions, **kwargs: Any) -> Capability:
    """host_capability with the weights this process's shared model process holds warm now."""
    from stillmotion.engines.diffusers.runner import device_slot, shared_runners

    slot = device_slot(options.device)
    warm = next((r.warm_key.path for r in shared_runners()
                 if r.warm_key is not None and device_slot(r.warm_key.options.device) == slot), None)
    return host_capability(routes, options, warm=warm, **kwargs)


def advertiser(routes: Callable[[], Iterable[Any]], options: RuntimeOptions) -> Callable[[], Capability]:
    """What a diffusers worker can serve, re-read before each claim: the GPU is probed once (a
    subprocess), the routes (the file may change) and the warm weights each time."""
    gpu = None if options.device == "cpu" else probe_gpus()
    return lambda: worker_capability(routes(), options, gpu=gpu)
