"""The diffusers engine on tiny real pipelines: loading, shapes, seeds, cancel, child failures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from stillmotion.domain import GenerationSpec
from stillmotion.engines.base import RenderContext
from stillmotion.engines.diffusers import DiffusersEngine
from stillmotion.engines.diffusers.models import ModelDirInvalid, add_model, inspect_dir, read_registry
from stillmotion.engines.diffusers.plan import RuntimeOptions
from stillmotion.errors import Canceled, GenerationFailed

from motion_support import save_png, textured

KINDS = ["wan2.1-i2v", "wan2.1-flf2v", "wan2.2-i2v-a14b", "wan2.2-ti2v-5b", "ltx-video", "ltx-2"]


@pytest.fixture(scope="module")
def engine() -> DiffusersEngine:
    eng = DiffusersEngine(RuntimeOptions(device="cpu"))
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    root = tmp_path_factory.mktemp("img")
    return save_png(root / "a.png", textured(96, 54, 1)), save_png(root / "b.png", textured(96, 54, 2))


def spec(images: tuple[str, str], *, tail: bool = False, seed: int = 7, frames: int = 24,
         size: tuple[int, int] = (72, 40), mode: str = "pro") -> GenerationSpec:
    return GenerationSpec(model="m", mode=mode, prompt="the camera pans left", image=images[0],
                          image_tail=images[1] if tail else None, width=size[0], height=size[1],
                          num_frames=frames, duration=round(frames / 24), seed=seed, resolution="540p")


def route(path: Path, kind: str, **extra: object) -> dict:
    return {"route": {"path": str(path), "kind": kind, "steps": 2, "max_area": 64 * 48, **extra}}


def render(engine: DiffusersEngine, s: GenerationSpec, metadata: dict, **ctx_kw) -> tuple[list, RenderContext]:
    ctx = RenderContext(route=metadata.get("route"), metadata={k: v for k, v in metadata.items() if k != "route"},
                        **ctx_kw)
    return list(engine.frames(s, ctx)), ctx


def test_registry_accepts_diffusers_dirs_and_knows_their_kind(tiny_model: Callable[[str], Path], tmp_path: Path):
    registry = tmp_path / "models.json"
    for kind in KINDS:
        entry = add_model(registry, kind, tiny_model(kind))
        assert entry["kind"] == kind, kind  # guessed from model_index.json and the transformer config
    assert sorted(read_registry(registry)) == sorted(KINDS)
    with pytest.raises(ModelDirInvalid, match="model_index.json"):
        add_model(registry, "empty", tmp_path)
    with pytest.raises(ModelDirInvalid, match="not a ltx-video model"):
        add_model(registry, "wrong", tiny_model("wan2.1-i2v"), kind="ltx-video")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model_index.json").write_text('{"_class_name": "WanImageToVideoPipeline", "vae": ["diffusers", "X"]}')
    with pytest.raises(ModelDirInvalid, match="lacks component folders: vae"):
        inspect_dir(broken)


@pytest.mark.parametrize("kind,tail", [("wan2.2-i2v-a14b", False), ("wan2.2-ti2v-5b", False),
                                       ("wan2.1-flf2v", True), ("ltx-video", True)])
def test_exact_frames_and_size_from_the_real_loader(engine, images, tiny_model, kind, tail):
    progress: list[float] = []
    frames, ctx = render(engine, spec(images, tail=tail), route(tiny_model(kind), kind), on_progress=progress.append)
    assert len(frames) == 24
    assert all(f.shape == (40, 72, 3) and f.dtype == np.uint8 for f in frames)
    facts = ctx.metadata["diffusers"]
    assert facts["kind"] == kind and facts["steps"] == 2
    w, h = facts["model_size"]
    multiple = 32 if kind in ("wan2.2-ti2v-5b", "ltx-video") else 16
    assert w % multiple == 0 and h % multiple == 0 and w * h <= 64 * 48 + 2 * multiple * 64
    step = 8 if kind.startswith("ltx") else 4
    assert (facts["model_frames"] - 1) % step == 0
    assert progress[:2] == pytest.approx([0.45, 0.9]) and progress == sorted(progress)
    assert np.std(np.stack(frames).astype(np.float32)) > 1.0  # a real decode, not a constant


def test_same_seed_same_frames_other_seed_other_frames(engine, images, tiny_model):
    meta = route(tiny_model("wan2.1-i2v"), "wan2.1-i2v")
    a, _ = render(engine, spec(images, seed=11, frames=8), meta)
    b, _ = render(engine, spec(images, seed=11, frames=8), meta)
    c, _ = render(engine, spec(images, seed=12, frames=8), meta)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_ltx2_returns_its_own_audio(engine, images, tiny_model):
    frames, ctx = render(engine, spec(images), route(tiny_model("ltx-2"), "ltx-2", guidance=1.0, max_area=32 * 32))
    assert len(frames) == 24
    samples, rate = ctx.audio
    assert rate == 16000 and samples.dtype == np.float32 and samples.shape == (16000, 2)  # exactly 1 s
    assert np.abs(samples).max() > 0


def test_cancel_between_steps_then_the_engine_still_works(engine, images, tiny_model):
    # Enough steps that the run outlasts the parent noticing the stop (a tiny step takes ~ms).
    meta = route(tiny_model("ltx-video"), "ltx-video", steps=400)
    steps: list[float] = []
    with pytest.raises(Canceled):
        render(engine, spec(images), meta, on_progress=steps.append, should_stop=lambda: len(steps) >= 2)
    assert 2 <= len(steps) < 400 * 0.9  # stopped between steps, long before the end
    frames, _ = render(engine, spec(images, frames=8), route(tiny_model("ltx-video"), "ltx-video"))
    assert len(frames) == 8


def test_a_dead_model_process_fails_the_job_not_the_worker(engine, images, tiny_model, tmp_path):
    meta = route(tiny_model("ltx-video"), "ltx-video", steps=50)

    def crash(fraction: float) -> None:  # what an out-of-memory kill looks like from here
        engine.runner._proc.kill()

    with pytest.raises(GenerationFailed, match="model process died"):
        render(engine, spec(images), meta, on_progress=crash)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "model_index.json").write_text('{"_class_name": "WanImageToVideoPipeline"}')
    with pytest.raises(GenerationFailed, match="model run failed"):  # a fresh child took over, and reports
        render(engine, spec(images), route(bad, "wan2.1-i2v"))
