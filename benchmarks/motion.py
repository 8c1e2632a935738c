"""Render speed and fidelity of the motion engine on a natural-looking synthetic scene.

    python -m benchmarks.motion [--width 1280 --height 720 --frames 120 --repeat 3] [--clips]

Engine alone: times the whole generator (image loading, per-clip preparation and every frame;
no video encoding) for each mode, for each camera move and for a start-end morph, and prints
frames per second (best of --repeat runs, so a busy machine disturbs the figures less).

``--against CHECKOUT`` runs the same clip cases alternately on another checkout (say, a
``git worktree`` of an earlier commit) and on this code, and prints before/after ratios.

``--clips`` measures issue 3's goals through ``stillmotion.render.render_clip`` (engine +
H.264, engine prefetched in a thread), each case in its own child process so that its peak
memory (ru_maxrss) is its own: the real-time factor of 5 s 720p clips in every mode, 16 s
1080p pro, a 5 s 720p start-end morph, frame-0 PSNR against the fitted input and start-end
last-frame PSNR against image_tail (both after encoding), and a table of goal vs measured.
The test image is a synthetic landscape (sky gradient, soft hills, a lake, trees, a sun and
moderate texture), so PSNR figures mean what they would on a photograph, unlike random noise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
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

REPO = Path(__file__).resolve().parents[1]  # the source checkout this benchmark lives in

PROMPTS = {
    "zoom_in": "The camera zooms in",
    "zoom_out": "The camera pulls back",
    "pan_left": "The camera pans left",
    "tilt_up": "The camera tilts up",
    "default": "A quiet lake at dawn",
}


def landscape(width: int, height: int, seed: int = 1, shift: float = 0.0) -> np.ndarray:
    """A natural-looking test scene: smooth gradients, soft shapes and moderate texture.

    `shift` slides the camera sideways (fraction of the width) and the sun along the sky,
    which gives a related start/end pair.
    """
    rng = np.random.default_rng(seed)
    ys = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    xs = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :] + shift
    img = np.empty((height, width, 3), np.float32)
    sky = np.array([70, 130, 215], np.float32) * (1 - ys[..., None]) + np.array([200, 220, 240], np.float32) * ys[..., None]
    img[:] = sky
    noise = rng.random((height // 24 + 2, width // 24 + 2)).astype(np.float32)
    clouds = cv2.resize(noise, (width + width // 12, height), interpolation=cv2.INTER_CUBIC)
    off = int(shift * width) % max(1, width // 12)
    clouds = clouds[:, off : off + width]
    img += (np.clip(clouds - 0.55, 0, 1) * 160 * np.clip((0.5 - ys) / 0.15, 0, 1))[..., None]
    sun = np.exp(-(((xs - 0.75 + 0.8 * shift) * width / height) ** 2 + (ys - 0.18) ** 2) / 0.004)
    img += sun[..., None] * np.array([60, 40, 0], np.float32)
    hills = 0.45 + 0.06 * np.sin(xs * 7.0 + 1.0) + 0.03 * np.sin(xs * 19.0)
    hill = ys > hills  # (h, w)
    shade = 1.3 - 0.6 * np.broadcast_to(ys, (height, width))
    img[hill] = np.array([60, 110, 55], np.float32) * shade[hill][:, None]
    lake = np.broadcast_to(ys > 0.7, (height, width))
    ripple = 10 * np.sin(np.broadcast_to(ys, (height, width)) * 300.0 + np.broadcast_to(xs, (height, width)) * 20.0)
    img[lake] = np.array([40, 90, 150], np.float32) + ripple[lake][:, None] * 0.5
    for _ in range(9):  # trees on the shore: dark green ellipses with a trunk
        cx = rng.uniform(-0.1, 1.1) - shift * 1.3
        cy, r = rng.uniform(0.55, 0.66), rng.uniform(0.025, 0.05)
        centre = (int(cx * width), int(cy * height))
        cv2.ellipse(img, centre, (int(r * height * 0.8), int(r * height * 1.6)), 0, 0, 360,
                    tuple(float(v) for v in rng.uniform([20, 70, 20], [50, 110, 45])), -1, cv2.LINE_AA)
    texture = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), 1.2) * 10
    img += texture[..., None]
    img = cv2.GaussianBlur(img, (0, 0), 0.7)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def _images(folder: Path, width: int, height: int) -> tuple[str, str, str]:
    """A photo-sized source (a bit larger than the frame), and a start/end pair: the camera slides
    sideways while the sun moves."""
    src = folder / "source.png"
    Image.fromarray(landscape(width * 5 // 4, height * 5 // 4, 1)).save(src)
    paths = folder / "head.png", folder / "tail.png"
    for path, shift in zip(paths, (0.0, 0.06)):
        Image.fromarray(landscape(width, height, 2, shift)).save(path)
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
    parser.add_argument("--clips", action="store_true", help="also the render_clip goals (5 s 720p, 16 s 1080p)")
    parser.add_argument("--against", metavar="CHECKOUT", help="only the clip cases, alternated with another checkout's code")
    args = parser.parse_args(argv)
    if args.against:
        against(args.against, args.repeat)
        return
    if args.clips:
        clips(args.repeat)
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


PROMPT = "The camera slowly pushes in while clouds drift over the lake"
GOALS = {  # issue 3, on 2 cores
    "rt_720p_pro": 1.5, "rt_720p_turbo": 4.0, "wall_1080p16_pro_s": 16.0, "rss_1080p16_pro_mb": 2048.0,
    "psnr_frame0_db": 35.0, "psnr_last_start_end_db": 35.0,
}


def _clip(image: str, prompt: str, mode: str, w: int, h: int, seconds: int, out: Path, tail: str | None = None) -> float:
    from stillmotion.render import render_clip

    spec = GenerationSpec(model="bench", mode=mode, prompt=prompt, image=image, width=w, height=h,
                          num_frames=seconds * 24, duration=seconds, seed=1, resolution="bench", image_tail=tail)
    start = time.perf_counter()
    render_clip(MotionEngine(), spec, out / "clip.mp4", out / "cover.jpg")
    return time.perf_counter() - start


def _first_last(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import av

    first = last = None
    with av.open(str(path)) as box:
        for f in box.decode(video=0):
            last = f.to_ndarray(format="rgb24")
            if first is None:
                first = last
    assert first is not None and last is not None
    return first, last


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)  # all threads of this process
    return r.ru_utime + r.ru_stime


def child(case: dict) -> dict:
    """One case, in this (child) process: a small warm-up render (a long-lived worker has its
    libraries initialised), the engine alone (no encoding), then the timed clip through
    render_clip, then PSNR of its first and last frames. CPU seconds are reported beside wall
    seconds: on a shared machine they measure the work far more steadily than the wall clock."""
    import resource

    from stillmotion.media.imaging import fit_to_frame, load_rgb

    out = Path(case["out"])
    _clip(case["image"], case["prompt"], case["mode"], 128, 72, 1, out, case.get("tail"))
    spec = GenerationSpec(model="bench", mode=case["mode"], prompt=case["prompt"], image=case["image"], width=case["w"],
                          height=case["h"], num_frames=case["seconds"] * 24, duration=case["seconds"], seed=1,
                          resolution="bench", image_tail=case.get("tail"))
    cpu0, t0 = _cpu(), time.perf_counter()
    for _ in MotionEngine().frames(spec, RenderContext()):
        pass
    engine_wall, engine_cpu = time.perf_counter() - t0, _cpu() - cpu0
    cpu0 = _cpu()
    wall = _clip(case["image"], case["prompt"], case["mode"], case["w"], case["h"], case["seconds"], out, case.get("tail"))
    cpu = _cpu() - cpu0
    first, last = _first_last(out / "clip.mp4")
    size = (case["w"], case["h"])
    return {
        "wall": wall, "cpu": cpu, "engine_wall": engine_wall, "engine_cpu": engine_cpu,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "psnr_first": _psnr(first, fit_to_frame(load_rgb(case["image"]), *size)),
        "psnr_last": _psnr(last, fit_to_frame(load_rgb(case["tail"]), *size)) if case.get("tail") else None,
    }


def _cases(src: str, head: str, tail: str) -> list[tuple[str, dict]]:
    """The clip cases of issue 3's goals: 5 s 720p in every mode, 16 s 1080p pro, a start-end morph."""
    cases = [(f"5 s 720p {m}", dict(image=src, prompt=PROMPT, mode=m, w=1280, h=720, seconds=5))
             for m in ("pro", "pro-fast", "turbo")]
    cases.append(("16 s 1080p pro", dict(image=src, prompt=PROMPT, mode="pro", w=1920, h=1080, seconds=16)))
    cases.append(("5 s 720p start-end pro", dict(image=head, tail=tail, prompt="", mode="pro", w=1280, h=720, seconds=5)))
    return cases


