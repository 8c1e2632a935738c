"""glibc's allocator told to keep freed frame memory, so a clip's frames stop paying page faults.

A clip allocates a few megabytes per frame (the engine's output, the encoder's I420 planes) in
worker threads and frees them on the encoding thread. With glibc's defaults much of that memory
goes back to the kernel between frames (heap trimming, large blocks served by mmap) and the next
frame faults fresh pages in: 11,000-24,000 page faults a 5 s 720p clip, 700-2,200 with the
settings below. Measured alternately in child processes (docs/decisions.md): pro 0.89x the wall
time, pro-fast 0.95x, turbo no gain.

Applied once per process by render_clip (and the benchmarks), only on glibc and only when the
operator has set no ``MALLOC_*`` variable of their own. The cost: freed memory stays with the
process: its RSS stays near its peak instead of shrinking between jobs, and a peak can be higher
(the 5 s 720p start-end morph's went from 401 to 609 MB: each thread's arena keeps its own).
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3

MIB = 1 << 20
SETTINGS = {
    M_MMAP_THRESHOLD: 64 * MIB,  # blocks below this come from the heap (a 1080p RGBA frame is 8 MB)
    M_TRIM_THRESHOLD: 1024 * MIB,  # free memory kept at the heap's top before any goes back
    M_TOP_PAD: 64 * MIB,  # each heap growth asks for this much more, so growth is rare
}


@functools.cache  # once per process (two racing first calls would both set the same values: harmless)
def keep_freed_memory() -> bool:
    """Apply SETTINGS through mallopt; True when this process's allocator now uses them."""
    if not sys.platform.startswith("linux") or any(k.startswith("MALLOC_") for k in os.environ):
        return False  # another allocator, or an operator who tuned glibc themselves
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt  # musl has one too, but it accepts nothing (returns 0): False below
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in SETTINGS.items())
