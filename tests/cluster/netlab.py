"""A small network lab for the cluster test: hosts as network namespaces on one bridge, a
private PostgreSQL the test may restart, and a TCP forwarder it can switch off.

Everything here is made and removed by the test (names carry a random suffix, so parallel runs
never meet); it needs root and iproute2's `ip`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

PG_BIN = Path("/usr/lib/postgresql")


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=30)


def why_not() -> str | None:
    """Why the lab cannot run here; None when it can."""
    if os.geteuid() != 0:
        return "the cluster test makes network namespaces and needs root"
    if shutil.which("ip") is None:
        return "the cluster test needs iproute2's `ip` command"
    if shutil.which("unshare") is None or shutil.which("runuser") is None:
        return "the cluster test needs util-linux's `unshare` and `runuser`"
    if pg_bin() is None:
        return "the cluster test runs its own PostgreSQL and needs its server binaries (initdb, pg_ctl)"
    try:
        name = f"smprobe{secrets.token_hex(3)}"
        sh("ip", "netns", "add", name)
        sh("ip", "netns", "del", name)
    except (subprocess.CalledProcessError, OSError) as exc:
        return f"cannot make network namespaces here: {exc}"
    return None


def pg_bin() -> Path | None:
    found = sorted(PG_BIN.glob("*/bin/initdb"))
    return found[-1].parent if found else None


class Net:
    """A bridge in the root namespace (the "switch", with address .1: where the database and the
    object store listen) and one namespace per host, each on its own veth link."""

    def __init__(self) -> None:
        self.tag = secrets.token_hex(2)
        used = subprocess.run(["ip", "-br", "addr"], capture_output=True, text=True, check=True).stdout
        third = next(n for n in (int(self.tag, 16) % 200 + i for i in range(50)) if f"10.213.{n}." not in used)
        self.prefix = f"10.213.{third}"
        self.gateway = f"{self.prefix}.1"
        self.bridge = f"smbr{self.tag}"
        self.hosts: dict[str, tuple[str, str, str]] = {}  # name -> (namespace, root-side link, address)
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")

    def add_host(self, name: str) -> str:
        """A namespace on the bridge; its address."""
        index = len(self.hosts) + 2
        ns, outside, inside = f"sm{name}{self.tag}", f"smo{name}{self.tag}", f"smi{name}{self.tag}"
        address = f"{self.prefix}.{index}"
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
        sh("ip", "link", "set", inside, "netns", ns)
        sh("ip", "link", "set", outside, "master", self.bridge)
        sh("ip", "link", "set", outside, "up")
        sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{address}/24", "dev", inside)
        sh("ip", "netns", "exec", ns, "ip", "link", "set", inside, "up")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        self.hosts[name] = (ns, outside, address)
        return address

    def cut(self, name: str) -> None:
        sh("ip", "link", "set", self.hosts[name][1], "down")

    def restore(self, name: str) -> None:
        sh("ip", "link", "set", self.hosts[name][1], "up")

    def close(self) -> None:
        for ns, outside, _ in self.hosts.values():
            subprocess.run(["ip", "link", "del", outside], capture_output=True, check=False)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, check=False)


class HostProcess:
    """A stillmotion process inside a host's namespace (`ip netns exec` execs in place, so the
    child's pid is the service's pid: SIGKILL reaches it)."""

    def __init__(self, ns: str, hostname: str, args: list[str], env: dict[str, str], log: Path, cwd: Path) -> None:
        self.log_path = log
        self._log: IO[str] = open(log, "a")  # noqa: SIM115 - open for the process's life
        # its own UTS namespace too, so each host reports its own hostname (`stillmotion status`)
        cmd = ["ip", "netns", "exec", ns, "unshare", "--uts", "--", "sh", "-c", 'hostname "$0" && exec "$@"',
               hostname, sys.executable, "-m", "stillmotion.cli", *args]
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=cwd)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class PrivatePostgres:
    """A PostgreSQL of the test's own (initdb in a temporary dir), listening on the lab's gateway
    and loopback, so restarting it mid-run disturbs nobody else's tests."""

    def __init__(self, listen: str) -> None:
        self.bin = pg_bin()
        assert self.bin is not None
        self.dir = Path(tempfile.mkdtemp(prefix="sm-cluster-pg-"))
        shutil.chown(self.dir, "postgres")
        self.data = self.dir / "data"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.listen = listen
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                          "--no-sync")
        with open(self.data / "pg_hba.conf", "a") as hba:
            hba.write("host all all 10.213.0.0/16 trust\n")
        self.start()

    def _as_postgres(self, *cmd: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *cmd], check=True, capture_output=True, timeout=60,
                       cwd=self.dir)

    def _ctl(self, action: str, *extra: str) -> None:
        opts = (f"-c listen_addresses=127.0.0.1,{self.listen} -p {self.port} -k {self.dir} -c fsync=off "
                "-c max_connections=300 -c synchronous_commit=off")
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"), "-w",
                          "-t", "30", "-o", opts, action, *extra)

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        """A real restart: every connection is closed, the server is gone for a moment."""
        self._ctl("restart", "-m", "fast")

    def url(self, host: str) -> str:
        return f"postgresql+psycopg://postgres@{host}:{self.port}/postgres?connect_timeout=3"

    def close(self) -> None:
        try:
            self._ctl("stop", "-m", "immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


class Forwarder:
    """TCP from `listen` to `target`, in a thread; `down()` closes the port and every open
    connection (clients get refused and reset, as when a service is stopped), `up()` reopens it."""

    def __init__(self, listen: tuple[str, int], target: tuple[str, int]) -> None:
        self.listen, self.target = listen, target
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._server: socket.socket | None = None
        self.up()

    def up(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(self.listen)
        if self.listen[1] == 0:
            self.listen = server.getsockname()
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def down(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            try:
                server.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            server.close()
        with self._lock:
            conns, self._conns = self._conns, set()
        for conn in conns:
            try:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                conn.close()
            except OSError:
                pass

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            with self._lock:
                self._conns.discard(src)
                self._conns.discard(dst)
            src.close()

    def close(self) -> None:
        self.down()


def wait_until(condition, timeout: float, what: str, every: float = 0.2):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:.0f} s for {what}")
        time.sleep(every)
