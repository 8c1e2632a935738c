"""Command line: serve, worker, status, generate, eval, keys, models (docs/api.md, section 6)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from stillmotion.paths import DATA_DIR_ENV, default_data_dir
from stillmotion.settings import Settings


def build_settings(args: argparse.Namespace) -> Settings:
    """Flags override the environment: only flags the user gave are passed on. The first start
    (no data dir yet) says where the data will live."""
    overrides = {
        name: getattr(args, name)
        for name in ("host", "port", "data_dir", "workers", "database_url", "engines")
        if getattr(args, name, None) is not None
    }
    if getattr(args, "no_workers", False):
        overrides["workers"] = 0
    settings = Settings(**overrides)
    if not settings.data_dir.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        print(f"stillmotion: first start; keeping data (database, keys, results) in {settings.data_dir.resolve()}"
              f" (--data-dir or ${DATA_DIR_ENV} to choose another)", flush=True)
    return settings


def setup_logging(level: str, fmt: str = "auto") -> None:
    from stillmotion.observability import setup_logging as configure

    configure(level, fmt)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from stillmotion.api import create_app
    from stillmotion.api.timeouts import BodyDeadline, uvicorn_options
    from stillmotion.runtime import Runtime

    settings = build_settings(args)
    setup_logging(settings.log_level, settings.log_format)
    runtime = Runtime(settings)
    key = runtime.auth.ensure_initial_key()
    if key:
        print(f"Created the first API key (shown once, keep it): {key}", flush=True)
    app = create_app(runtime, workers=settings.workers)
    print(f"stillmotion listening on {settings.base_url} (data dir {settings.data_dir.resolve()})", flush=True)
    # log_config=None: uvicorn keeps the handler set above (one format); access lines are ours
    # header and body read deadlines: api/timeouts.py
    uvicorn.run(BodyDeadline(app, settings.body_timeout_s), host=settings.host, port=settings.port,
                log_level="warning", access_log=False, log_config=None, **uvicorn_options(settings))
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


def cmd_status(args: argparse.Namespace) -> int:
    """Live workers (host, engines, capabilities, current jobs) and the queue, from the database."""
    import json
    from datetime import UTC, datetime

    from stillmotion.store import open_database

    settings = build_settings(args)
    db = open_database(settings, pool_size=2)
    try:
        live = db.workers.live(3 * settings.heartbeat_s + 1)
        stats = db.jobs.stats()
    finally:
        db.close()
    if args.json:
        print(json.dumps({"queue": stats, "workers": [
            {"id": w.id, "host": w.host, "pid": w.pid, "engines": list(w.engines), "capabilities": w.capabilities,
             "jobs": list(w.jobs), "started_at": w.started_at.isoformat(), "seen_at": w.seen_at.isoformat()}
            for w in live]}))
        return 0
    now = datetime.now(UTC)
    print(f"queue: {stats['queued']} queued, {stats['processing']} processing, {stats['succeeded']} succeeded, "
          f"{stats['failed']} failed, {stats['canceled']} canceled")
    print(f"{len(live)} live worker(s) on {len({w.host for w in live})} host(s)")
    for w in live:
        caps = ", ".join(f"{k}={v}" for k, v in w.capabilities.items() if v) or "-"
        print(f"{w.host}\t{w.id}\tengines {','.join(w.engines)}\tcapabilities {caps}"
              f"\tjobs {','.join(w.jobs) or '-'}\tseen {(now - w.seen_at).total_seconds():.0f} s ago")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from stillmotion.evaluation.command import run

    return run(args)


def cmd_keys(args: argparse.Namespace) -> int:
    from stillmotion.auth import Authenticator
    from stillmotion.catalog import format_amount
    from stillmotion.storage import load_secret
    from stillmotion.store import open_database

    settings = build_settings(args)
    db = open_database(settings)
    store = db.accounts
    auth = Authenticator(store, settings, load_secret(settings))
    limits = {"balance": args.balance, "rate_per_min": args.rpm, "max_running": args.max_running,
              "webhook_url": args.webhook_url}
    try:
        if args.action == "create":
            key, secret = auth.create_key(args.name or "unnamed", **{**limits, "webhook_url": args.webhook_url or None})
            print(key)
            print(f"webhook secret: {secret}")
        elif args.action == "list":
            for rec in store.list_keys():
                state = f"revoked {rec.revoked_at:%Y-%m-%d}" if rec.revoked_at else "active"
                balance = "unlimited" if rec.balance is None else format_amount(rec.balance) + " USD"
                print(f"{rec.id}\t{rec.name}\t{rec.created_at:%Y-%m-%d %H:%M}\t{state}\tbalance {balance}"
                      f"\trpm {rec.rate_per_min or 'default'}\tmax running {rec.max_running or 'default'}"
                      + (f"\twebhook {rec.webhook_url}" if rec.webhook_url else ""))
        elif args.action == "set":
            changes = {k: v for k, v in limits.items() if v is not None}
            if changes.get("webhook_url") == "":
                changes["webhook_url"] = None  # --webhook-url "" removes it
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


def _default(name: str) -> Any:
    return Settings.model_fields[name].default


def _common(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--data-dir", dest="data_dir", type=Path,
                    help=f"database, keys and results (default {default_data_dir()}, or ${DATA_DIR_ENV})")
    sp.add_argument("--database-url", dest="database_url",
                    help="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db for several hosts "
                         "(default sqlite:///DATA_DIR/stillmotion.db, or $STILLMOTION_DATABASE_URL)")


def _worker_flags(sp: argparse.ArgumentParser, workers_help: str) -> None:
    sp.add_argument("--workers", type=int, help=f"{workers_help} (default 1, or $STILLMOTION_WORKERS)")
    sp.add_argument("--engines", help="engines the workers claim jobs for, comma-separated "
                                      "(default motion, or $STILLMOTION_ENGINES)")


def _keys_parser(sub: Any) -> None:
    """`keys create|list|set|revoke` as subcommands, each with its own help."""
    keys = sub.add_parser("keys", help="manage API keys", description="Manage API keys (stored hashed).")
    actions = keys.add_subparsers(dest="action", required=True, metavar="{create,list,set,revoke}")

    def limits(p: argparse.ArgumentParser) -> None:
        p.add_argument("--balance", type=_money, metavar="USD", help="USD the key may spend (default: unlimited)")
        p.add_argument("--rpm", type=int, metavar="N",
                       help=f"requests per minute (default {_default('rate_limit_per_min')}, "
                            "or $STILLMOTION_RATE_LIMIT_PER_MIN; 0: none)")
        p.add_argument("--max-running", dest="max_running", type=int, metavar="N",
                       help=f"jobs running at once (default {_default('max_running_per_key')}, "
                            "or $STILLMOTION_MAX_RUNNING_PER_KEY); more wait in the queue")
        p.add_argument("--webhook-url", dest="webhook_url", metavar="URL",
                       help="where video.completed / video.failed events of this key's /v1/videos jobs "
                            "are sent (docs/api-openai.md); \"\" removes it")

    create = actions.add_parser("create", help="a new key, printed once with its webhook secret",
                                description="Create an API key; it is printed once (only its SHA-256 is stored).")
    create.add_argument("name", nargs="?", default="unnamed", help="a name to recognise it by (default unnamed)")
    limits(create)
    listing = actions.add_parser("list", help="every key: id, name, state, limits", description="List the keys.")
    change = actions.add_parser("set", help="change a key's limits", description="Change a key's limits.")
    change.add_argument("name", metavar="KEY_ID", help="the id `keys list` shows")
    limits(change)
    change.add_argument("--unlimited", action="store_true", help="remove the key's balance limit")
    revoke = actions.add_parser("revoke", help="revoke a key",
                                description="Revoke a key: requests with it are refused from now on.")
    revoke.add_argument("name", metavar="KEY_ID", help="the id `keys list` shows")
    for action in (create, listing, change, revoke):
        _common(action)
        action.set_defaults(func=cmd_keys, balance=None, rpm=None, max_running=None, unlimited=False,
                            webhook_url=None)


def cmd_usage(args: argparse.Namespace) -> int:
    from stillmotion.upstream.money import cmd_usage as show

    return show(build_settings(args), args.key)


def parser() -> argparse.ArgumentParser:
    from stillmotion import cli_generate

    p = argparse.ArgumentParser(prog="stillmotion", description="Self-hosted image-to-video service")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser(
        "serve", help="API and in-process workers",
        description="Serve the API (every dialect), the playground at / and the docs at /docs, with in-process "
                    "workers, on the embedded defaults: SQLite and files under the data dir, the CPU engine.")
    _common(serve)
    serve.add_argument("--host", help=f"address to listen on (default {_default('host')}, or $STILLMOTION_HOST)")
    serve.add_argument("--port", type=int, help=f"port to listen on (default {_default('port')}, or $STILLMOTION_PORT)")
    _worker_flags(serve, "in-process workers; 0 for API only")
    serve.add_argument("--no-workers", dest="no_workers", action="store_true",
                       help="API only (same as --workers 0): run `stillmotion worker` on other hosts")
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser(
        "worker", help="a worker process against the same database and data dir",
        description="A worker process on its own, against the same database and data dir as `serve`.")
    _common(worker)
    _worker_flags(worker, "worker threads in this process")
    worker.set_defaults(func=cmd_worker)

    status = sub.add_parser(
        "status", help="live workers (host, engines, capabilities, jobs) and the queue",
        description="List the workers that heartbeat in the database, on every host, and the queue's counts.")
    _common(status)
    status.add_argument("--json", action="store_true", help="one JSON object instead of text")
    status.set_defaults(func=cmd_status)

    cli_generate.add_parser(sub)

    from stillmotion.evaluation.command import add_arguments as eval_arguments  # argparse only

    ev = sub.add_parser("eval", help="quality metrics of a clip (PSNR/SSIM, VBench scores, camera motion)")
    eval_arguments(ev)
    ev.set_defaults(func=cmd_eval)

    _keys_parser(sub)

    usage = sub.add_parser("usage", help="upstream jobs: price, cost and margin per key and provider",
                           description="Price (what clients paid), upstream cost and margin of upstream jobs, per "
                                       "key and provider (docs/upstream.md).")
    _common(usage)
    usage.add_argument("--key", help="only this key id")
    usage.set_defaults(func=cmd_usage)

    from stillmotion.engines.diffusers.cli import add_commands as gpu_commands  # argparse only

    gpu_commands(sub, _common)  # models add|list|pull, bench gpu
    return p


def main(argv: list[str] | None = None) -> Any:
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
