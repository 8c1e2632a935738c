"""A loopback webhook receiver that keeps raw bodies and headers (for signature checks) and
answers each path with a scripted list of statuses, then 200."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


class Receiver:
    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.script: dict[str, list[int]] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                statuses = outer.script.get(self.path, [])
                status = statuses.pop(0) if statuses else 200
                outer.hits.append(Hit(self.path, {k.lower(): v for k, v in self.headers.items()}, body, status))
                self.send_response(status)
                if status in (301, 302, 307):
                    self.send_header("location", outer.url("/redirected"))
                self.send_header("content-length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def on(self, path: str) -> list[Hit]:
        return [h for h in self.hits if h.path == path]

    def wait(self, path: str, n: int, timeout: float = 30) -> list[Hit]:
        deadline = time.monotonic() + timeout
        while len(self.on(path)) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.on(path)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
