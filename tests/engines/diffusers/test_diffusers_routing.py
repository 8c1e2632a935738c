"""Routes file parsing, submit-time refusals, the engine's frame/size arithmetic, and no torch on CPU paths."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from stillmotion.catalog import get_model
from stillmotion.engines.diffusers.kinds import get_kind, model_frames, model_size
from stillmotion.engines.diffusers.plan import fit_audio, frame_indices
from stillmotion.errors import FieldInvalid
from stillmotion.routing import Router, load_routes, route_request

ROOT = Path(__file__).resolve().parents[3]
Q2_SE = "vidu/vidu-q2/start-end-to-video"


def settings(routes: Path | None, models: Path | None = None) -> Router:
    """The runtime's router for a routes file (and the models registry beside it)."""
    ns = SimpleNamespace(routes_file=routes, models_path=models or (routes.parent / "models.json" if routes else None))
    return Router.from_settings(ns)


def test_no_routes_file_means_everything_goes_to_motion():
    entry = get_model(Q2_SE)
    valid = entry.validate({"mode": "pro", "prompt": "p", "image": "http://x/a.png", "image_tail": "http://x/b.png",
                            "resolution": "1080p", "duration": 8})
    route = route_request(settings(None), entry, valid)
    assert route.engine == "motion" and route.config() is None


def test_json_routes_with_registered_weights_and_refusals(tmp_path: Path):
    (tmp_path / "models.json").write_text(json.dumps({"ti2v": {"path": "/m/ti2v", "kind": "wan2.2-ti2v-5b"}}))
    routes = tmp_path / "routes.json"
    routes.write_text(json.dumps({"routes": [
        {"model": Q2_SE, "modes": ["turbo"], "weights": "ti2v", "steps": 30},
        {"model": Q2_SE, "engine": "motion"},
    ]}))
    entry = get_model(Q2_SE)
    ok = entry.validate({"mode": "pro", "prompt": "p", "image": "http://x/a.png", "image_tail": "http://x/b.png"})
    assert route_request(settings(routes), entry, ok).engine == "motion"
    turbo = entry.validate({"mode": "turbo", "prompt": "p", "image": "http://x/a.png", "image_tail": "http://x/b.png"})
    with pytest.raises(FieldInvalid, match="image_tail: .*ti2v.*cannot take an end frame") as err:
        route_request(settings(routes), entry, turbo)
    assert err.value.status == 400 and err.value.field == "image_tail"
    route = Router(routes, tmp_path / "models.json").route(Q2_SE, "turbo")
    assert route.config() == {"engine": "diffusers", "weights": "ti2v", "path": "/m/ti2v",
                              "kind": "wan2.2-ti2v-5b", "steps": 30}


def test_duration_beyond_the_model_is_refused(tmp_path: Path):
    routes = tmp_path / "routes.toml"
    routes.write_text('[[routes]]\nmodel = "*"\npath = "/m/wan"\nkind = "wan2.1-i2v"\n')
    entry = get_model("vidu/vidu-q3/image-to-video")
    valid = entry.validate({"mode": "pro", "prompt": "p", "image": "http://x/a.png", "duration": 8})
    with pytest.raises(FieldInvalid, match="duration: at most 5 s"):
        route_request(settings(routes), entry, valid)


@pytest.mark.parametrize("text,problem", [
    ('[[routes]]\nmodel = "m"\nkind = "wan2.1-i2v"\n', "needs weights"),
    ('[[routes]]\nmodel = "m"\npath = "/x"\nkind = "sd15"\n', "kind must be one of"),
    ('[[routes]]\nmodel = "m"\nweights = "nope"\n', "not registered"),
    ('[[routes]]\nmodel = "m"\nengine = "gpu"\n', "engine must be one of"),
    ('[[routes]]\nmodel = "m"\npath = "/x"\nkind = "ltx-2"\nsteps = 0\n', "steps must be"),
])
def test_bad_routes_are_named(tmp_path: Path, text: str, problem: str):
    routes = tmp_path / "routes.toml"
    routes.write_text(text)
    with pytest.raises(ValueError, match=f"routes\\[0\\]: .*{problem}"):
        load_routes(routes)


def test_frame_counts_and_sizes_the_models_accept():
    wan, ltx, ti2v = get_kind("wan2.1-i2v"), get_kind("ltx-video"), get_kind("wan2.2-ti2v-5b")
    assert model_frames(5, wan) == 81 and model_frames(1, wan) == 17  # 4k+1 at 16 fps
    assert model_frames(5, ltx) == 121 and model_frames(2, ltx) == 49  # 8k+1 at 24 fps
    assert model_size(1280, 720, wan) == (1280, 720) and model_size(1920, 1080, wan) == (1280, 720)
    assert model_size(1280, 720, ti2v) == (1280, 704)  # multiples of 32: its native 1280x704
    assert model_size(960, 540, ltx, max_area=64 * 48) == (64, 32)
    pos = frame_indices(120, 81, 16, keep_end=True)
    assert pos[0] == 0 and pos[-1] == 80 and np.all(np.diff(pos) >= 0)  # last output frame = last model frame
    audio = fit_audio(np.ones((100, 2), np.float32), 100, 2.0)
    assert audio.shape == (200, 2) and audio[150:].max() == 0


def test_service_and_motion_path_never_import_torch(tmp_path: Path):
    code = f"""
import sys
from pathlib import Path
from stillmotion.settings import Settings
from stillmotion.runtime import Runtime
from stillmotion.api import create_app
from stillmotion.engines import get_engine
import stillmotion.routing, stillmotion.engines.diffusers, stillmotion.cli
rt = Runtime(Settings(data_dir=Path({str(tmp_path)!r})))
create_app(rt)
sys.path.insert(0, {str(ROOT / 'tests' / 'engines')!r})
from motion_support import make_spec, save_png, textured
from stillmotion.engines.base import RenderContext
spec = make_spec(save_png(Path({str(tmp_path)!r}) / 'a.png', textured(64, 36)), width=64, height=36, num_frames=4)
assert len(list(get_engine('motion').frames(spec, RenderContext()))) == 4
get_engine('diffusers')
heavy = [m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules]
assert not heavy, heavy
print('ok')
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-3000:]


def test_models_cli_add_list_and_pull_without_network(tmp_path: Path, capsys, monkeypatch):
    from stillmotion.cli import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = tmp_path / "LTX-Video-distilled"
    for part in ("vae", "transformer", "text_encoder", "tokenizer", "scheduler"):
        (model / part).mkdir(parents=True)
    (model / "model_index.json").write_text(json.dumps(
        {"_class_name": "LTXPipeline", **{p: ["diffusers", "X"] for p in ("vae", "transformer", "scheduler")}}))
    data = ["--data-dir", str(tmp_path / "data")]
    assert main(["models", "add", "ltxd", str(model), *data]) == 0
    assert main(["models", "list", *data]) == 0
    out = capsys.readouterr().out
    assert "ltxd\tltx-video-distilled\t" in out
    assert main(["models", "add", "nope", str(tmp_path / "data"), *data]) == 2
    assert main(["models", "pull", "wan2.2-ti2v-5b", *data]) == 2
    err = capsys.readouterr().err
    assert "model_index.json" in err and "could not download Wan-AI/Wan2.2-TI2V-5B-Diffusers" in err
    assert "stillmotion models add" in err
