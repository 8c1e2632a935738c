"""`stillmotion models add | list | pull` and `stillmotion bench gpu` (registered by stillmotion/cli.py).

Only argparse work happens at import; torch and diffusers load inside the commands that need them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stillmotion.engines.diffusers.kinds import KINDS


def _settings(args: argparse.Namespace) -> Any:
    from stillmotion.settings import Settings

    return Settings(**({"data_dir": args.data_dir} if getattr(args, "data_dir", None) else {}))


def cmd_models(args: argparse.Namespace) -> int:
    from stillmotion.engines.diffusers.models import ModelDirInvalid, add_model, pull_model, read_registry

    settings = _settings(args)
    registry = settings.models_path
    try:
        if args.action == "add":
            if not args.name or not args.path:
                print("error: models add NAME PATH", file=sys.stderr)
                return 2
            entry = add_model(registry, args.name, Path(args.path), args.kind)
            print(f"registered {args.name}: {entry['kind']} ({entry['pipeline']}) at {entry['path']}")
        elif args.action == "pull":
            if not args.name:
                print("error: models pull NAME", file=sys.stderr)
                return 2
            entry = pull_model(registry, args.name, settings.data_dir / "models", args.kind)
            print(f"downloaded and registered: {entry['kind']} at {entry['path']}")
        else:
            entries = sorted(read_registry(registry).items())
            if not entries:
                print(f"no models registered (in {registry}); the CPU engine needs none. For the GPU engine: "
                      "stillmotion models add NAME PATH, or stillmotion models pull NAME (docs/gpu.md)")
            for name, entry in entries:
                print(f"{name}\t{entry['kind']}\t{entry['path']}\t{entry.get('source', 'local')}")
    except (ModelDirInvalid, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_bench_gpu(args: argparse.Namespace) -> int:
    from stillmotion.engines.diffusers.bench import run_bench

    try:
        run_bench(kind=args.kind, modes=args.modes.split(","), seconds=args.duration, resolution=args.resolution,
                  tiny=args.tiny, compile_=args.compile, out=print)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def add_commands(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    models = sub.add_parser("models", help="register, list and download model weights for the diffusers engine",
                            description="Register, list and download weights for the GPU (diffusers) engine; "
                                        "the CPU engine needs none.")
    common(models)
    models.add_argument("action", choices=["add", "list", "pull"])
    models.add_argument("name", nargs="?", help="add: a name for routes; pull: a known name or owner/repo")
    models.add_argument("path", nargs="?", help="add: a diffusers pipeline directory")
    models.add_argument("--kind", choices=sorted(KINDS), help="default: guessed from the directory")
    models.set_defaults(func=cmd_models)

    bench = sub.add_parser("bench", help="benchmarks")
    which = bench.add_subparsers(dest="bench", required=True)
    gpu = which.add_parser("gpu", help="seconds per step and peak memory of a full-size model, random weights")
    gpu.add_argument("--kind", default="wan2.1-i2v", choices=sorted(KINDS))
    gpu.add_argument("--modes", default="pro,turbo", help="comma-separated; each runs its own step count")
    gpu.add_argument("--duration", type=int, default=5)
    gpu.add_argument("--resolution", default="720p", choices=["480p", "540p", "720p", "1080p"])
    gpu.add_argument("--compile", action="store_true", help="torch.compile the transformer first")
    gpu.add_argument("--tiny", action="store_true", help="shrunk configs: a smoke test that runs on a CPU")
    gpu.set_defaults(func=cmd_bench_gpu)
