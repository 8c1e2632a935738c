"""Review findings on the tiny models, in process (the pipeline side of the child): dtypes,
LTX-2 generations and end frame, distilled sigmas, frame mapping, sizes, pulls, model switch,
regional compile, cache hooks and offload cleanup."""

from __future__ import annotations

import gc
import json
import shutil
import weakref
from pathlib import Path

import numpy as np
import pytest

from stillmotion.domain import GenerationSpec
from stillmotion.engines.diffusers.kinds import LTX_DISTILLED_SIGMAS, WAN_480P_AREA, get_kind, model_size
from stillmotion.engines.diffusers.ltx2 import ltx2_generation
from stillmotion.engines.diffusers.models import ModelDirInvalid, add_model, pull_model, read_registry
from stillmotion.engines.diffusers.plan import PipelineKey, RuntimeOptions, frame_indices, make_plan
from stillmotion.routing import load_routes

from motion_support import save_png, textured

CPU = RuntimeOptions(device="cpu")


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    root = tmp_path_factory.mktemp("img")
    return save_png(root / "a.png", textured(96, 54, 1)), save_png(root / "b.png", textured(96, 54, 2))


def spec(images: tuple[str, str], *, tail: bool = False, frames: int = 8, size: tuple[int, int] = (72, 40),
         mode: str = "pro") -> GenerationSpec:
    return GenerationSpec(model="m", mode=mode, prompt="the camera pans left", image=images[0],
                          image_tail=images[1] if tail else None, width=size[0], height=size[1], num_frames=frames,
                          duration=max(1, round(frames / 24)), seed=3, resolution="540p")


def plan_for(images, path: Path, kind: str, options: RuntimeOptions = CPU, *, tail: bool = False, **route):
    return make_plan(spec(images, tail=tail), {"path": str(path), "kind": kind, "steps": 2, "max_area": 3072,
                                               **route}, options)


# --- dtypes ---------------------------------------------------------------------------------------

def test_ltx2_start_end_keeps_the_warm_pipeline_in_bf16(images, tiny_model):
    import torch

    from stillmotion.engines.diffusers.pipeline import call_args, load_pipeline

    plan = plan_for(images, tiny_model("ltx-2"), "ltx-2", RuntimeOptions(device="cpu", dtype="bf16"), tail=True,
                    max_area=1024)
    pipe = load_pipeline(plan.key)
    target, args = call_args(pipe, plan)
    assert type(target).__name__ == "LTX2ConditionPipeline" and len(args["conditions"]) == 2
    for name in ("transformer", "text_encoder", "connectors", "vae", "audio_vae", "vocoder"):
        assert getattr(pipe, name).dtype == torch.bfloat16, name  # the warm pipeline, not cast to fp32


def test_wan_clip_image_encoder_and_vae_stay_fp32_in_bf16(images, tiny_model):
    import torch

    from stillmotion.engines.diffusers.pipeline import load_pipeline

    key = PipelineKey(str(tiny_model("wan2.1-i2v")), "wan2.1-i2v", RuntimeOptions(device="cpu", dtype="bf16"))
    pipe = load_pipeline(key)
    assert pipe.transformer.dtype == torch.bfloat16
    assert pipe.image_encoder.dtype == torch.float32 and pipe.vae.dtype == torch.float32


def test_seed_generator_does_not_depend_on_the_device():
    from stillmotion.engines.diffusers.pipeline import seed_generator

    a, b = seed_generator(5), seed_generator(5)
    assert a.device.type == "cpu" and a.initial_seed() == 5
    import torch

    assert torch.equal(torch.randn(4, generator=a), torch.randn(4, generator=b))


# --- LTX-2 generations and end frame ----------------------------------------------------------------

def test_ltx2_generation_detected_from_the_checkpoint_with_its_own_guidance(images, tiny_model, tmp_path):
    from stillmotion.engines.diffusers.pipeline import call_args, load_pipeline

    v20 = tiny_model("ltx-2")
    assert ltx2_generation(v20) == "2.0"
    v23 = tmp_path / "ltx-2.3"
    shutil.copytree(v20, v23)
    cfg = json.loads((v23 / "transformer" / "config.json").read_text())
    (v23 / "transformer" / "config.json").write_text(json.dumps({**cfg, "cross_attn_mod": True}))
    assert ltx2_generation(v23) == "2.3"

    pipe = load_pipeline(PipelineKey(str(v20), "ltx-2", CPU))
    plan20 = plan_for(images, v20, "ltx-2", max_area=1024, steps=None)
    _, a20 = call_args(pipe, plan20)
    assert plan20.generation == "2.0" and plan20.guidance == 4.0
    assert a20["use_cross_timestep"] is False and a20["stg_scale"] == 0.0 and a20["modality_scale"] == 1.0
    assert a20["audio_guidance_scale"] == 4.0  # LTX-2.0: audio follows the video CFG scale
    plan23 = plan_for(images, v23, "ltx-2", max_area=1024)
    _, a23 = call_args(pipe, plan23)
    assert plan23.guidance == 3.0 and a23["use_cross_timestep"] is True
    assert a23["spatio_temporal_guidance_blocks"] == [28] and a23["audio_guidance_scale"] == 7.0


