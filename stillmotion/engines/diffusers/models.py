"""Registered model directories: `stillmotion models add | list | pull`.

The registry is a small JSON file (name -> path, kind, source) so routes can name weights
instead of repeating paths. A directory is accepted only if it looks like a diffusers
pipeline: a model_index.json naming a pipeline class, and every component it lists present.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from stillmotion.engines.diffusers.kinds import KINDS, WAN_480P_AREA, get_kind

# Hub checkpoints with diffusers layouts, by short name (what `models pull NAME` accepts
# besides any "owner/repo" id).
KNOWN: dict[str, tuple[str, str]] = {
    "wan2.1-i2v-14b-480p": ("Wan-AI/Wan2.1-I2V-14B-480P-Diffusers", "wan2.1-i2v"),
    "wan2.1-i2v-14b-720p": ("Wan-AI/Wan2.1-I2V-14B-720P-Diffusers", "wan2.1-i2v"),
    "wan2.1-flf2v-14b-720p": ("Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers", "wan2.1-flf2v"),
    "wan2.2-i2v-a14b": ("Wan-AI/Wan2.2-I2V-A14B-Diffusers", "wan2.2-i2v-a14b"),
    "wan2.2-ti2v-5b": ("Wan-AI/Wan2.2-TI2V-5B-Diffusers", "wan2.2-ti2v-5b"),
    "ltx-video-13b-distilled": ("Lightricks/LTX-Video-0.9.8-13B-distilled", "ltx-video-distilled"),
    # 0.9.5: the first 2B release trained for keyframe (first and last frame) conditioning; the
    # root of Lightricks/LTX-Video is 0.9.0, which predates it.
    "ltx-video-2b": ("Lightricks/LTX-Video-0.9.5", "ltx-video"),
    "ltx-2": ("Lightricks/LTX-2", "ltx-2"),
}


class ModelDirInvalid(ValueError):
    """A directory that is not a usable diffusers pipeline; the message says what is missing."""


def read_registry(path: Path) -> dict[str, dict[str, str]]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: must be a JSON object of name -> model")
    return data


def write_registry(path: Path, data: dict[str, dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelDirInvalid(f"{path} is unreadable: {exc}") from None


def weights_present(path: str | Path) -> bool:
    """Whether a diffusers pipeline directory is on this host (its model_index.json is)."""
    return (Path(path) / "model_index.json").is_file()


def inspect_dir(path: Path) -> dict[str, Any]:
    """The pipeline class and components of a diffusers directory; ModelDirInvalid if it is not one."""
    if not path.is_dir():
        raise ModelDirInvalid(f"{path} is not a directory")
    index_file = path / "model_index.json"
    if not weights_present(path):
        raise ModelDirInvalid(f"{path} has no model_index.json: not a diffusers pipeline directory")
    index = _json(index_file)
    cls = index.get("_class_name")
    if not isinstance(cls, str):
        raise ModelDirInvalid(f"{index_file} names no pipeline (_class_name)")
    components = {k: v for k, v in index.items()
                  if not k.startswith("_") and isinstance(v, list) and len(v) == 2 and v[0] is not None}
    missing = [k for k in components if not (path / k).is_dir()]
    if missing:
        raise ModelDirInvalid(f"{path} lacks component folders: {', '.join(missing)}")
    return {"class": cls, "components": sorted(components), "index": index}


def guess_kind(path: Path, info: dict[str, Any]) -> str:
    """The model kind a directory holds, from its pipeline class and transformer config."""
    cls, index = info["class"], info["index"]
    if cls.startswith("Wan"):
        if index.get("expand_timesteps"):
            return "wan2.2-ti2v-5b"
        tcfg = _json(path / "transformer" / "config.json") if (path / "transformer").is_dir() else {}
        if tcfg.get("in_channels") == 16:  # no image-condition channels (36 for I2V): text-to-video
            raise ModelDirInvalid(f"{path} is a Wan text-to-video checkpoint ({cls}, 16 input channels); "
                                  f"this engine runs the image-to-video ones")
        if "transformer_2" in info["components"]:
            return "wan2.2-i2v-a14b"
        return "wan2.1-flf2v" if tcfg.get("pos_embed_seq_len") else "wan2.1-i2v"
    if cls.startswith("LTX2"):
        return "ltx-2-distilled" if "distilled" in path.name.lower() else "ltx-2"
    if cls.startswith("LTX"):
        return "ltx-video-distilled" if "distilled" in path.name.lower() else "ltx-video"
    raise ModelDirInvalid(f"{path}: pipeline {cls} is not an image-to-video model this engine runs "
                          f"(kinds: {', '.join(KINDS)})")


def add_model(registry_file: Path, name: str, path: Path, kind: str | None = None,
              source: str = "local") -> dict[str, str]:
    """Validate `path` and register it as `name` (replacing an older entry of that name)."""
    path = path.expanduser().resolve()
    info = inspect_dir(path)
    kind = kind or guess_kind(path, info)
    want = get_kind(kind).pipeline
    family = {"WanImageToVideoPipeline": "Wan", "LTXConditionPipeline": "LTX", "LTX2ImageToVideoPipeline": "LTX2"}
    prefix = family[want]
    if not info["class"].startswith(prefix) or (prefix == "LTX" and info["class"].startswith("LTX2")):
        raise ModelDirInvalid(f"{path} holds a {info['class']}, not a {kind} model ({want})")
    registry = read_registry(registry_file)
    registry[name] = {"path": str(path), "kind": kind, "pipeline": info["class"], "source": source}
    if kind.startswith("wan2.1") and "480p" in f"{path.name} {source}".lower():
        registry[name]["max_area"] = WAN_480P_AREA  # the 480P checkpoint: never run it at 720p area
    write_registry(registry_file, registry)
    return registry[name]


def pull_patterns(index: dict[str, Any]) -> list[str]:
    """What `models pull` downloads: model_index.json and the component folders it names.

    Repositories such as Lightricks/LTX-Video and Lightricks/LTX-2 also hold 150+ GB of
    single-file checkpoints at their root that the diffusers pipeline never reads.
    """
    components = sorted(k for k, v in index.items()
                        if not k.startswith("_") and isinstance(v, list) and len(v) == 2 and v[0] is not None)
    return ["model_index.json", *(f"{c}/*" for c in components)]


def pull_model(registry_file: Path, name: str, dest_root: Path, kind: str | None = None) -> dict[str, str]:
    """Download `name` (a known short name or an owner/repo id) and register it.

    Raises RuntimeError with a clear message when the hub cannot be reached.
    """
    repo, known_kind = KNOWN.get(name, (name, None))
    if "/" not in repo:
        raise ValueError(f"unknown model {name!r}: give an owner/repo id or one of {', '.join(KNOWN)}")
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise RuntimeError("models pull needs huggingface_hub: pip install 'stillmotion[gpu]'") from None
    local = name.replace("/", "--")
    dest = dest_root / local
    try:
        from huggingface_hub import hf_hub_download

        index = json.loads(Path(hf_hub_download(repo_id=repo, filename="model_index.json",
                                                local_dir=str(dest))).read_text())
        snapshot_download(repo_id=repo, local_dir=str(dest), allow_patterns=pull_patterns(index))
    except Exception as exc:  # offline, DNS, 401/404: all end the same way for the operator
        raise RuntimeError(
            f"could not download {repo} from the Hugging Face hub ({type(exc).__name__}: {exc}). "
            f"Without network access, copy the directory over and run: stillmotion models add {local} DIR"
        ) from None
    return add_model(registry_file, local, dest, kind or known_kind, source=f"hf:{repo}")
