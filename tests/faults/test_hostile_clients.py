"""F9/F10/F5 on a real server: render-time URLs (`audio`, `wm_url`) aimed at private addresses
refused at submit with nothing charged and no connection made; a per-key cap on live event
streams; headers and bodies that trickle are cut; a chunked body stops at the size limit."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.faults.support import Listener, figure
from tests.helpers import OTHER_KEY, Service, auth, data_uri, png_bytes, textured_image

IMAGE = data_uri(png_bytes(textured_image(320, 240)))


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    """A server that refuses private URLs (the default), with short read deadlines and a small
    stream cap so the test sees them."""
    svc = Service(tmp_path_factory.mktemp("strict") / "data", "--workers", "1",
                  STILLMOTION_ALLOW_PRIVATE_URLS="false", STILLMOTION_HEADER_TIMEOUT_S="1.5",
                  STILLMOTION_BODY_TIMEOUT_S="2", STILLMOTION_MAX_STREAMS_PER_KEY="3")
    yield svc
    svc.stop()


def private_targets(port: int) -> list[str]:
    return [f"http://127.0.0.1:{port}/a", f"http://localhost:{port}/a", f"http://[::1]:{port}/a",
            f"http://127.1:{port}/a", f"http://2130706433:{port}/a", f"http://0.0.0.0:{port}/a",
            f"http://[::ffff:127.0.0.1]:{port}/a", "http://10.0.0.1/a", "http://169.254.169.254/latest/meta-data",
            "http://192.168.1.1/a", "http://172.16.0.1/a", "http://100.64.0.1/a", "http://[fd00::1]/a",
            f"https://127.0.0.1:{port}/a.mp3"]


def test_render_time_urls_are_checked_at_submit(strict):
    listener = Listener("ok")
    tried = refused = 0
    try:
        for url in private_targets(listener.port):
            for field, extra in (("audio", {"audio": url}), ("wm_url", {"watermark": True, "wm_url": url})):
                body = {"images": [IMAGE], "prompt": "zoom out", "duration": 1, "resolution": "540p", **extra}
                r = requests.post(f"{strict.base}/v3/async/vidu-q3-pro-i2v", json=body, headers=auth(), timeout=30)
                tried += 1
                if r.status_code == 400 and field in r.json()["message"]:
                    refused += 1
        usage = requests.get(f"{strict.base}/v1/usage", headers=auth(), timeout=10).json()
        figure("SSRF attempts at submit refused / tried", f"{refused} / {tried}")
        figure("connections to refused SSRF targets", listener.connections)
        assert refused == tried and listener.connections == 0
        assert usage["ledger"] == [] and requests.get(f"{strict.base}/v1/jobs", headers=auth(),
                                                      timeout=10).json()["data"] == []
    finally:
        listener.close()


def test_live_event_streams_are_capped_per_key(strict):
    job = requests.post(f"{strict.base}/v1/jobs", headers=auth(), timeout=30, json={
        "model": "vidu-q3-turbo-i2v", "input": {"images": [IMAGE], "prompt": "pan", "duration": 16,
                                                "resolution": "1080p", "audio": False}}).json()["id"]
    url = f"{strict.base}/v1/jobs/{job}/events"
    held = [requests.get(url, headers=auth(), stream=True, timeout=10) for _ in range(3)]
    try:
        assert [r.status_code for r in held] == [200, 200, 200]
        over = requests.get(url, headers=auth(), stream=True, timeout=10)
        assert over.status_code == 429 and int(over.headers["retry-after"]) > 0, over.text
        assert over.json()["error"]["code"] == "RateLimited"
        other = requests.get(f"{strict.base}/v1/jobs/{job}/events", headers=auth(OTHER_KEY), stream=True, timeout=10)
        assert other.status_code == 404  # another key's cap is its own (and the job is not theirs)
        held.pop().close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            again = requests.get(url, headers=auth(), stream=True, timeout=10)
            if again.status_code == 200:
                held.append(again)
                break
            time.sleep(0.1)
        else:
            pytest.fail("a closed stream's slot was not given back")
    finally:
        for r in held:
            r.close()
        requests.post(f"{strict.base}/v1/jobs/{job}/cancel", headers=auth(), timeout=10)


def test_headers_that_trickle_are_cut(strict):
    sock = socket.create_connection(("127.0.0.1", strict.port))
    sock.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n")
    started = time.monotonic()
    closed_after = None
    try:
        for _ in range(20):
            sock.sendall(b"X")  # one header byte every 0.25 s, never finishing
            time.sleep(0.25)
    except OSError:
        closed_after = time.monotonic() - started
    if closed_after is None:
        sock.settimeout(2)
        try:
            closed_after = time.monotonic() - started if sock.recv(1) == b"" else None
        except (socket.timeout, OSError):
            closed_after = None
    sock.close()
    assert closed_after is not None and closed_after < 4.5, closed_after
    figure("trickling headers cut after (s)", f"{closed_after:.1f}")
    assert requests.get(f"{strict.base}/livez", timeout=5).status_code == 200


def test_a_body_that_trickles_is_refused(strict):
    sock = socket.create_connection(("127.0.0.1", strict.port))
    sock.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test-key-one\r\n"
                 b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
    started = time.monotonic()
    answer = b""

    def trickle() -> None:
        try:
            for _ in range(40):
                sock.sendall(b" ")
                time.sleep(0.2)
        except OSError:
            pass

    threading.Thread(target=trickle, daemon=True).start()
    sock.settimeout(8)
    try:
        while b"}" not in answer:  # the status line and the JSON body may come in two reads
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    except socket.timeout:
        pass
    took = time.monotonic() - started
    sock.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b'"field":"body"' in answer.replace(b" ", b"") and took < 4, took


def test_a_huge_chunked_body_stops_at_the_limit(strict):
    def vm_hwm_kb() -> int:
        status = Path(f"/proc/{strict.proc.pid}/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1])

    before = vm_hwm_kb()

    def gen():
        yield b'{"model": "vidu-q3-turbo-i2v", "input": {"prompt": "'
        for _ in range(300):
            yield b"a" * (1 << 20)
        yield b'"}}'

    try:
        r = requests.post(f"{strict.base}/v1/jobs", data=gen(), timeout=60,
                          headers={**auth(), "content-type": "application/json"})
        status = r.status_code
    except requests.ConnectionError:  # the server answered and closed while we were still sending
        status = 413
    grew_mb = (vm_hwm_kb() - before) / 1024
    figure("300 MB chunked body: status, server peak RSS growth (MB)", f"{status}, {grew_mb:.0f}")
    assert status == 413 and grew_mb < 160
