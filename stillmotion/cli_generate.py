"""`stillmotion generate`: one clip on this machine, no server, with every argument the API takes.

Images are paths, http(s) URLs or data URIs (fetched as the user who runs the command, so private
addresses are allowed). Everything is validated, images included, before the progress bar
starts; errors name the flag, not the API field. Arguments the chosen model does not take are
listed, and without --model the first model that takes every flag given is used.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

from stillmotion.catalog import MODELS, ModelEntry, get_model
from stillmotion.errors import StillmotionError

JOB_Q3, Q2_I2V, START_END = "vidu/vidu-q3/image-to-video", "vidu/vidu-q2/image-to-video", "vidu/vidu-q2/start-end-to-video"
PRO, TURBO = "vidu-q3-pro-i2v", "vidu-q3-turbo-i2v"
# Without --model: the first of these that takes every flag given (start-end only with --tail).
PREFERENCE = (JOB_Q3, PRO, TURBO, Q2_I2V)
# flag dest -> catalog field, for the flags that pass straight through.
PLAIN = {"duration": "duration", "resolution": "resolution", "mode": "mode", "seed": "seed",
         "aspect_ratio": "aspect_ratio", "style": "style", "watermark": "watermark", "wm_url": "wm_url",
         "wm_position": "wm_position", "audio_type": "audio_type", "is_rec": "is_rec", "off_peak": "off_peak"}
FLAG_OF = {"image": "IMAGE", "images": "IMAGE", "images[0]": "IMAGE", "image_tail": "--tail", "prompt": "--prompt",
           "generate_audio": "--audio", "voice_id": "--audio", "audio": "--audio", "model": "--model",
           **{field: "--" + dest.replace("_", "-") for dest, field in PLAIN.items()}}


def _short(model_id: str) -> str:
    return model_id.removeprefix("vidu/").replace("/image-to-video", " i2v").replace("/start-end-to-video", " start-end")


def _takers(field: str) -> list[ModelEntry]:
    return [e for e in MODELS.values() if e.has_field(field)]


def _choices(field: str) -> list[str]:
    seen: list[str] = []
    for entry in _takers(field):
        for value in entry.json_schema()["properties"][field].get("enum", []):
            if isinstance(value, str) and not value.isdigit() and value not in seen:
                seen.append(value)
    return seen


def _who(field: str) -> str:
    takers = _takers(field)
    return "every model" if len(takers) == len(MODELS) else ", ".join(_short(e.id) for e in takers)


def _default(field: str) -> str:
    values = {str(e.json_schema()["properties"][field].get("default")) for e in _takers(field)}
    values.discard("None")
    return f"; default {'/'.join(sorted(values))}" if values else ""


def _range(field: str) -> str:
    spans = {}
    for entry in _takers(field):
        prop = entry.json_schema()["properties"][field]
        spans.setdefault(f"{prop['minimum']}-{prop['maximum']}", []).append(_short(entry.id))
    if len(spans) == 1:
        return next(iter(spans))
    return ", ".join(f"{span} ({', '.join(ids)})" for span, ids in spans.items())


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """The `generate` subcommand on `sub` (argparse's subparsers action)."""
    gen = sub.add_parser(
        "generate", help="render one clip locally, no server", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Render one clip on this machine (no server) with the CPU engine.",
        epilog="models (--model):\n" + "\n".join(f"  {e.id:34} {e.title}" for e in MODELS.values())
               + "\n\nexample:\n  stillmotion generate examples/cat.jpg --prompt 'The camera zooms in slowly.' "
                 "--duration 3 -o cat.mp4")
    gen.add_argument("image", metavar="IMAGE", help="the image: a path, an http(s) URL or a data URI")
    gen.add_argument("--tail", metavar="IMAGE", help="end frame (path, URL or data URI): the start-end model")
    gen.add_argument("--prompt", default="", help="what moves and how the camera moves (required by the job models)")
    gen.add_argument("--model", choices=list(MODELS), metavar="ID",
                     help="one of the models below; default: the first of q3 i2v, q3 pro, q3 turbo, q2 i2v that "
                          "takes every flag given (q2 start-end with --tail)")
    gen.add_argument("--duration", type=int, metavar="S", help=f"seconds: {_range('duration')}{_default('duration')}")
    gen.add_argument("--resolution", choices=_choices("resolution"),
                     help=f"short side of the frame{_default('resolution')}")
    gen.add_argument("--mode", choices=_choices("mode"), help=f"{_who('mode')}{_default('mode')}")
    gen.add_argument("--seed", type=int, metavar="N", help="0-2147483647 for a reproducible clip; default random")
    gen.add_argument("--aspect-ratio", dest="aspect_ratio", choices=_choices("aspect_ratio"),
                     help=f"{_who('aspect_ratio')}{_default('aspect_ratio')}; others follow the image")
    gen.add_argument("--style", choices=_choices("style"), help=f"{_who('style')}{_default('style')}")
    gen.add_argument("--watermark", action="store_true", default=None,
                     help=f"mark the clip (the default mark unless --wm-url); {_who('watermark')}")
    gen.add_argument("--wm-url", dest="wm_url", metavar="URL", help=f"watermark image URL (at most 10 MB); {_who('wm_url')}")
    gen.add_argument("--wm-position", dest="wm_position", choices=_choices("wm_position"),
                     help=f"watermark corner; {_who('wm_position')}{_default('wm_position')}")
    gen.add_argument("--audio", metavar="VALUE",
                     help="q2 i2v: a voice id (turns generate_audio on; see GET /v1/voices); q3 turbo: true or "
                          "false (default true); q3 pro: a music URL")
    gen.add_argument("--audio-type", dest="audio_type", choices=_choices("audio_type"),
                     help=f"{_who('audio_type')}, with audio on{_default('audio_type')}")
    gen.add_argument("--is-rec", dest="is_rec", action="store_true", default=None,
                     help=f"match the audio's rhythm to the motion; {_who('is_rec')}")
    gen.add_argument("-o", "--output", required=True, metavar="OUT.mp4", help="the MP4 to write (and OUT.jpg, its cover)")
    gen.set_defaults(func=run)
    return gen


def model_args(entry: ModelEntry, args: argparse.Namespace) -> dict[str, Any]:
    """The model's own arguments for what the flags say (unset flags keep the model's defaults)."""
    out: dict[str, Any] = {PLAIN[d]: getattr(args, d) for d in PLAIN if getattr(args, d, None) is not None}
    if args.prompt or entry.requires("prompt"):
        out["prompt"] = args.prompt
    out["images" if entry.has_field("images") else "image"] = ["IMAGE"] if entry.has_field("images") else "IMAGE"
    if args.tail is not None:
        out["image_tail"] = "TAIL"
    if args.audio is not None:
        if entry.has_field("voice_id"):
            out.update(generate_audio=True, voice_id=args.audio)
        elif entry.id == TURBO:
            out["audio"] = args.audio.lower() in ("1", "true", "yes", "on")
        else:
            out["audio"] = args.audio
    return out


def pick_model(args: argparse.Namespace) -> ModelEntry:
    if args.model:
        return get_model(args.model)
    if args.tail is not None:
        return get_model(START_END)
    wanted = [PLAIN[d] for d in PLAIN if getattr(args, d, None) is not None]
    for model_id in PREFERENCE:
        entry = get_model(model_id)
        if all(entry.has_field(f) for f in wanted) and (args.audio is None or _takes_audio(entry, args.audio)):
            return entry
    return get_model(JOB_Q3)


def _takes_audio(entry: ModelEntry, value: str) -> bool:
    """Whether `--audio VALUE` means something to `entry` (a music URL, on/off, or a voice)."""
    if entry.id == PRO:
        return value.startswith(("http://", "https://"))
    if entry.id == TURBO:
        return value.lower() in ("1", "0", "true", "false", "yes", "no", "on", "off")
    return entry.has_field("voice_id")


def flag_message(exc: StillmotionError) -> str:
    """The error with the flag the user typed in place of the API field."""
    if exc.field and exc.message.startswith(exc.field + ": "):
        return f"{FLAG_OF.get(exc.field, exc.field)}: {exc.message[len(exc.field) + 2:]}"
    return exc.message


def load_image(ref: str, field: str, folder: Path, settings: Any) -> Any:
    """A StoredImage for a path, URL or data URI (validated like the API's inputs)."""
    from stillmotion.domain import StoredImage
    from stillmotion.errors import FieldInvalid
    from stillmotion.media.inputs import fetch_image_data, validate_image_bytes

    is_file = not ref.startswith(("http://", "https://", "data:"))
    if is_file:
        path = Path(ref)
        if not path.is_file():
            raise FieldInvalid(f"no such file {ref!r} (give a path, an http(s) URL or a data URI)", field=field)
        data = path.read_bytes()
    else:
        data = asyncio.run(fetch_image_data(ref, field=field, settings=settings))
    info = validate_image_bytes(data, field=field, settings=settings)
    if is_file:
        return StoredImage(str(path.resolve()), info.width, info.height)
    local = folder / f"{field.replace('[0]', '')}.{info.ext}"
    local.write_bytes(info.data)
    return StoredImage(str(local), info.width, info.height)


def run(args: argparse.Namespace) -> int:
    from stillmotion.engines import get_engine
    from stillmotion.render import render_clip
    from stillmotion.service import random_seed
    from stillmotion.settings import Settings

    # The command fetches as the user who runs it: no server, so no SSRF guard on private addresses.
    settings = Settings(allow_private_urls=True)
    output = Path(args.output)
    try:
        entry = pick_model(args)
        prepared = entry.prepare(model_args(entry, args))
        with tempfile.TemporaryDirectory(prefix="stillmotion-") as tmp:
            refs = {"image": args.image, "images[0]": args.image, "image_tail": args.tail}
            images = {f: load_image(refs[f], f, Path(tmp), settings) for f in prepared.image_refs}
            seed = prepared.requested_seed or random_seed()
            spec = entry.spec_for(prepared, images, seed)
            print(f"model {entry.id}: {spec.width}x{spec.height}, {spec.duration} s, seed {seed}", file=sys.stderr)
            if prepared.ignored:
                print(f"ignored: {', '.join(FLAG_OF.get(k, k) for k in prepared.ignored)} "
                      f"({entry.id} does not take it)", file=sys.stderr)
            output.parent.mkdir(parents=True, exist_ok=True)
            out = _render(render_clip, get_engine(entry.engine, settings), spec, output, seed, settings)
    except StillmotionError as exc:  # user-facing: one clear line, not a traceback
        print(f"error: {flag_message(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out.video} ({out.frames} frames, {spec.duration} s, audio {'yes' if out.has_audio else 'no'}; "
          f"rendered in {out.seconds:.2f} s) and its cover {out.cover}")
    ignored = (out.metadata.get("motion") or {}).get("ignored")
    if ignored:
        print(f"not moved (the {entry.engine} engine moves the camera, not the subject): {'; '.join(ignored)}",
              file=sys.stderr)
    return 0


def _render(render_clip: Any, engine: Any, spec: Any, output: Path, seed: int, settings: Any) -> Any:
    """Render with a progress bar, which starts only now that everything was validated."""
    from tqdm import tqdm

    with tqdm(total=spec.num_frames, unit="frame", desc="rendering") as bar:
        def on_frame(done: int) -> None:
            bar.update(done - bar.n)  # tqdm redraws at most every 0.1 s

        return render_clip(engine, spec, output, output.with_suffix(".jpg"), on_frame=on_frame,
                           metadata={"seed": seed}, settings=settings)
