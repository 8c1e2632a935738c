"""The SSRF guard: address classes, refusal without connecting, pinning, redirects, limits."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from stillmotion.errors import FieldInvalid, ImageDownloadFailure, PayloadTooLarge
from stillmotion.media import netguard
from stillmotion.media.netguard import check_url, fetch_url, is_public_address
from stillmotion.settings import Settings

from .conftest import LoopbackServer, image_bytes

PRIVATE_URLS = [
    "http://127.0.0.1/x.png",
    "http://localhost/x.png",
    "http://10.1.2.3/x.png",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/x.png",
    "http://[::ffff:127.0.0.1]/x.png",
    "http://0.0.0.0/x.png",
    "http://2130706433/x.png",  # 127.0.0.1 as one integer
    "https://192.168.1.1:8443/x.png",
]


@pytest.fixture
def guarded(tmp_path) -> Settings:
    return Settings(allow_private_urls=False, data_dir=tmp_path, download_timeout_s=2)


@pytest.fixture
def open_settings(tmp_path) -> Settings:
    return Settings(allow_private_urls=True, data_dir=tmp_path, download_timeout_s=1, max_redirects=3)


def recording_client(handler=None) -> tuple[httpx.AsyncClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if handler is None:
            return httpx.Response(200, content=b"ok")
        return handler(request)

    return httpx.AsyncClient(transport=httpx.MockTransport(respond)), seen


def fetch(url: str, settings: Settings, client: httpx.AsyncClient | None = None, max_bytes: int = 10_000_000) -> bytes:
    return asyncio.run(fetch_url(url, field="image", settings=settings, max_bytes=max_bytes, client=client))


@pytest.mark.parametrize(
    "ip",
    ["127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
     "224.0.0.1", "255.255.255.255", "240.0.0.1", "::1", "::", "fe80::1", "fe80::1%eth0", "fc00::1",
     "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "2002:7f00:1::", "2002:a00:1::", "64:ff9b::7f00:1",
     "2001:db8::1", "2001::1", "not-an-ip", ""],
)
def test_non_public_addresses(ip: str) -> None:
    assert not is_public_address(ip)


@pytest.mark.parametrize("ip", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::"])
def test_public_addresses(ip: str) -> None:
    assert is_public_address(ip)


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_private_urls_refused_without_connecting(url: str, guarded: Settings) -> None:
    client, seen = recording_client()
    with pytest.raises(ImageDownloadFailure) as err:
        fetch(url, guarded, client)
    assert err.value.field == "image" and err.value.message.startswith("image: refused URL")
    assert err.value.status == 400
    assert seen == []


def test_loopback_server_refused_when_guarded(server: LoopbackServer, guarded: Settings) -> None:
    server.body("/guarded.png", image_bytes(200, 200))
    before = len(server.requests)
    with pytest.raises(ImageDownloadFailure, match="non-public address 127.0.0.1"):
        fetch(server.url("/guarded.png"), guarded)
    assert len(server.requests) == before


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_check_url_refuses_private(url: str, guarded: Settings) -> None:
    with pytest.raises(FieldInvalid) as err:
        check_url(url, field="callback_url", settings=guarded)
    assert err.value.message.startswith("callback_url: ")


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "gopher://x", "example.com/x", "http://", ""]
)
def test_bad_schemes_refused(url: str, guarded: Settings) -> None:
    with pytest.raises(FieldInvalid) as err:
        check_url(url, field="callback_url", settings=guarded)
    assert "callback_url" in str(err.value)
    with pytest.raises(FieldInvalid) as err:
        fetch(url, guarded)
    assert "image" in str(err.value)


def test_check_url_accepts_public_and_allowed_private(guarded: Settings, open_settings: Settings) -> None:
    check_url("https://93.184.216.34/hook", field="callback_url", settings=guarded)
    check_url("http://127.0.0.1:9/hook", field="callback_url", settings=open_settings)


def test_connects_to_checked_ip_with_original_host(monkeypatch, guarded: Settings) -> None:
    """DNS rebinding: the request goes to the address that was checked, not a fresh lookup."""
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])  # a second lookup would rebind
    monkeypatch.setattr(netguard, "resolve_host", lambda host, port: next(answers))
    client, seen = recording_client()
    assert fetch("https://images.example:8443/a/b.png?x=1", guarded, client) == b"ok"
    (req,) = seen
    assert req.url.host == "93.184.216.34" and req.url.port == 8443 and req.url.path == "/a/b.png"
    assert req.url.query == b"x=1"
    assert req.headers["host"] == "images.example:8443"
    assert req.extensions["sni_hostname"] == "images.example"


def test_redirect_to_private_address_refused(monkeypatch, guarded: Settings) -> None:
    table = {"images.example": ["93.184.216.34"], "internal.example": ["10.0.0.7"]}
    monkeypatch.setattr(netguard, "resolve_host", lambda host, port: table.get(host) or [host])
    client, seen = recording_client(lambda r: httpx.Response(302, headers={"location": "http://internal.example/"}))
    with pytest.raises(ImageDownloadFailure, match="internal.example.*10.0.0.7"):
        fetch("http://images.example/a.png", guarded, client)
    assert len(seen) == 1
    client, seen = recording_client(lambda r: httpx.Response(301, headers={"location": "http://169.254.169.254/"}))
    with pytest.raises(ImageDownloadFailure, match="169.254.169.254"):
        fetch("http://images.example/a.png", guarded, client)
    assert len(seen) == 1


def test_redirect_relative_location_keeps_original_host(monkeypatch, guarded: Settings) -> None:
    monkeypatch.setattr(netguard, "resolve_host", lambda host, port: ["93.184.216.34"])

    def handler(r: httpx.Request) -> httpx.Response:
        if r.url.path == "/start":
            return httpx.Response(302, headers={"location": "/final"})
        return httpx.Response(200, content=r.headers["host"].encode())

    client, seen = recording_client(handler)
    assert fetch("http://images.example/start", guarded, client) == b"images.example"
    assert [r.url.path for r in seen] == ["/start", "/final"]


def test_unresolvable_host(monkeypatch, guarded: Settings) -> None:
    def fail(host, port):
        raise OSError("no such host")

    monkeypatch.setattr(netguard, "resolve_host", fail)
    with pytest.raises(ImageDownloadFailure, match="could not resolve host"):
        fetch("http://nowhere.invalid/x.png", guarded)
    with pytest.raises(FieldInvalid, match="could not resolve host"):
        check_url("http://nowhere.invalid/x", field="callback_url", settings=guarded)


# --- real HTTP on loopback (private URLs allowed) ---


def test_fetch_ok(server: LoopbackServer, open_settings: Settings) -> None:
    data = image_bytes(200, 200)
    server.body("/ok.png", data)
    assert fetch(server.url("/ok.png"), open_settings) == data


def test_http_error_status_named(server: LoopbackServer, open_settings: Settings) -> None:
    with pytest.raises(ImageDownloadFailure) as err:
        fetch(server.url("/missing.png"), open_settings)
    assert str(err.value) == "image: download failed: HTTP 404"
    assert err.value.reason == "ImageDownloadFailure"


def test_total_timeout(server: LoopbackServer, open_settings: Settings) -> None:
    server.stall("/stall.png")
    start = time.perf_counter()
    with pytest.raises(ImageDownloadFailure, match=r"image: download failed: timed out after 1 s"):
        fetch(server.url("/stall.png"), open_settings)
    assert time.perf_counter() - start < 2.5


def test_timeout_is_total_not_per_read(server: LoopbackServer, open_settings: Settings) -> None:
    server.trickle("/trickle.png", b"x" * 40, every_s=0.1)  # 4 s in all, 0.1 s per read
    start = time.perf_counter()
    with pytest.raises(ImageDownloadFailure, match="timed out after 1 s"):
        fetch(server.url("/trickle.png"), open_settings)
    assert time.perf_counter() - start < 2.5


def test_redirect_chain(server: LoopbackServer, open_settings: Settings) -> None:
    data = image_bytes(160, 160)
    server.body("/chain/0", data)
    for i in range(1, 6):
        server.redirect(f"/chain/{i}", f"/chain/{i - 1}")
    assert fetch(server.url("/chain/3"), open_settings) == data  # 3 redirects: allowed
    with pytest.raises(ImageDownloadFailure, match=r"too many redirects \(more than 3\)"):
        fetch(server.url("/chain/4"), open_settings)


def test_redirect_to_other_scheme_refused(server: LoopbackServer, open_settings: Settings) -> None:
    server.redirect("/to-file", "file:///etc/passwd")
    with pytest.raises(ImageDownloadFailure, match="unsupported URL scheme 'file'"):
        fetch(server.url("/to-file"), open_settings)


@pytest.mark.parametrize("length", [True, False])
def test_oversize_body(server: LoopbackServer, open_settings: Settings, length: bool) -> None:
    path = f"/big-{length}"
    server.body(path, b"\0" * 300_000, length=length)
    with pytest.raises(PayloadTooLarge) as err:
        fetch(server.url(path), open_settings, max_bytes=100_000)
    assert err.value.status == 413 and err.value.field == "image"
    assert "larger than the 100000 bytes limit" in str(err.value)


def test_body_at_limit_accepted(server: LoopbackServer, open_settings: Settings) -> None:
    server.body("/exact", b"\1" * 100_000, length=False)
    assert len(fetch(server.url("/exact"), open_settings, max_bytes=100_000)) == 100_000


def test_connection_refused(open_settings: Settings) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ImageDownloadFailure, match="image: download failed: could not connect"):
        fetch(f"http://127.0.0.1:{port}/x.png", open_settings)


def test_shared_client_is_reused_and_left_open(server: LoopbackServer, open_settings: Settings) -> None:
    data = image_bytes(150, 150)
    server.body("/shared.png", data)

    async def go() -> None:
        async with httpx.AsyncClient() as client:
            for _ in range(2):
                got = await fetch_url(server.url("/shared.png"), field="image", settings=open_settings,
                                      max_bytes=10**7, client=client)
                assert got == data
            assert not client.is_closed

    asyncio.run(go())
