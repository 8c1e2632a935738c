"""The fast paths of the motion engine give the same pictures as the straightforward ones."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from motion_support import textured
from stillmotion.engines.motion import plan_motion, profile_for
from stillmotion.engines.motion.effects import Effects
from stillmotion.engines.motion.parallax import has_parallax, layer_matrix
from stillmotion.engines.motion.resample import supersample
from stillmotion.engines.motion.scene import prepare_scene
from stillmotion.engines.motion.warp import soft_pad

IDENTITY = np.float64([[1, 0, 0], [0, 1, 0]])


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def test_rgba_supersample_matches_the_per_channel_result() -> None:
    rgb = textured(61, 37, seed=3)
    alpha = textured(61, 37, seed=4)[..., 0]
    rgba = np.dstack([rgb, alpha])
    up = supersample(rgba, 2)  # the 32-bit interleave path
    assert np.array_equal(up[..., :3], supersample(rgb, 2))
    assert np.array_equal(up[..., 3], supersample(np.ascontiguousarray(alpha), 2))


def test_soft_pad_only_changes_the_margins() -> None:
    img = textured(80, 50, seed=5)
    out = soft_pad(img, (12, 7, 0, 20))
    assert out.shape == (50 + 7 + 20, 80 + 12, 3)
    assert np.array_equal(out[7:57, 12:92], img)
    mirror = cv2.copyMakeBorder(img, 7, 20, 12, 0, cv2.BORDER_REFLECT_101)
    assert not np.array_equal(out[-3:], mirror[-3:])  # far margin is blurred, not a plain mirror


def test_a_region_effect_leaves_pixels_outside_its_region_untouched() -> None:
    h, w = 180, 320
    img = np.full((h, w, 3), (120, 100, 90), np.uint8)
    img[130:] = (30, 80, 170)  # water only at the bottom
    img = np.clip(img.astype(np.int16) + textured(w, h, seed=8) // 16, 0, 255).astype(np.uint8)
    fx = Effects(["shimmer"], img, 5.0, 0.5, seed=1)
    frame = cv2.cvtColor(img, cv2.COLOR_RGB2RGBA)
    before = frame.copy()
    fx.apply(frame, 1.0, IDENTITY)
    assert np.array_equal(frame[:100], before[:100])  # far above the water's box
    assert np.abs(frame[140:].astype(int) - before[140:]).mean() > 0.5  # the water moves


def test_effect_fields_stay_at_the_720p_grid_on_larger_frames() -> None:
    big = np.zeros((1080, 1920, 3), np.uint8)
    assert Effects(["dust"], big, 1.0, 0.5, seed=1).small_size == (640, 360)
    assert Effects(["dust"], big[:720, :1280], 1.0, 0.5, seed=1).small_size == (640, 360)


def test_effect_fields_use_whole_cells_so_effects_stay_inside_their_region() -> None:
    # pro-fast's third of 1280 px is no whole number of columns: cells of 3 px, the last one cut
    fx = Effects(["shimmer"], np.zeros((720, 1280, 3), np.uint8), 1.0, 0.33, seed=1)
    assert fx.factor == 3 and fx.small_size == (427, 240)
    img = np.full((720, 1280, 3), (120, 100, 90), np.uint8)
    img[560:] = (30, 80, 170)  # water in the bottom rows only
    img = np.clip(img.astype(np.int16) + textured(1280, 720, seed=8) // 16, 0, 255).astype(np.uint8)
    fx = Effects(["shimmer"], img, 5.0, 0.33, seed=1)
    frame = cv2.cvtColor(img, cv2.COLOR_RGB2RGBA)
    before = frame.copy()
    fx.apply(frame, 1.0, IDENTITY)
    assert np.array_equal(frame[:500], before[:500])  # the box stops short of the frame above the water
    assert np.abs(frame[580:].astype(int) - before[580:]).mean() > 0.5


def test_bench_child_measures_a_tiny_clip(tmp_path: Path) -> None:
    from benchmarks import motion as bench

    src, head, tail = bench._images(tmp_path, 96, 64)
    got = bench.child({"image": src, "prompt": bench.PROMPT, "mode": "turbo", "w": 96, "h": 64, "seconds": 1,
                       "out": str(tmp_path)})
    assert got["wall"] > 0 and got["cpu"] > 0 and got["rss_mb"] > 10
    assert got["psnr_first"] > 30 and got["psnr_last"] is None


def test_bench_runs_a_case_on_another_checkout(tmp_path: Path) -> None:
    from benchmarks import motion as bench

    src, head, tail = bench._images(tmp_path, 96, 64)
    root = Path(bench.__file__).resolve().parents[3]  # this checkout, standing in for another one
    got = bench._run_child({"image": src, "prompt": "", "mode": "turbo", "w": 96, "h": 64, "seconds": 1,
                            "out": str(tmp_path), "tail": tail}, str(root))
    assert got["wall"] > 0 and got["psnr_last"] > 30
    assert [name for name, _ in bench._cases(src, head, tail)] == [
        "5 s 720p pro", "5 s 720p pro-fast", "5 s 720p turbo", "16 s 1080p pro", "5 s 720p start-end pro"]


def test_light_fields_upsampled_as_one_channel_match_the_four_channel_resize() -> None:
    small = np.random.default_rng(3).integers(0, 256, (45, 80), dtype=np.uint8)
    four = cv2.resize(cv2.cvtColor(small, cv2.COLOR_GRAY2RGBA), (333, 190), interpolation=cv2.INTER_LINEAR)
    one = cv2.cvtColor(cv2.resize(small, (333, 190), interpolation=cv2.INTER_LINEAR), cv2.COLOR_GRAY2RGBA)
    assert np.array_equal(four, one)


def test_frames_are_fresh_arrays_so_render_clip_need_not_copy_them(tmp_path: Path) -> None:
    from motion_support import make_spec, save_png
    from stillmotion.engines.base import RenderContext
    from stillmotion.engines.motion import MotionEngine

    img = save_png(tmp_path / "a.png", textured(160, 96, seed=2))
    tail = save_png(tmp_path / "b.png", np.roll(textured(160, 96, seed=2), 6, axis=1))
    engine = MotionEngine()
    assert engine.fresh_frames
    for spec in (make_spec(img, "the camera pushes in over the lake", width=160, height=96, num_frames=6),
                 make_spec(img, "the camera pushes in", width=160, height=96, num_frames=6, mode="turbo"),
                 make_spec(img, "", width=160, height=96, num_frames=6, image_tail=tail)):
        frames = list(engine.frames(spec, RenderContext()))  # kept: a reused buffer would alias
        for a, b in zip(frames, frames[1:]):
            assert not np.shares_memory(a, b)
        assert not np.array_equal(frames[0], frames[-1])


def test_render_clip_runs_frame_workers_on_one_opencv_thread_and_restores_the_count(tmp_path: Path) -> None:
    from motion_support import make_spec, save_png
    from stillmotion.engines.motion import MotionEngine
    from stillmotion.render import render_clip

    seen = []

    class Probe(MotionEngine):
        def frames(self, spec, ctx):
            for frame in super().frames(spec, ctx):
                seen.append(cv2.getNumThreads())
                yield frame

    img = save_png(tmp_path / "a.png", textured(160, 96, seed=2))
    before = cv2.getNumThreads()
    for workers, during in ((2, 1), (1, before)):  # frames in parallel: one OpenCV thread each
        engine = Probe(workers=workers)
        for mode in ("turbo", "pro"):
            seen.clear()
            spec = make_spec(img, "the camera pushes in", width=160, height=96, num_frames=4, mode=mode)
            assert engine.opencv_threads(spec) == (1 if workers > 1 else None)
            render_clip(engine, spec, tmp_path / f"{mode}.mp4", tmp_path / f"{mode}.jpg")
            assert seen == [during] * 4
            assert cv2.getNumThreads() == before


@pytest.mark.parametrize("case", ["camera", "morph"])
def test_frames_rendered_in_parallel_equal_frames_rendered_one_by_one(tmp_path: Path, case: str) -> None:
    from motion_support import make_spec, save_png
    from stillmotion.engines.base import RenderContext
    from stillmotion.engines.motion import MotionEngine

    img = save_png(tmp_path / "a.png", textured(192, 108, seed=4))
    tail = save_png(tmp_path / "b.png", np.roll(textured(192, 108, seed=4), 9, axis=1)) if case == "morph" else None
    prompt = "the camera pushes in while clouds drift over the lake, snow falls" if case == "camera" else ""
    spec = make_spec(img, prompt, width=192, height=108, num_frames=9, image_tail=tail)
    one = list(MotionEngine(workers=1).frames(spec, RenderContext()))
    three = list(MotionEngine(workers=3).frames(spec, RenderContext()))
    assert len(one) == len(three) == 9
    for a, b in zip(one, three):
        assert np.array_equal(a, b)


def test_ordered_map_keeps_order_bounds_the_lookahead_and_stops_early() -> None:
    import threading
    import time

    from stillmotion.engines.motion.threads import ordered_map

    started = []
    lock = threading.Lock()

    def slow(i: int) -> int:
        with lock:
            started.append(i)
        time.sleep(0.02 * ((7 * i) % 3))  # later items often finish first
        return i * i

    assert list(ordered_map(slow, range(12), 3)) == [i * i for i in range(12)]
    started.clear()
    gen = ordered_map(slow, range(100), 2)
    assert [next(gen) for _ in range(3)] == [0, 1, 4]
    gen.close()  # a cancel: pending items are dropped
    assert len(started) <= 3 + 2 + 1  # consumed, the workers' lookahead, and one in flight


def test_lights_screened_by_spans_equal_one_pass_over_the_whole_frame() -> None:
    from stillmotion.engines.motion.effects import Effects

    rng = np.random.default_rng(5)
    fitted = rng.integers(0, 256, (96, 160, 3), np.uint8)
    for scale in (0.25, 0.33):  # 160 columns are 40 cells of 4; with cells of 3, the last one reaches past the frame
        fx = Effects(["clouds"], fitted, 2.0, scale, 1)
        sw, sh = fx.small_size
        r = fx.factor
        dark = np.ones((sh, sw), np.float32)
        dark[2:5, 3:9] = rng.uniform(0.2, 1.0, (3, 6))  # two lit blocks far apart, one at the edge
        dark[sh - 3 :, sw - 4 :] = rng.uniform(0.2, 1.0, (3, 4))
        dark[10, :] = 0.9990  # rounds to zero light: nothing to do there
        frame = cv2.cvtColor(rng.integers(0, 256, (96, 160, 3), np.uint8), cv2.COLOR_RGB2RGBA)
        got = frame.copy()
        fx._screen(got, dark)
        small8 = ((1.0 - dark) * 255.0 + 0.5).astype(np.uint8)
        whole = cv2.resize(small8, (sw * r, sh * r), interpolation=cv2.INTER_LINEAR)[:96, :160]
        a8 = cv2.cvtColor(whole, cv2.COLOR_GRAY2RGBA)
        want = cv2.add(frame, cv2.multiply(cv2.bitwise_not(frame), a8, scale=1.0 / 255.0))
        assert np.array_equal(got, want)
        assert not np.array_equal(got, frame)


def test_water_shimmer_leaves_a_blue_sky_alone() -> None:
    from benchmarks.motion import landscape
    from stillmotion.engines.motion.effects import Effects

    img = landscape(320, 180)  # blue sky down to the hills at ~45%, a blue lake below 70%
    mask = Effects(["shimmer"], img, 2.0, 0.5, 1).masks["shimmer"]
    h = mask.shape[0]
    assert mask[int(0.8 * h) :].mean() > 0.8  # the lake
    assert mask[: int(0.4 * h)].max() < 0.05  # not the sky


def test_encoder_bench_measures_cpu_bytes_and_psnr(tmp_path: Path) -> None:
    from benchmarks.encoders import encode, yuv_frames

    frames = yuv_frames("city", 128, 72, 6, tmp_path)
    fine = encode(frames, {"preset": "superfast", "crf": "12"}, tmp_path / "fine.mp4")
    coarse = encode(frames, {"preset": "superfast", "crf": "35"}, tmp_path / "coarse.mp4")
    assert fine[0] > 0 and fine[2] > coarse[2] > 0  # CPU seen; the lower CRF spends more bytes...
    assert fine[3] > coarse[3] > 20  # ...for a closer picture


def test_render_threads_come_from_the_setting_or_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    from stillmotion.engines import get_engine
    from stillmotion.engines.motion import MotionEngine
    from stillmotion.engines.motion.threads import MAX_FRAME_WORKERS
    from stillmotion.settings import Settings

    monkeypatch.delenv("STILLMOTION_RENDER_THREADS", raising=False)
    assert 1 <= MotionEngine().workers <= MAX_FRAME_WORKERS
    assert 1 <= get_engine("motion", Settings()).workers <= MAX_FRAME_WORKERS
    monkeypatch.setenv("STILLMOTION_RENDER_THREADS", "3")  # read once, by Settings, and passed down
    assert get_engine("motion", Settings()).workers == 3
    assert MotionEngine(workers=1).workers == 1  # an explicit count wins
    assert get_engine("motion", Settings(render_threads=2)).workers == 2
    with pytest.raises(ValueError, match="render_threads"):
        Settings(render_threads=-1)


def test_prefetch_lets_go_at_once_when_both_sides_see_a_cancel() -> None:
    """The consumer stops on its own cancel check while the engine, a frame ahead, raises its
    own: with the box full, a blocking put of that error held the consumer's join for 10 s."""
    import threading
    import time

    from stillmotion.errors import Canceled
    from stillmotion.render import prefetch

    produced = threading.Event()
    closed = threading.Event()

    def engine():
        try:
            for i in range(4):  # fills the box (depth 3) and one more waiting to go in
                yield np.full((2, 2, 3), i, np.uint8)
            produced.set()
            raise Canceled("stopped")
        finally:
            closed.set()

    frames = prefetch(engine(), depth=3)
    assert next(frames)[0, 0, 0] == 0
    assert produced.wait(5)  # the engine has raised; its error waits for room in a full box
    start = time.monotonic()
    frames.close()  # the consumer's own cancel: it stops reading
    assert time.monotonic() - start < 1.0
    assert closed.wait(1.0)  # the engine generator was closed in its thread


