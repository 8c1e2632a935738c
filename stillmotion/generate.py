"""`stillmotion generate`: one clip from local files through the catalog and engine, no server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from stillmotion.catalog import get_model
from stillmotion.domain import StoredImage
from stillmotion.engines import get_engine
from stillmotion.errors import FieldInvalid
from stillmotion.media.inputs import validate_image_bytes
from stillmotion.render import RenderOutput, render_clip
from stillmotion.service import random_seed
from stillmotion.settings import Settings


def local_image(path: Path, field: str, settings: Settings) -> StoredImage:
    if not path.is_file():
        raise FieldInvalid(f"no such file {str(path)!r}", field=field)
    info = validate_image_bytes(path.read_bytes(), field=field, settings=settings)
    return StoredImage(str(path.resolve()), info.width, info.height)


def build_args(model: str, dialect: str, *, prompt: str, audio: str | None, **given: Any) -> dict[str, Any]:
    """The model's own argument names for what the flags say (unset flags keep the defaults)."""
    args: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    args["prompt"] = prompt
    if dialect == "async":
        args["images"] = ["local"]
        args.pop("mode", None)
    else:
        args["image"] = "local"
    if audio is not None:
        if model == "vidu/vidu-q2/image-to-video":
            args.update(generate_audio=True, voice_id=audio)
        elif model == "vidu-q3-turbo-i2v":
            args["audio"] = audio.lower() in ("1", "true", "yes", "on")
        else:
            args["audio"] = audio
    return args


def generate_local(
    settings: Settings,
    *,
    image: Path,
    tail: Path | None,
    prompt: str,
    output: Path,
    model: str | None = None,
    duration: int | None = None,
    resolution: str | None = None,
    mode: str | None = None,
    seed: int | None = None,
    audio: str | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> RenderOutput:
    model = model or ("vidu/vidu-q2/start-end-to-video" if tail else "vidu/vidu-q3/image-to-video")
    entry = get_model(model)
    args = build_args(
        model, entry.dialect, prompt=prompt, audio=audio,
        duration=duration, resolution=resolution, mode=mode, seed=seed,
    )
    if tail is not None:
        args["image_tail"] = "local"
    valid = entry.validate(args)
    images = {}
    for field in entry.image_refs(valid):
        images[field] = local_image(tail if field == "image_tail" else image, field, settings)
    used_seed = entry.requested_seed(valid) or seed or random_seed()
    spec = entry.build_spec(valid, images, used_seed)
    output.parent.mkdir(parents=True, exist_ok=True)
    return render_clip(
        get_engine(entry.engine, settings),
        spec,
        output,
        output.with_suffix(".jpg"),
        on_frame=lambda done: progress(done, spec.num_frames),
        metadata={"seed": used_seed},
        settings=settings,
    )
