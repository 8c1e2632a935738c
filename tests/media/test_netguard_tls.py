"""Pinned HTTPS: connecting to the checked IP must still verify the certificate for the URL's name."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from stillmotion.errors import ImageDownloadFailure
from stillmotion.media import netguard
from stillmotion.media.netguard import fetch_url
from stillmotion.settings import Settings

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")


def make_cert(dir: Path, name: str) -> tuple[Path, Path]:
    cert, key = dir / f"{name}.crt", dir / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", str(key),
         "-out", str(cert), "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}"],
        check=True, capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_server(tmp_path):
    cert, key = make_cert(tmp_path, "images.example")
    seen: dict[str, list[str]] = {"sni": [], "host": []}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            seen["host"].append(self.headers["host"])
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    ctx.sni_callback = lambda sock, name, _ctx: seen["sni"].append(name)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], cert, seen, tmp_path
    httpd.shutdown()
    httpd.server_close()


def pretend_public(monkeypatch) -> None:
    """Let the guard treat the loopback server as a public host named images.example."""
    monkeypatch.setattr(netguard, "resolve_host", lambda host, port: ["127.0.0.1"])
    monkeypatch.setattr(netguard, "is_public_address", lambda ip: True)


def fetch_tls(url: str, cafile: Path, tmp_path: Path) -> bytes:
    settings = Settings(allow_private_urls=False, data_dir=tmp_path, download_timeout_s=5)

    async def go() -> bytes:
        async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(cafile))) as client:
            return await fetch_url(url, field="image", settings=settings, max_bytes=1000, client=client)

    return asyncio.run(go())


def test_pinned_https_sends_sni_and_verifies_name(monkeypatch, tls_server) -> None:
    port, cert, seen, tmp_path = tls_server
    pretend_public(monkeypatch)
    assert fetch_tls(f"https://images.example:{port}/x.png", cert, tmp_path) == b"hello"
    assert seen["sni"] == ["images.example"]
    assert seen["host"] == [f"images.example:{port}"]


def test_pinned_https_rejects_certificate_for_another_name(monkeypatch, tls_server) -> None:
    port, cert, seen, tmp_path = tls_server
    pretend_public(monkeypatch)
    with pytest.raises(ImageDownloadFailure, match="image: download failed.*CERTIFICATE_VERIFY_FAILED"):
        fetch_tls(f"https://evil.example:{port}/x.png", cert, tmp_path)
    assert seen["host"] == []
