"""Command line: serve, worker, generate, keys (API.md section 6)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from stillmotion.settings import Settings


def build_settings(args: argparse.Namespace) -> Settings:
    """Flags override the environment: only flags the user gave are passed on."""
    overrides = {
        name: getattr(args, name)
        for name in ("host", "port", "data_dir", "workers", "database_url", "engines")
        if getattr(args, name, None) is not None
    }
    return Settings(**overrides)


def setup_logging(level: str, fmt: str = "json") -> None:
    from stillmotion.observability import setup_logging as configure

    configure(level, fmt)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from stillmotion.api import create_app
    from stillmotion.runtime import Runtime

    settings = build_settings(args)
    setup_logging(settings.log_level, settings.log_format)
    runtime = Runtime(settings)
    key = runtime.auth.ensure_initial_key()
    if key:
        print(f"Created the first API key (shown once, keep it): {key}", flush=True)
    app = create_app(runtime, workers=settings.workers)
    print(f"stillmotion listening on {settings.base_url} (data dir {settings.data_dir.resolve()})", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from stillmotion.runtime import Runtime

    settings = build_settings(args)
    setup_logging(settings.log_level, settings.log_format)
    runtime = Runtime(settings)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    runtime.start_background(settings.workers)
    print(f"stillmotion worker running ({settings.workers} worker(s))", flush=True)
    done.wait()
    print("stopping: the running job finishes or goes back to the queue", flush=True)
    runtime.shutdown()
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from stillmotion.generate import generate_local

    settings = Settings()
    bar = tqdm(total=None, unit="frame", desc="rendering")

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        out = generate_local(
            settings,
            image=Path(args.image),
            tail=Path(args.tail) if args.tail else None,
            prompt=args.prompt,
            model=args.model,
            duration=args.duration,
            resolution=args.resolution,
            mode=args.mode,
            seed=args.seed,
            audio=args.audio,
            output=Path(args.output),
            progress=progress,
        )
    except Exception as exc:  # user-facing: one clear line, not a traceback
        bar.close()
        message = getattr(exc, "message", None) or str(exc)
        print(f"error: {message}", file=sys.stderr)
        return 2
    bar.close()
    print(f"wrote {out.video} ({out.frames} frames, {out.seconds:.2f} s)")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from stillmotion.evaluation.command import run

    return run(args)


def cmd_keys(args: argparse.Namespace) -> int:
    from stillmotion.auth import Authenticator
    from stillmotion.catalog import format_amount
    from stillmotion.storage import load_secret
    from stillmotion.store import Database

    settings = build_settings(args)
    db = Database(settings.db_url)
    db.migrate()
    store = db.accounts
    auth = Authenticator(store, settings, load_secret(settings))
    limits = {"balance": args.balance, "rate_per_min": args.rpm, "max_running": args.max_running}
    try:
        if args.action == "create":
            key, secret = auth.create_key(args.name or "unnamed", **limits)
            print(key)
            print(f"webhook secret: {secret}")
        elif args.action == "list":
            for rec in store.list_keys():
                state = f"revoked {rec.revoked_at:%Y-%m-%d}" if rec.revoked_at else "active"
                balance = "unlimited" if rec.balance is None else format_amount(rec.balance) + " USD"
                print(f"{rec.id}\t{rec.name}\t{rec.created_at:%Y-%m-%d %H:%M}\t{state}\tbalance {balance}"
                      f"\trpm {rec.rate_per_min or 'default'}\tmax running {rec.max_running or 'default'}")
        elif args.action == "set":
            changes = {k: v for k, v in limits.items() if v is not None}
            if args.unlimited:
                changes["balance"] = None
            if not args.name or not store.update_key(args.name, **changes):
                print(f"error: no key with id {args.name!r}", file=sys.stderr)
                return 2
            print(f"updated {args.name}")
        elif args.action == "revoke":
            if not args.name or not store.revoke_key(args.name):
                print(f"error: no key with id {args.name!r}", file=sys.stderr)
                return 2
            print(f"revoked {args.name}")
    finally:
        db.close()
    return 0


def _money(text: str) -> Any:
    from decimal import Decimal, InvalidOperation

    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a decimal amount: {text!r}") from None
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.000001")):
        raise argparse.ArgumentTypeError(f"balance must be >= 0 with at most 6 decimals, got {text}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="stillmotion", description="Self-hosted image-to-video service")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--data-dir", dest="data_dir", type=Path)
        sp.add_argument("--database-url", dest="database_url")

    serve = sub.add_parser("serve", help="API and in-process workers")
    common(serve)
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, help="in-process workers (default 1; 0 for API only)")
    serve.add_argument("--engines", help="engines the workers claim jobs for, comma-separated (default motion)")
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="a worker process against the same database and data dir")
    common(worker)
    worker.add_argument("--workers", type=int, help="worker threads in this process (default 1)")
    worker.add_argument("--engines", help="engines to claim jobs for, e.g. diffusers (default motion)")
    worker.set_defaults(func=cmd_worker)

    gen = sub.add_parser("generate", help="render one clip locally, no server")
    gen.add_argument("image")
    gen.add_argument("--tail", help="end frame (start-end model)")
    gen.add_argument("--prompt", required=True)
    gen.add_argument("--model", help="default: q3 image-to-video, or q2 start-end with --tail")
    gen.add_argument("--duration", type=int)
    gen.add_argument("--resolution")
    gen.add_argument("--mode")
    gen.add_argument("--seed", type=int)
    gen.add_argument("--audio", help="q2: voice_id (turns generate_audio on); turbo: true/false; pro: music URL")
    gen.add_argument("-o", "--output", required=True)
    gen.set_defaults(func=cmd_generate)

    from stillmotion.evaluation.command import add_arguments as eval_arguments  # argparse only

    ev = sub.add_parser("eval", help="quality metrics of a clip (PSNR/SSIM, VBench scores, camera motion)")
    eval_arguments(ev)
    ev.set_defaults(func=cmd_eval)

    keys = sub.add_parser("keys", help="manage API keys")
    common(keys)
    keys.add_argument("action", choices=["create", "list", "set", "revoke"])
    keys.add_argument("name", nargs="?", help="create: a name; set, revoke: the key id")
    keys.add_argument("--balance", type=_money, help="USD the key may spend (default: unlimited)")
    keys.add_argument("--unlimited", action="store_true", help="set: remove the key's balance limit")
    keys.add_argument("--rpm", type=int, help="requests per minute (default: STILLMOTION_RATE_LIMIT_PER_MIN)")
    keys.add_argument("--max-running", dest="max_running", type=int,
                      help="jobs running at once (default: STILLMOTION_MAX_RUNNING_PER_KEY)")
    keys.set_defaults(func=cmd_keys)

    from stillmotion.engines.diffusers.cli import add_commands as gpu_commands  # argparse only

    gpu_commands(sub, common)  # models add|list|pull, bench gpu
    return __import__("stillmotion.cli_polish").cli_polish.refine(p)  # help texts, generate, keys, data dir


def main(argv: list[str] | None = None) -> Any:
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
