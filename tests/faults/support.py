"""Fault-suite helpers: a tmpfs data dir, hostile loopback receivers, and the figures the suite
prints for docs/reliability.md (`FIGURE ...` lines, collected with `pytest -s`)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def figure(name: str, value: object) -> None:
    """One measured figure, printed so `pytest -s tests/faults | grep FIGURE` collects them."""
    print(f"\nFIGURE {name}: {value}", flush=True)


@contextmanager
def tmpfs(path: Path, size_mb: int) -> Iterator[Path]:
    """A small tmpfs at `path` (root only; otherwise the test is skipped with the reason)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("the disk-full case needs root to mount a small tmpfs")
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(path: Path, leave_bytes: int = 0) -> Path:
    """Fill the filesystem under `path`, leaving about `leave_bytes` free; the filler file."""
    filler = path / "filler"
    free = shutil.disk_usage(path).free - leave_bytes
    with open(filler, "wb") as f:
        chunk = b"\0" * (1 << 20)
        while free > 0:
            try:
                f.write(chunk[: min(len(chunk), free)])
                f.flush()
            except OSError:
                break
            free -= len(chunk)
    return filler


class Listener:
    """A raw TCP listener on loopback. `mode`: "tarpit" answers a status line and then one header
    byte every `drip_s` (never finishing within the test); "ok" answers 200 at once. Counts
    connections, and the webhook-id of each request."""

    def __init__(self, mode: str = "ok", drip_s: float = 1.0) -> None:
        self.mode = mode
        self.drip_s = drip_s
        self.connections = 0
        self.ids: Counter[str] = Counter()
        self.arrivals: list[float] = []
        self.closed = threading.Event()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            head = conn.recv(65536).decode("latin-1")
            for line in head.split("\r\n"):
                if line.lower().startswith("webhook-id:"):
                    self.ids[line.split(":", 1)[1].strip()] += 1
            self.arrivals.append(time.monotonic())
            if self.mode == "ok":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while not self.closed.wait(self.drip_s):
                conn.sendall(b"a")
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.closed.set()
        self.sock.close()
