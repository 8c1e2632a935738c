"""How much audio adds to a render (figures for notes, never a timed test).

    python -m benchmarks.audio [--seconds 5] [--resolution 720p] [--mode pro] [--repeat 3]

Renders the same 5 s 720p clip through the motion engine without audio, with speech and
effects ("all"), and with background music from a loopback URL plus is_rec; the variants take
turns so a load change on a shared machine hits them alike. Prints each variant's best and
spread, the soundtrack's own time, and the ratio of best times against the silent render.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

PROMPT = ('Rain falls on a city street at night. A woman turns and says "We should get inside before '
          'the storm." The camera quickly pushes in.')
SIZES = {"540p": (960, 540), "720p": (1280, 720), "1080p": (1920, 1080)}


def _image(path: Path, width: int, height: int) -> None:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width]
    img = np.stack([x * 255 // width, y * 255 // height, (x ^ y) & 255], -1).astype(np.int16)
    img += rng.integers(-20, 20, img.shape)
    Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(path)


def _music_wav(seconds: float) -> bytes:
    """A 100 BPM drum-ish loop with a bass line, as 16-bit WAV (what a user might upload)."""
    import io
    import wave

    rate = 44_100
    t = np.arange(int(seconds * rate)) / rate
    beat = (t % 0.6) < 0.6
    kick = np.sin(2 * np.pi * 60 * t) * np.exp(-(t % 0.6) * 25) * beat
    bass = 0.2 * np.sin(2 * np.pi * np.where((t % 2.4) < 1.2, 55, 73.4) * t)
    mono = (0.6 * kick + bass).astype(np.float32)
    pcm = (np.stack([mono, mono], 1) * 20000).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def _serve(data: bytes) -> tuple[str, object]:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "audio/wav")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}/music.wav", httpd


def main() -> None:
    from stillmotion.domain import AudioSpec, GenerationSpec
    from stillmotion.engines import get_engine
    from stillmotion.render import render_clip
    from stillmotion.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--resolution", default="720p", choices=sorted(SIZES))
    parser.add_argument("--mode", default="pro")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    width, height = SIZES[args.resolution]
    url, httpd = _serve(_music_wav(30))
    settings = Settings(allow_private_urls=True)
    variants = {"none": AudioSpec(kind="none"), "all": AudioSpec(kind="all"),
                "music+is_rec": AudioSpec(kind="music", music_url=url, is_rec=True)}
    times: dict[str, list[float]] = {k: [] for k in variants}
    audio_s: dict[str, list[float]] = {k: [] for k in variants}
    engine = get_engine("motion")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        _image(tmp / "in.png", width, height)
        for _ in range(args.repeat):
            for name, audio in variants.items():
                spec = GenerationSpec(model="bench", mode=args.mode, prompt=PROMPT, image=str(tmp / "in.png"),
                                      width=width, height=height, num_frames=args.seconds * 24,
                                      duration=args.seconds, seed=1, resolution=args.resolution, audio=audio)
                t0 = time.perf_counter()
                out = render_clip(engine, spec, tmp / f"{name}.mp4", tmp / f"{name}.jpg", settings=settings)
                times[name].append(time.perf_counter() - t0)
                audio_s[name].append(out.metadata.get("audio", {}).get("audio_s", 0.0))
    httpd.shutdown()  # type: ignore[attr-defined]
    base = min(times["none"])
    print(f"{args.seconds} s {args.resolution} {args.mode} render, {args.repeat} runs each (variants interleaved)")
    for name in variants:
        t = times[name]
        spread = max(t) - min(t)
        print(f"  {name:<13} best {min(t):6.2f} s  median {statistics.median(t):6.2f} s  spread {spread:5.2f} s"
              f"  soundtrack {min(audio_s[name]):.3f} s  ratio {min(t) / base:.3f}")
    worst = max(min(times[n]) / base for n in variants)
    own = max(min(audio_s[n]) for n in variants)
    print(f"audio overhead (worst variant, best of runs): {100 * (worst - 1):+.1f}%  (target <= +20%)")
    print(f"soundtrack work alone (worst variant): {own:.3f} s = {100 * own / base:.1f}% of the silent render")


if __name__ == "__main__":
    main()
