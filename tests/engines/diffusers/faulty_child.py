"""A model-process entry point that injects faults by prompt, for the runner's failure tests.

It is the real child (runner.child_main) with pipeline.run_plan wrapped: the prompt "oom"
raises torch's out-of-memory error, "cuda-fault" a CUDA error, "hang" sleeps past any watchdog.
Everything else runs for real. Importable in the spawned child because the tests' directory
is on sys.path there too (spawn passes the parent's sys.path).
"""

from __future__ import annotations

import time
from typing import Any


def child_main(conn: Any, cancel: Any) -> None:
    from stillmotion.engines.diffusers import pipeline
    from stillmotion.engines.diffusers.runner import child_main as real_child_main

    real_run_plan = pipeline.run_plan

    def run_plan(pipe: Any, plan: Any, on_step: Any, canceled: Any) -> Any:
        import torch

        if plan.prompt == "oom":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 40.00 GiB")
        if plan.prompt == "cuda-fault":
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        if plan.prompt == "hang":
            time.sleep(3600)
        return real_run_plan(pipe, plan, on_step, canceled)

    pipeline.run_plan = run_plan
    real_child_main(conn, cancel)
