"""allocator.keep_freed_memory: freed blocks are reused without new page faults, and an
operator's own MALLOC_* settings are left alone. Each case runs in a fresh interpreter, since
the setting is process-wide and applied once."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import json, resource
import numpy as np
from stillmotion.engines.allocator import keep_freed_memory

def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

applied = keep_freed_memory()
block = np.ones(40 << 20, np.uint8)  # 40 MB: above glibc's largest automatic mmap threshold (32 MB)
del block
before = faults()
block = np.ones(40 << 20, np.uint8)
print(json.dumps({"applied": applied, "again": keep_freed_memory(), "faults": faults() - before}))
"""


def _probe(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, env={**clean, **env})
    return json.loads(done.stdout.strip().splitlines()[-1])


def _on_glibc() -> bool:
    try:
        return sys.platform.startswith("linux") and (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (ValueError, OSError, AttributeError):  # no such confstr name: not glibc
        return False


glibc = pytest.mark.skipif(not _on_glibc(), reason="glibc only")


@glibc
def test_freed_block_is_reused_without_page_faults():
    tuned = _probe()
    assert tuned["applied"] and tuned["again"]
    assert tuned["faults"] < 10, tuned  # the freed 40 MB came back from the heap, already mapped


@glibc
def test_operator_malloc_settings_are_left_alone():
    own = _probe(MALLOC_ARENA_MAX="2")
    assert own["applied"] is False and own["again"] is False
    # glibc's own behaviour then: the 40 MB block went back to the kernel and is faulted in again
    # (at least 20 faults even with 2 MB transparent huge pages)
    assert own["faults"] >= 15, own