def _run_child(case: dict, checkout: str | None = None) -> dict:
    """One case in a child process, on this code or (`checkout`) on another checkout's."""
    # The child is this file, importing `stillmotion` from `checkout` (its folder comes first on the
    # path) or from here: the same measuring code on both sides of a before/after comparison.
    root = str(Path(checkout).resolve()) if checkout else str(REPO)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, str(REPO)])}
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(case)],
                          capture_output=True, text=True, check=True, cwd=root, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


PHOTOS = REPO / "tests" / "engines" / "photos"
QUALITY_CASES = [  # (photo in PHOTOS, prompt): the moves whose layer cards used to tear
    ("astronaut.jpg", "The camera pulls back to reveal the astronaut"),
    ("coffee.jpg", "The camera orbits the espresso cup"),
    ("rocket.jpg", "The camera trucks left past the rocket"),
    ("chelsea.jpg", "The camera pushes in on the cat"),
]


def _artifacts(clip: Path, image: str) -> float:
    """This code's artifact score of a clip (whichever checkout made it), against its input."""
    from stillmotion.evaluation.artifacts import artifact_score
    from stillmotion.media.imaging import load_rgb, scale_to_cover
    from stillmotion.media.video import probe, read_frames

    info = probe(clip)
    reference, origin = scale_to_cover(load_rgb(image), info.width, info.height)
    return artifact_score(read_frames(clip), reference=reference, origin=origin).score