def test_ltx2_end_frame_lands_on_the_last_output_frame(images, tiny_model):
    plan = plan_for(images, tiny_model("ltx-2"), "ltx-2", tail=True, max_area=1024)
    # diffusers' LTX2ConditionPipeline puts latent index L at pixel frame (L - 1) * 8 + 1; index -1
    # is the last latent of the clip the model makes.
    last_latent = (plan.num_frames - 1) // 8
    assert plan.end_frame == (last_latent - 1) * 8 + 1
    idx = frame_indices(plan.out_frames, plan.num_frames, plan.frame_rate, end_frame=plan.end_frame, keep_end=True)
    assert idx[-1] == plan.end_frame and idx.max() == plan.end_frame  # nothing after the end image is shown
    assert plan.end_frame >= plan.out_frames - 1  # the clip is still as long as asked


# --- distilled schedules ----------------------------------------------------------------------------

def test_distilled_checkpoint_runs_its_trained_sigmas(images, tiny_model):
    from stillmotion.engines.diffusers.pipeline import load_pipeline, run_plan

    plan = plan_for(images, tiny_model("ltx-video"), "ltx-video-distilled", steps=40)
    assert plan.steps == 8 and plan.guidance == 1.0  # every mode, whatever the route says
    pipe = load_pipeline(plan.key)
    seen: list[int] = []
    run_plan(pipe, plan, lambda i, n: seen.append(i), lambda: False)
    assert seen == list(range(1, 9))
    assert np.allclose(pipe.scheduler.sigmas.numpy(), [*LTX_DISTILLED_SIGMAS, 0.0], atol=1e-6)
    turbo = make_plan(spec(images, mode="turbo"), {"path": "/m/ltx2-distilled", "kind": "ltx-2-distilled"}, CPU)
    assert turbo.sigmas == LTX_DISTILLED_SIGMAS and turbo.steps == 8 and turbo.guidance == 1.0


def test_ltx2_dev_turbo_keeps_guidance():
    kind = get_kind("ltx-2")
    assert kind.schedule("turbo").guidance > 1.0 and kind.sigmas is None


# --- frames and sizes --------------------------------------------------------------------------------

def test_one_to_one_at_equal_rates_and_nearest_frame_pulldown_from_16_fps():
    assert np.array_equal(frame_indices(120, 121, 24.0), np.arange(120))  # 24 fps model: every frame as made
    idx = frame_indices(120, 81, 16.0, keep_end=True)
    assert idx.dtype.kind == "i" and idx[0] == 0 and idx[-1] == 80  # whole frames, the exact end frame kept
    gaps = np.diff(idx)
    assert set(gaps[:-1].tolist()) <= {0, 1}  # 2:3 pulldown: each model frame shown once or twice
    counts = np.bincount(idx[:-1])
    assert counts.min() >= 1 and counts.max() <= 2


def test_model_size_never_exceeds_the_trained_area():
    wan = get_kind("wan2.1-i2v")
    for w, h in [(1280, 720), (1920, 1080), (960, 540), (720, 1280), (1024, 1024), (854, 480), (640, 360)]:
        for cap in (WAN_480P_AREA, wan.max_area, 64 * 48):
            mw, mh = model_size(w, h, wan, cap)
            assert mw * mh <= cap and mw % 16 == 0 and mh % 16 == 0, (w, h, cap, mw, mh)


def test_max_area_comes_from_the_480p_checkpoint(images, tiny_model, tmp_path):
    ckpt = tmp_path / "Wan2.1-I2V-14B-480P-Diffusers"
    shutil.copytree(tiny_model("wan2.1-i2v"), ckpt)
    registry = tmp_path / "models.json"
    assert add_model(registry, "wan480", ckpt)["max_area"] == WAN_480P_AREA
    routes = tmp_path / "routes.toml"
    routes.write_text('[[routes]]\nmodel = "*"\nweights = "wan480"\n')
    assert load_routes(routes, read_registry(registry))[0].max_area == WAN_480P_AREA
    plan = make_plan(spec(images, size=(1280, 720)), {"path": str(ckpt), "kind": "wan2.1-i2v"}, CPU)
    assert plan.width * plan.height <= WAN_480P_AREA and (plan.width, plan.height) == (832, 464)


def test_per_route_negative_prompt(images, tiny_model, tmp_path):
    routes = tmp_path / "routes.toml"
    routes.write_text(f'[[routes]]\nmodel = "*"\npath = "{tiny_model("wan2.1-i2v")}"\nkind = "wan2.1-i2v"\n'
                      'negative_prompt = "text, watermark"\ncache = "fbc:0.1"\n')
    route = load_routes(routes)[0].config()
    plan = make_plan(spec(images), route, CPU)
    assert plan.negative_prompt == "text, watermark" and plan.cache == "fbc:0.1"


# --- models: pulls and kinds -------------------------------------------------------------------------

