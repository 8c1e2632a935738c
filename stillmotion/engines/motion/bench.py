"""Engine-only render speed of the motion engine on synthetic images.

    python -m stillmotion.engines.motion.bench [--width 1280 --height 720 --frames 120 --repeat 3]

Times the whole generator (image loading, per-clip preparation and every frame; no video
encoding) for each mode, for each camera move and for a start-end morph, and prints frames
per second (best of --repeat runs, so a busy machine disturbs the figures less).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from stillmotion.domain import GenerationSpec
from stillmotion.engines.base import RenderContext
from stillmotion.engines.motion.engine import MotionEngine
from stillmotion.engines.motion.modes import PROFILES

PROMPTS = {
    "zoom_in": "The camera zooms in",
    "zoom_out": "The camera pulls back",
    "pan_left": "The camera pans left",
    "tilt_up": "The camera tilts up",
    "default": "A quiet lake at dawn",
}


def _texture(width: int, height: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = (rng.random((height // 4, width // 4, 3)) * 255).astype(np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def _images(folder: Path, width: int, height: int) -> tuple[str, str, str]:
    """A photo-sized source, and a start/end pair: the scene zooms 10 % while a patch moves."""
    src = folder / "source.png"
    Image.fromarray(_texture(width * 5 // 4, height * 5 // 4, 1)).save(src)
    scene = _texture(width, height, 2)
    patch = _texture(height // 4, height // 4, 3)
    head, tail = scene.copy(), cv2.warpAffine(
        scene, cv2.getRotationMatrix2D((width / 2, height / 2), 2, 1.1), (width, height),
        flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101,
    )
    p = patch.shape[0]
    head[height // 2 : height // 2 + p, width // 8 : width // 8 + p] = patch
    tail[height // 3 : height // 3 + p, width // 2 : width // 2 + p] = patch
    paths = folder / "head.png", folder / "tail.png"
    for path, img in zip(paths, (head, tail)):
        Image.fromarray(img).save(path)
    return str(src), str(paths[0]), str(paths[1])


def _fps(spec: GenerationSpec, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        count = sum(1 for _ in MotionEngine().frames(spec, RenderContext()))
        best = min(best, time.perf_counter() - start)
    assert count == spec.num_frames
    return spec.num_frames / best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        src, head, tail = _images(Path(tmp), args.width, args.height)

        def spec(image: str, prompt: str, mode: str, image_tail: str | None = None) -> GenerationSpec:
            return GenerationSpec(
                model="bench", mode=mode, prompt=prompt, image=image, width=args.width, height=args.height,
                num_frames=args.frames, duration=max(1, args.frames // 24), seed=1, resolution="bench",
                image_tail=image_tail,
            )

        print(f"{args.width}x{args.height}, {args.frames} frames, best of {args.repeat}; real time = 24 fps")
        for mode in PROFILES:
            moves = {name: _fps(spec(src, prompt, mode), args.repeat) for name, prompt in PROMPTS.items()}
            morph = _fps(spec(head, "", mode, tail), args.repeat)
            cells = " ".join(f"{name} {fps:.0f}" for name, fps in moves.items())
            print(f"{mode:9s} camera fps: {cells} | morph fps: {morph:.1f}")


if __name__ == "__main__":
    main()