def against(checkout: str, repeat: int) -> None:
    """Before/after in one run: each clip case alternately on `checkout` (another checkout of
    this project, e.g. `git worktree add /tmp/before REV`) and on this code, `repeat` times;
    best wall and CPU of each and their ratios. On a machine whose speed drifts (a shared VM),
    the ratio is the figure to trust. Then the quality cases (real photos, moves with parallax)
    once per side: artifact score (this code's, on both sides' clips) and frame-0 PSNR."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        src, head, tail = _images(folder, 1280, 720)
        cases = _cases(src, head, tail)
        print(f"before = {checkout}, after = this code; best of {repeat}, alternated")
        for name, case in cases:
            runs: dict[str, list[dict]] = {"before": [], "after": []}
            scores: dict[str, float] = {}
            for _ in range(repeat):
                for side, tree in (("before", checkout), ("after", None)):
                    out = folder / side
                    out.mkdir(exist_ok=True)
                    runs[side].append(_run_child({**case, "out": str(out)}, tree))
                    if side not in scores and "tail" not in case:
                        scores[side] = _artifacts(out / "clip.mp4", case["image"])
            b, a = ({k: min(r[k] for r in runs[side]) for k in ("wall", "cpu", "engine_cpu")} for side in ("before", "after"))
            psnr = {side: min(r["psnr_first"] for r in runs[side]) for side in runs}
            art = f"  artifacts {scores['before']:.4f} -> {scores['after']:.4f}" if scores else ""
            print(f"  {name:24s} wall {b['wall']:6.2f} -> {a['wall']:6.2f} s ({a['wall'] / b['wall']:.2f}x;"
                  f" {case['seconds'] / a['wall']:.2f}x real time after)  cpu {b['cpu']:5.1f} -> {a['cpu']:5.1f} s"
                  f" ({a['cpu'] / b['cpu']:.2f}x)  engine cpu {b['engine_cpu']:5.1f} -> {a['engine_cpu']:5.1f} s"
                  f"  frame-0 PSNR {psnr['before']:.1f} -> {psnr['after']:.1f} dB{art}")
        if not PHOTOS.is_dir():
            return
        print("quality: 5 s 720p pro on real photos (artifact score: share of the worst frame; bound 0.01)")
        for photo, prompt in QUALITY_CASES:
            image = str(PHOTOS / photo)
            row = {}
            for side, tree in (("before", checkout), ("after", None)):
                out = folder / side
                got = _run_child({"image": image, "prompt": prompt, "mode": "pro", "w": 1280, "h": 720, "seconds": 5,
                                  "out": str(out)}, tree)
                row[side] = (_artifacts(out / "clip.mp4", image), got["psnr_first"])
            print(f"  {photo:14s} {prompt!r:50s} artifacts {row['before'][0]:.4f} -> {row['after'][0]:.4f}"
                  f"  frame-0 PSNR {row['before'][1]:.1f} -> {row['after'][1]:.1f} dB")


def clips(repeat: int) -> None:
    """Issue 3's goals, through the encoder; each case `repeat` times in a fresh child process."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        src, head, tail = _images(folder, 1280, 720)
        cases = _cases(src, head, tail)
        print(f"through render_clip (engine + H.264), best of {repeat} child processes; real time = clip length;"
              f" cpu = CPU seconds of all threads (steadier than wall time on a shared machine); engine = frames alone")
        res: dict[str, dict] = {}
        for name, case in cases:
            runs = [_run_child({**case, "out": str(folder)}) for _ in range(repeat)]
            walls = [r["wall"] for r in runs]
            best = min(runs, key=lambda r: r["wall"])
            res[name] = {**best, "rt": case["seconds"] / best["wall"], "rss_mb": max(r["rss_mb"] for r in runs),
                         "cpu": min(r["cpu"] for r in runs), "engine_cpu": min(r["engine_cpu"] for r in runs),
                         "engine_wall": min(r["engine_wall"] for r in runs)}
            r = res[name]
            last = f", last-frame {best['psnr_last']:.1f} dB" if best["psnr_last"] is not None else ""
            frames = case["seconds"] * 24
            print(f"  {name:24s} {min(walls):6.2f} s (spread {min(walls):.2f}-{max(walls):.2f}) = {r['rt']:.2f}x real time,"
                  f" cpu {r['cpu']:.1f} s (engine alone {r['engine_wall']:.2f} s = {frames / r['engine_wall']:.0f} fps,"
                  f" cpu {r['engine_cpu']:.1f} s), peak RSS {r['rss_mb']:.0f} MB, frame-0 PSNR {best['psnr_first']:.1f} dB{last}")
        rows = [
            ("5 s 720p pro, x real time", res["5 s 720p pro"]["rt"], GOALS["rt_720p_pro"], ">="),
            ("5 s 720p turbo, x real time", res["5 s 720p turbo"]["rt"], GOALS["rt_720p_turbo"], ">="),
            ("16 s 1080p pro, wall s", res["16 s 1080p pro"]["wall"], GOALS["wall_1080p16_pro_s"], "<"),
            ("16 s 1080p pro, peak RSS MB", res["16 s 1080p pro"]["rss_mb"], GOALS["rss_1080p16_pro_mb"], "<"),
            ("frame-0 PSNR dB (worst camera case)", min(r["psnr_first"] for n, r in res.items() if "start-end" not in n),
             GOALS["psnr_frame0_db"], ">="),
            ("start-end last-frame PSNR dB", res["5 s 720p start-end pro"]["psnr_last"], GOALS["psnr_last_start_end_db"], ">="),
        ]
        print("goals (issue 3):")
        for label, value, goal, op in rows:
            ok = value >= goal if op == ">=" else value < goal
            print(f"  {label:38s} measured {value:8.2f}  goal {op} {goal:<8g} {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(child(json.loads(sys.argv[2]))))
    else:
        main()
