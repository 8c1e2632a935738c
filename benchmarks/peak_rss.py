"""Peak RSS of a real `stillmotion serve` for the worst requests (docs/reliability.md):
a 300 MB chunked body, a 64-megapixel PNG submitted and rendered, four 64-megapixel 16-bit
PNGs submitted at once. Each case runs on a fresh server; the figure is the server's VmHWM
(peak resident set) after the case minus its RSS when idle, read from /proc.

    PYTHONPATH=$PWD python -m benchmarks.peak_rss
"""

from __future__ import annotations

import base64
import io
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import requests
from PIL import Image

from tests.helpers import Service, auth, wait_v1


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def png(arr: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG", compress_level=9)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def big_rgb() -> str:
    y, x = np.mgrid[0:8000, 0:8000]
    return png(np.stack([(x // 32) % 256, (y // 32) % 256, ((x + y) // 64) % 256], -1).astype(np.uint8))


def big_grey16(seed: int) -> str:
    row = (np.arange(8000, dtype=np.uint16) * 8 + seed)
    return png(np.broadcast_to(row, (8000, 8000)).copy())


def body(image: str, seed: int = 1) -> dict:
    return {"model": "vidu-q3-turbo-i2v", "input": {"images": [image], "prompt": "zoom in", "duration": 1,
                                                    "resolution": "540p", "audio": False, "seed": seed}}


def chunked_300mb(svc: Service) -> str:
    def gen():
        yield b'{"model": "vidu-q3-turbo-i2v", "input": {"prompt": "'
        for _ in range(300):
            yield b"a" * (1 << 20)
        yield b'"}}'

    r = requests.post(f"{svc.base}/v1/jobs", data=gen(), headers={**auth(), "content-type": "application/json"},
                      timeout=120)
    return f"HTTP {r.status_code}"


def one_64mp_png(svc: Service) -> str:
    r = requests.post(f"{svc.base}/v1/jobs", json=body(big_rgb()), headers=auth(), timeout=300)
    job = wait_v1(svc.base, r.json()["id"], timeout=300)
    return f"HTTP {r.status_code}, job {job['status']}"


def four_16bit_pngs(svc: Service) -> str:
    images = [big_grey16(n) for n in range(4)]
    codes: list[int] = []
    ids: list[str] = []

    def send(n: int) -> None:
        r = requests.post(f"{svc.base}/v1/jobs", json=body(images[n], n), headers=auth(), timeout=300)
        codes.append(r.status_code)
        if r.status_code == 201:
            ids.append(r.json()["id"])

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ends = [wait_v1(svc.base, i, timeout=600)["status"] for i in ids]
    return f"HTTP {sorted(codes)}, jobs {ends}"


def main() -> None:
    for name, case in (("300 MB chunked body", chunked_300mb), ("64 MP PNG submit + render", one_64mp_png),
                       ("four 64 MP 16-bit PNGs at once", four_16bit_pngs)):
        with tempfile.TemporaryDirectory() as tmp:
            svc = Service(Path(tmp) / "data", "--workers", "1", STILLMOTION_RENDER_THREADS="1")
            try:
                time.sleep(1)
                idle = status_kb(svc.proc.pid, "VmRSS")
                outcome = case(svc)
                peak = status_kb(svc.proc.pid, "VmHWM")
                print(f"{name}: {outcome}; idle {idle // 1024} MB, peak {peak // 1024} MB, "
                      f"+{(peak - idle) // 1024} MB", flush=True)
            finally:
                svc.stop()


if __name__ == "__main__":
    main()
