"""Fixtures for the media tests: synthetic images and a loopback HTTP server with known routes."""

from __future__ import annotations

import base64
import io
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

Route = Callable[[BaseHTTPRequestHandler], None]


def smooth_image(width: int, height: int) -> np.ndarray:
    """A smooth colour gradient with a soft blob: realistic for PSNR, distinct per pixel."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    blob = np.exp(-(((x - width * 0.6) / (width / 5)) ** 2 + ((y - height * 0.4) / (height / 5)) ** 2))
    img = np.stack(
        [x / width * 180 + 40 + blob * 30, y / height * 180 + 40, (x + y) / (width + height) * 150 + 50 - blob * 40],
        -1,
    )
    return img.clip(0, 255).astype(np.uint8)


def encode(arr: np.ndarray, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt, **kw)
    return buf.getvalue()


def image_bytes(width: int, height: int, fmt: str = "PNG") -> bytes:
    return encode(smooth_image(width, height), fmt)


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny, valid-looking PNG whose IHDR claims `width` x `height` (a decompression bomb header)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


class LoopbackServer:
    """ThreadingHTTPServer on 127.0.0.1: GET routes by path, every request path recorded."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.stop = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                outer.requests.append((self.path, dict(self.headers)))
                route = outer.routes.get(self.path.split("?")[0])
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                route(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def body(self, path: str, data: bytes, content_type: str = "image/png", length: bool = True) -> None:
        def route(h: BaseHTTPRequestHandler) -> None:
            h.send_response(200)
            h.send_header("Content-Type", content_type)
            if length:
                h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)

        self.routes[path] = route

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        def route(h: BaseHTTPRequestHandler) -> None:
            h.send_response(status)
            h.send_header("Location", location)
            h.send_header("Content-Length", "0")
            h.end_headers()

        self.routes[path] = route

    def stall(self, path: str) -> None:
        """Send headers and a few bytes, then never finish (until the server stops)."""

        def route(h: BaseHTTPRequestHandler) -> None:
            h.send_response(200)
            h.send_header("Content-Length", "100000")
            h.end_headers()
            h.wfile.write(b"\x89PNG")
            h.wfile.flush()
            self.stop.wait(30)

        self.routes[path] = route

    def trickle(self, path: str, data: bytes, every_s: float) -> None:
        """Send the body a byte at a time, each read well within any per-read timeout."""

        def route(h: BaseHTTPRequestHandler) -> None:
            h.send_response(200)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            for i in range(len(data)):
                if self.stop.wait(every_s):
                    return
                h.wfile.write(data[i : i + 1])
                h.wfile.flush()

        self.routes[path] = route


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    srv = LoopbackServer()
    srv.thread.start()
    yield srv
    srv.stop.set()
    srv.httpd.shutdown()
    srv.httpd.server_close()
