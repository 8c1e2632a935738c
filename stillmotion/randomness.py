"""Random ids and seeds from a buffered OS source.

`os.urandom` is one system call per use; in sandboxed or loaded hosts that call alone cost
~0.1 ms, paid several times per request (request id, job id, seed). This reads the same
kernel randomness 4 KiB at a time and hands out slices, so ids stay unpredictable.
"""

from __future__ import annotations

import os
import threading
import uuid

_CHUNK = 4096


class _Pool:
    def __init__(self) -> None:
        self._buf = b""
        self._pos = 0
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def take(self, n: int) -> bytes:
        with self._lock:
            if self._pid != os.getpid():  # a forked child must not repeat its parent's bytes
                self._buf, self._pos, self._pid = b"", 0, os.getpid()
            if self._pos + n > len(self._buf):
                self._buf, self._pos = os.urandom(max(_CHUNK, n)), 0
            out = self._buf[self._pos : self._pos + n]
            self._pos += n
            return out


_POOL = _Pool()


def random_bytes(n: int) -> bytes:
    return _POOL.take(n)


def uuid4() -> uuid.UUID:
    """As `uuid.uuid4()`, from the buffered source."""
    return uuid.UUID(bytes=random_bytes(16), version=4)


def randbelow(n: int) -> int:
    """A uniform integer in [0, n) (rejection sampling, as `secrets.randbelow`)."""
    if n <= 0:
        raise ValueError("n must be positive")
    k = n.bit_length()
    nbytes = (k + 7) // 8
    while True:
        r = int.from_bytes(random_bytes(nbytes), "big") >> (nbytes * 8 - k)
        if r < n:
            return r


def hex_id(nbytes: int = 8) -> str:
    return random_bytes(nbytes).hex()