def test_prefetch_prepares_frames_in_its_thread_in_order() -> None:
    """render_clip's watermark and I420 conversion run beside the engine, not on the encoder's
    thread: prepare() runs in the prefetch thread, results come in order, its errors surface."""
    import threading

    from stillmotion.render import for_encoder, prefetch

    threads: set[str] = set()

    def prepare(frame: np.ndarray) -> tuple[int, np.ndarray]:
        threads.add(threading.current_thread().name)
        return int(frame[0, 0, 0]), frame

    got = [i for i, _ in prefetch((np.full((4, 4, 3), i, np.uint8) for i in range(7)), prepare=prepare)]
    assert got == list(range(7)) and threads == {"engine-prefetch"}

    def broken(frame: np.ndarray) -> None:
        raise ValueError("bad frame")

    with pytest.raises(ValueError, match="bad frame"):
        list(prefetch(iter([np.zeros((4, 4, 3), np.uint8)]), prepare=broken))
    frame, yuv = for_encoder()(np.full((4, 6, 3), 255, np.uint8))
    planes = yuv.to_ndarray()
    assert yuv.format.name == "yuv420p" and planes.shape == (6, 6) and planes[:4].min() == 235  # limited-range white luma


def test_encoder_gets_the_cores_the_frame_workers_leave(monkeypatch: pytest.MonkeyPatch) -> None:
    import stillmotion.render as render
    from stillmotion.engines.base import BaseEngine
    from stillmotion.engines.motion import MotionEngine

    for cores, workers, want in ((2, 2, 1), (1, 1, 1), (16, 4, 12)):
        monkeypatch.setattr(render, "usable_cores", lambda cores=cores: cores)
        assert render.encoder_threads(MotionEngine(workers=workers)) == want
    assert render.encoder_threads(BaseEngine()) == 0  # an engine that does not say: x264 decides


