"""The model process through the real child: errors keep the warm pipeline, OOM and CUDA faults,
the watchdog, one child per GPU shared by worker threads, and jobs given back for missing weights."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from stillmotion.domain import GenerationSpec
from stillmotion.engines.base import RenderContext
from stillmotion.engines.diffusers import DiffusersEngine
from stillmotion.engines.diffusers.errors import ModelProcessHung, WeightsUnavailable
from stillmotion.engines.diffusers.plan import RuntimeOptions
from stillmotion.errors import GenerationFailed

from faulty_child import child_main as faulty_child
from motion_support import save_png, textured

CPU = RuntimeOptions(device="cpu")


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    root = tmp_path_factory.mktemp("img")
    return save_png(root / "a.png", textured(96, 54, 1)), save_png(root / "b.png", textured(96, 54, 2))


def spec(image: str, prompt: str = "the camera pans left", frames: int = 8) -> GenerationSpec:
    return GenerationSpec(model="m", mode="pro", prompt=prompt, image=image, image_tail=None, width=72, height=40,
                          num_frames=frames, duration=1, seed=3, resolution="540p")


def ltx(tiny_model, **extra) -> dict:
    return {"route": {"path": str(tiny_model("ltx-video")), "kind": "ltx-video", "steps": 2, "max_area": 3072,
                      **extra}}


def render(engine: DiffusersEngine, s: GenerationSpec, metadata: dict) -> tuple[list, dict]:
    ctx = RenderContext(route=metadata.get("route"))
    return list(engine.frames(s, ctx)), ctx.metadata.get("diffusers", {})


@pytest.fixture()
def faulty(request) -> DiffusersEngine:
    eng = DiffusersEngine(replace(CPU, watchdog_s=getattr(request, "param", 900.0)), child=faulty_child)
    yield eng
    eng.close()


def test_bad_input_then_good_job_keeps_the_warm_child(images, tiny_model):
    engine = DiffusersEngine(CPU)
    try:
        frames, facts = render(engine, spec(images[0]), ltx(tiny_model))
        assert len(frames) == 8 and "load_s" in facts
        pid = engine.runner.pid
        with pytest.raises(GenerationFailed, match="model run failed"):
            render(engine, spec("/nonexistent/input.png"), ltx(tiny_model))
        frames, facts = render(engine, spec(images[0]), ltx(tiny_model))
        assert len(frames) == 8
        assert engine.runner.pid == pid and engine.runner.starts == 1  # same process ...
        assert "load_s" not in facts  # ... and its pipeline stayed warm
    finally:
        engine.close()


def test_out_of_memory_fails_the_job_and_keeps_the_warm_pipeline(faulty, images, tiny_model):
    render(faulty, spec(images[0]), ltx(tiny_model))
    pid = faulty.runner.pid
    with pytest.raises(GenerationFailed, match="out of GPU memory at .*smaller resolution"):
        render(faulty, spec(images[0], prompt="oom"), ltx(tiny_model))
    frames, facts = render(faulty, spec(images[0]), ltx(tiny_model))
    assert len(frames) == 8 and faulty.runner.pid == pid and "load_s" not in facts


def test_a_cuda_fault_restarts_the_child(faulty, images, tiny_model):
    render(faulty, spec(images[0]), ltx(tiny_model))
    pid = faulty.runner.pid
    with pytest.raises(GenerationFailed, match="CUDA fault .*restarting"):
        render(faulty, spec(images[0], prompt="cuda-fault"), ltx(tiny_model))
    frames, facts = render(faulty, spec(images[0]), ltx(tiny_model))
    assert len(frames) == 8 and faulty.runner.pid != pid and "load_s" in facts  # a fresh process, loaded again


@pytest.mark.parametrize("faulty", [3.0], indirect=True)
def test_a_silent_child_is_killed_and_its_job_given_back(faulty, images, tiny_model):
    render(faulty, spec(images[0]), ltx(tiny_model))  # loaded: the short watchdog now applies to runs
    pid = faulty.runner.pid
    with pytest.raises(ModelProcessHung, match="silent for 3 s"):  # retried by the worker's policy, counted
        render(faulty, spec(images[0], prompt="hang"), ltx(tiny_model))
    assert not faulty.runner.alive
    frames, _ = render(faulty, spec(images[0]), ltx(tiny_model))
    assert len(frames) == 8 and faulty.runner.pid != pid


def test_worker_threads_share_one_child_per_gpu(images, tiny_model):
    engines = [DiffusersEngine(CPU), DiffusersEngine(CPU)]  # what two Worker threads build
    results: dict[int, int] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            results[i] = len(render(engines[i], spec(images[0]), ltx(tiny_model))[0])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    try:
        threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert not errors, errors
        assert results == {0: 8, 1: 8}
        assert engines[0].runner is engines[1].runner and engines[0].runner.starts == 1  # one model copy
    finally:
        runner = engines[0].runner
        for e in engines:
            e.close()
    assert not runner.alive  # the last engine closed stops the shared child


def test_missing_weights_give_the_job_back(images, tmp_path):
    engine = DiffusersEngine(CPU)
    try:
        with pytest.raises(WeightsUnavailable, match="not on this host"):
            render(engine, spec(images[0]), {"route": {"path": str(tmp_path / "absent"), "kind": "ltx-video"}})
        assert engine.runner.starts == 0  # nothing was started for it
    finally:
        engine.close()


def test_auto_device_without_cuda_refuses_instead_of_running_on_the_cpu(images, tiny_model):
    from stillmotion.engines.diffusers.errors import DeviceUnavailable

    engine = DiffusersEngine(RuntimeOptions(device="auto"))
    try:
        with pytest.raises(DeviceUnavailable, match="no CUDA GPU"):
            render(engine, spec(images[0]), ltx(tiny_model))
    finally:
        engine.close()


def test_ltx2_start_end_through_the_child(images, tiny_model):
    engine = DiffusersEngine(CPU)
    try:
        s = replace(spec(images[0], frames=24), image_tail=images[1])
        frames, facts = render(engine, s, {"route": {"path": str(tiny_model("ltx-2")), "kind": "ltx-2", "steps": 2,
                                                     "guidance": 1.0, "max_area": 1024}})
        assert len(frames) == 24 and facts["model_frames"] == 25 + 8 and facts["generation"] == "2.0"
    finally:
        engine.close()
