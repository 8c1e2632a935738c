"""Which x264 settings to encode engine clips with: CPU, bytes and PSNR of each, on the same frames.

    python -m benchmarks.encoders [--size 1920x1080] [--frames 48] [--scene city]

Renders one pro clip of a synthetic scene (the evaluation scenes: landscape, city, still_life)
with the motion engine into memory, converts it to yuv420p once, then encodes those frames with
each candidate setting (one at a time, CPU seconds of this process) and decodes the result to
measure PSNR against the encoder's input. The figures behind the encoder presets in
stillmotion/media/video.py (docs/decisions.md).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from PIL import Image

from stillmotion.domain import GenerationSpec
from stillmotion.engines.base import RenderContext
from stillmotion.engines.motion.engine import MotionEngine
from stillmotion.evaluation.scenes import SCENES
from stillmotion.media.video import rgb_to_yuv_frame

CANDIDATES: list[dict[str, str]] = [
    {"preset": "superfast", "crf": "19", "x264-params": "cabac=0:b-adapt=0:weightp=0"},
    {"preset": "superfast", "crf": "19", "x264-params": "cabac=0"},
    {"preset": "superfast", "crf": "19"},
    {"preset": "veryfast", "crf": "18", "x264-params": "mbtree=0"},
    {"preset": "superfast", "crf": "19", "x264-params": "aq-mode=0"},
    {"preset": "superfast", "crf": "19", "tune": "fastdecode"},
    {"preset": "superfast", "crf": "20"},
    {"preset": "ultrafast", "crf": "23", "x264-params": "8x8dct=1"},
]


def yuv_frames(scene: str, width: int, height: int, frames: int, folder: Path) -> list[av.VideoFrame]:
    """The engine's pro clip of `scene`, as the yuv420p frames VideoWriter would hand x264."""
    image = folder / "scene.png"
    Image.fromarray(SCENES[scene](width, height, 0)).save(image)
    spec = GenerationSpec(model="bench", mode="pro", prompt="The camera slowly pushes in while clouds drift over the lake",
                          image=str(image), width=width, height=height, num_frames=frames, duration=max(1, frames // 24),
                          seed=1, resolution="bench")
    out = []
    for rgb in MotionEngine().frames(spec, RenderContext()):
        out.append(rgb_to_yuv_frame(rgb))
    return out


def encode(frames: list[av.VideoFrame], options: dict[str, str], path: Path, threads: int = 1) -> tuple[float, float, int, float]:
    """(CPU s, wall s, bytes, PSNR dB of the decoded planes against the input planes); `threads`:
    x264's (1, as beside the motion engine on 2 cores; 0: x264's choice)."""
    width, height = frames[0].width, frames[0].height
    cpu0, wall0 = time.process_time(), time.perf_counter()
    with av.open(str(path), "w") as box:
        stream = box.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {**options, "profile": "high"}
        stream.codec_context.thread_count = threads
        for i, frame in enumerate(frames):
            frame.pts = i
            for packet in stream.encode(frame):
                box.mux(packet)
        for packet in stream.encode(None):
            box.mux(packet)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    with av.open(str(path)) as box:
        decoded = [f.to_ndarray() for f in box.decode(video=0)]
    mse = float(np.mean([np.mean((d.astype(np.float64) - f.to_ndarray()) ** 2) for d, f in zip(decoded, frames)]))
    psnr = 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)
    return cpu, wall, path.stat().st_size, psnr


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--scene", default="city", choices=sorted(SCENES))
    parser.add_argument("--threads", type=int, default=1, help="x264 threads (render_clip: the cores the engine leaves)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        frames = yuv_frames(args.scene, width, height, args.frames, folder)
        print(f"{args.scene} {width}x{height}, {args.frames} pro frames; CPU of the encoder alone, PSNR of yuv planes")
        base = None
        for options in CANDIDATES:
            cpu, wall, size, psnr = encode(frames, options, folder / "clip.mp4", args.threads)
            base = base or (cpu, size, psnr)
            label = " ".join(f"{k}={v}" for k, v in options.items())
            print(f"  {label:58s} cpu {cpu:6.2f} s ({cpu / base[0]:4.2f}x)  wall {wall:5.2f} s  "
                  f"{size / 1e6:6.2f} MB ({size / base[1]:4.2f}x)  PSNR {psnr:5.2f} dB ({psnr - base[2]:+.2f})")


if __name__ == "__main__":
    main()