def test_plans_without_parallax_are_one_affine_warp() -> None:
    img = textured(320, 180, seed=6)
    rng = np.random.default_rng(0)
    roll = plan_motion("the camera rolls left", 5.0, rng)
    assert not has_parallax(roll)
    scene = prepare_scene(img, roll, (320, 180), profile_for("pro-fast"))
    r = scene.renderer
    assert scene.info["composite"] == "flat"
    for t in (0.3, 1.0):
        m = layer_matrix(scene.plan.state(t), r.pivot, (320, 180), r.pivot)
        m[:, 2] += scene.origin
        affine = cv2.warpAffine(scene.canvas, m, (320, 180), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        assert _psnr(r.frame_rgba(t)[..., :3], affine) > 40, t


def test_a_still_camera_copies_the_input_and_equals_its_warp() -> None:
    img = textured(160, 96, seed=4)
    for mode in ("pro", "turbo"):
        scene = prepare_scene(img, plan_motion("a static shot", 5.0, np.random.default_rng(0)), (160, 96), profile_for(mode))
        r = scene.renderer
        copied = r.frame_rgba(0.7)[..., :3].copy()
        assert np.array_equal(copied, img)
        warped = cv2.remap(r.source, r.source_map(scene.plan.state(0.7)), None, cv2.INTER_LINEAR)[..., :3]
        assert np.array_equal(copied, warped)