def test_pull_downloads_only_the_pipeline_components(tmp_path, monkeypatch, tiny_model):
    import huggingface_hub

    calls: dict[str, object] = {}
    source = tiny_model("ltx-video")

    def hf_hub_download(repo_id: str, filename: str, local_dir: str) -> str:
        Path(local_dir).mkdir(parents=True, exist_ok=True)
        return shutil.copy(source / filename, Path(local_dir) / filename)

    def snapshot_download(repo_id: str, local_dir: str, allow_patterns: list[str] | None = None) -> str:
        calls.update(repo=repo_id, patterns=allow_patterns)
        shutil.copytree(source, local_dir, dirs_exist_ok=True)
        return local_dir

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    entry = pull_model(tmp_path / "models.json", "ltx-video-2b", tmp_path / "models")
    assert calls["repo"] == "Lightricks/LTX-Video-0.9.5"  # end-frame conditioning; not the 0.9.0 root
    patterns = calls["patterns"]
    assert patterns == ["model_index.json", "scheduler/*", "text_encoder/*", "tokenizer/*", "transformer/*", "vae/*"]
    assert entry["kind"] == "ltx-video"


def test_wan_text_to_video_checkpoints_are_refused(tmp_path):
    t2v = tmp_path / "Wan2.1-T2V-14B-Diffusers"
    for part in ("transformer", "vae", "text_encoder", "tokenizer", "scheduler"):
        (t2v / part).mkdir(parents=True)
    (t2v / "model_index.json").write_text(json.dumps(
        {"_class_name": "WanPipeline", **{p: ["diffusers", "X"] for p in ("transformer", "vae", "scheduler")}}))
    (t2v / "transformer" / "config.json").write_text(json.dumps({"in_channels": 16, "out_channels": 16}))
    with pytest.raises(ModelDirInvalid, match="text-to-video"):
        add_model(tmp_path / "models.json", "t2v", t2v)


# --- warm pipeline, compile, caches, offload --------------------------------------------------------

def test_model_switch_frees_the_old_pipeline_first(images, tiny_model):
    from stillmotion.engines.diffusers.pipeline import WarmPipeline, load_pipeline, run_plan

    warm = WarmPipeline(load_pipeline)
    plan = plan_for(images, tiny_model("ltx-video"), "ltx-video")
    gc.disable()  # pipelines hold reference cycles after a run: only a collection frees them
    try:
        pipe, loaded = warm.get(plan.key)
        run_plan(pipe, plan, lambda i, n: None, lambda: False)
        old = weakref.ref(pipe.transformer)
        del pipe
        other = PipelineKey(str(tiny_model("wan2.2-ti2v-5b")), "wan2.2-ti2v-5b", CPU)
        assert loaded and warm.get(plan.key) == (warm.pipe, False)  # same key: warm
        warm.get(other)
        assert old() is None  # the old transformer is gone, not waiting for a collection
    finally:
        gc.enable()


def test_regional_compile_warmed_on_the_served_shapes(images, tiny_model):
    import torch

    from stillmotion.engines.diffusers.pipeline import load_pipeline, warm_up

    options = RuntimeOptions(device="cpu", compile=True, compile_backend="eager")
    plan = plan_for(images, tiny_model("wan2.1-i2v"), "wan2.1-i2v", options, warm_shapes=[[64, 32, 5]])
    assert plan.key.options.compile and plan.warm_shapes == ((64, 32, 5),)
    pipe = load_pipeline(plan.key)
    assert not isinstance(pipe.transformer, torch._dynamo.eval_frame.OptimizedModule)  # not the whole model
    blocks = list(pipe.transformer.blocks)
    assert blocks and all(b._compiled_call_impl is not None for b in blocks)  # each repeated block
    assert warm_up(pipe, plan, list(plan.warm_shapes)) == [(64, 32, 5)]


def test_first_block_cache_is_on_for_the_run_only(images, tiny_model):
    from stillmotion.engines.diffusers.pipeline import load_pipeline, run_plan

    plan = plan_for(images, tiny_model("wan2.2-ti2v-5b"), "wan2.2-ti2v-5b", cache="fbc:0.2", steps=4)
    pipe = load_pipeline(plan.key)
    active: list[bool] = []
    run_plan(pipe, plan, lambda i, n: active.append(pipe.transformer.is_cache_enabled), lambda: False)
    assert active and all(active) and not pipe.transformer.is_cache_enabled


def test_a_canceled_run_puts_offloaded_models_back(images, tiny_model):
    from stillmotion.engines.diffusers.pipeline import StepCanceled, load_pipeline, run_plan

    plan = plan_for(images, tiny_model("ltx-video"), "ltx-video", steps=6)
    pipe = load_pipeline(plan.key)
    freed: list[bool] = []
    real = pipe.maybe_free_model_hooks
    pipe.maybe_free_model_hooks = lambda: (freed.append(True), real())[1]
    with pytest.raises(StepCanceled):
        run_plan(pipe, plan, lambda i, n: None, lambda: True)
    assert freed  # the offload hooks ran although the call never reached its end

