"""Capability-aware claims, engine side: what a worker advertises (weights on this host that fit
its GPU, the warm model) and how a route is matched against it."""

from __future__ import annotations

import json
from pathlib import Path

from stillmotion.engines.diffusers.capability import GpuInfo, host_capability
from stillmotion.engines.diffusers.plan import RuntimeOptions
from stillmotion.routing import load_routes

H100 = GpuInfo(cuda=True, gpus=({"name": "NVIDIA H100 80GB HBM3", "memory_gib": 79.1, "capability": [9, 0]},))
L4 = GpuInfo(cuda=True, gpus=({"name": "NVIDIA L4", "memory_gib": 22.0, "capability": [8, 9]},))
GPU = RuntimeOptions(device="auto")


def weights(root: Path, name: str) -> str:
    path = root / name
    path.mkdir(parents=True)
    (path / "model_index.json").write_text(json.dumps({"_class_name": "WanImageToVideoPipeline"}))
    return str(path)


def routes(tmp_path: Path, *entries: tuple[str, str]) -> list:
    text = "".join(f'[[routes]]\nmodel = "m{i}"\npath = "{p}"\nkind = "{k}"\n' for i, (p, k) in enumerate(entries))
    text += '[[routes]]\nmodel = "cpu"\nengine = "motion"\n'
    (tmp_path / "routes.toml").write_text(text)
    return load_routes(tmp_path / "routes.toml")


def test_a_worker_serves_only_the_weights_it_holds(tmp_path):
    here = weights(tmp_path, "wan-720p")
    elsewhere = str(tmp_path / "ltx-on-another-host")
    cap = host_capability(routes(tmp_path, (here, "wan2.1-i2v"), (elsewhere, "ltx-video")), GPU, gpu=H100)
    assert cap.weights == {here} and cap.gpu_memory_gib == 79.1 and cap.device == "cuda:0"
    assert cap.serves({"path": here, "kind": "wan2.1-i2v"})
    assert not cap.serves({"path": elsewhere, "kind": "ltx-video"})
    assert cap.refused[elsewhere] == "weights not on this host"


def test_a_small_gpu_does_not_claim_a_model_it_cannot_hold_unless_it_offloads(tmp_path):
    a14b, ti2v = weights(tmp_path, "a14b"), weights(tmp_path, "ti2v")
    table = routes(tmp_path, (a14b, "wan2.2-i2v-a14b"), (ti2v, "wan2.2-ti2v-5b"))
    assert host_capability(table, GPU, gpu=H100).weights == {a14b, ti2v}
    small = host_capability(table, GPU, gpu=L4)
    assert small.weights == set() and "needs ~76 GiB" in small.refused[a14b]
    assert host_capability(table, RuntimeOptions(device="auto", offload="model"), gpu=L4).weights == {a14b, ti2v}


def test_no_cuda_means_no_gpu_jobs_and_cpu_device_serves_everything_present(tmp_path):
    here = weights(tmp_path, "wan")
    table = routes(tmp_path, (here, "wan2.1-i2v"))
    none = host_capability(table, GPU, gpu=GpuInfo(cuda=False))
    assert none.weights == set() and "no CUDA GPU" in none.refused[here]
    assert host_capability(table, RuntimeOptions(device="cpu")).weights == {here}  # no probe needed
    assert host_capability(table, RuntimeOptions(device="cuda:1"), gpu=H100).weights == set()  # one GPU only


def test_the_warm_model_is_preferred_and_advertised_only_if_served(tmp_path):
    a, b = weights(tmp_path, "a"), weights(tmp_path, "b")
    table = routes(tmp_path, (a, "wan2.1-i2v"), (b, "wan2.1-i2v"))
    cap = host_capability(table, GPU, gpu=H100, warm=b)
    assert cap.warm == b and cap.prefers({"path": b}) and not cap.prefers({"path": a})
    assert host_capability(table, GPU, gpu=H100, warm=str(tmp_path / "gone")).warm is None
    assert cap.as_dict()["weights"] == sorted([a, b])


def test_the_shared_runner_reports_its_warm_weights(tiny_model, tmp_path):
    from motion_support import save_png, textured
    from stillmotion.domain import GenerationSpec
    from stillmotion.engines.base import RenderContext
    from stillmotion.engines.diffusers import DiffusersEngine
    from stillmotion.engines.diffusers.capability import worker_capability

    path = str(tiny_model("ltx-video"))
    table = routes(tmp_path, (path, "ltx-video"))
    options = RuntimeOptions(device="cpu")
    engine = DiffusersEngine(options)
    try:
        assert worker_capability(table, options).warm is None
        image = save_png(tmp_path / "a.png", textured(96, 54, 1))
        spec = GenerationSpec(model="m0", mode="pro", prompt="p", image=image, image_tail=None, width=72, height=40,
                              num_frames=4, duration=1, seed=1, resolution="540p")
        route = {"path": path, "kind": "ltx-video", "steps": 1, "max_area": 3072}
        list(engine.frames(spec, RenderContext(route=route)))
        assert worker_capability(table, options).warm == path
    finally:
        engine.close()
