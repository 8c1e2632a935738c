"""What the command line tells a new user: every subcommand's arguments described with their
defaults, `keys` as real subcommands (so `keys create --help` is about create), `generate` with
every API argument (stillmotion.cli_generate), the data dir in the user's XDG data dir unless
set (said at the first start), and a word when `models list` has nothing to list.

`refine(parser)` is applied to the parser stillmotion.cli builds; the commands stay there."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stillmotion import cli_generate
from stillmotion.paths import DATA_DIR_ENV, chosen_data_dir, default_data_dir

Command = Callable[[argparse.Namespace], Any]


def _setting(name: str) -> Any:
    from stillmotion.settings import Settings

    return Settings.model_fields[name].default


def _helps() -> dict[str, str]:
    return {
        "data_dir": f"database, keys and results (default {default_data_dir()}, or ${DATA_DIR_ENV})",
        "database_url": "SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db for several hosts "
                        "(default sqlite:///DATA_DIR/stillmotion.db, or $STILLMOTION_DATABASE_URL)",
        "host": f"address to listen on (default {_setting('host')}, or $STILLMOTION_HOST)",
        "port": f"port to listen on (default {_setting('port')}, or $STILLMOTION_PORT)",
    }


def _subparsers(parser: argparse.ArgumentParser) -> Any:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001


def _describe(parser: argparse.ArgumentParser) -> None:
    """Fill in each flag's help with its default and environment variable."""
    helps = _helps()
    for action in parser._actions:  # noqa: SLF001
        if action.dest in helps:
            action.help = helps[action.dest]
        elif action.dest in ("workers", "engines") and action.help and "$" not in action.help:
            for default in ("default 1", "default motion"):
                action.help = action.help.replace(f"({default}", f"({default}, or $STILLMOTION_{action.dest.upper()}")


def with_data_dir(func: Command, announce: bool) -> Command:
    """Run `func` with the per-user data dir when neither --data-dir nor the environment names one;
    the first start (no such folder yet) says where the data will live."""

    def run(args: argparse.Namespace) -> Any:
        args.data_dir = chosen_data_dir(getattr(args, "data_dir", None))
        target = args.data_dir
        if target is not None and not Path(target).exists():
            Path(target).mkdir(parents=True, exist_ok=True)
            if announce:
                print(f"stillmotion: first start; keeping data (database, keys, results) in {Path(target).resolve()}"
                      f" (--data-dir or ${DATA_DIR_ENV} to choose another)", flush=True)
        return func(args)

    return run


def _keys_parser(sub: Any, old: argparse.ArgumentParser) -> None:
    """`keys create|list|set|revoke` as subcommands, each with its own help."""
    func = old.get_default("func")
    keys = argparse.ArgumentParser(prog="stillmotion keys", description="Manage API keys (stored hashed).")
    actions = keys.add_subparsers(dest="action", required=True, metavar="{create,list,set,revoke}")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", dest="data_dir", type=Path)
        p.add_argument("--database-url", dest="database_url")
        _describe(p)
        defaults = {"balance": None, "rpm": None, "max_running": None, "unlimited": False, "name": None}
        taken = {a.dest for a in p._actions}  # noqa: SLF001
        p.set_defaults(func=with_data_dir(func, announce=True), **{k: v for k, v in defaults.items() if k not in taken})

    def limits(p: argparse.ArgumentParser, verb: str) -> None:
        money = next(a for a in old._actions if a.dest == "balance").type  # noqa: SLF001
        p.add_argument("--balance", type=money, metavar="USD",
                       help=f"{verb} USD the key may spend (default: unlimited)")
        p.add_argument("--rpm", type=int, metavar="N",
                       help=f"requests per minute (default {_setting('rate_limit_per_min')}, "
                            "or $STILLMOTION_RATE_LIMIT_PER_MIN; 0: none)")
        p.add_argument("--max-running", dest="max_running", type=int, metavar="N",
                       help=f"jobs running at once (default {_setting('max_running_per_key')}, "
                            "or $STILLMOTION_MAX_RUNNING_PER_KEY); more wait in the queue")

    create = actions.add_parser("create", help="a new key, printed once with its webhook secret",
                                description="Create an API key; it is printed once (only its SHA-256 is stored).")
    create.add_argument("name", nargs="?", default="unnamed", help="a name to recognise it by (default unnamed)")
    limits(create, "")
    common(create)
    listing = actions.add_parser("list", help="every key: id, name, state, limits", description="List the keys.")
    common(listing)
    change = actions.add_parser("set", help="change a key's limits", description="Change a key's limits.")
    change.add_argument("name", metavar="KEY_ID", help="the id `keys list` shows")
    limits(change, "")
    change.add_argument("--unlimited", action="store_true", help="remove the key's balance limit")
    common(change)
    revoke = actions.add_parser("revoke", help="revoke a key", description="Revoke a key: requests with it are refused from now on.")
    revoke.add_argument("name", metavar="KEY_ID", help="the id `keys list` shows")
    common(revoke)
    sub.choices["keys"] = keys


def _models_list_says_when_empty(func: Command) -> Command:
    def run(args: argparse.Namespace) -> Any:
        if args.action == "list":
            from stillmotion.engines.diffusers.models import read_registry
            from stillmotion.settings import Settings

            registry = Settings(**({"data_dir": args.data_dir} if args.data_dir else {})).models_path
            if not read_registry(registry):
                print(f"no models registered (in {registry}); the CPU engine needs none. For the GPU engine: "
                      "stillmotion models add NAME PATH, or stillmotion models pull NAME (docs/gpu.md)")
                return 0
        return func(args)

    return run


DESCRIPTIONS = {
    "serve": "Serve the API (every dialect), the playground at / and the docs at /docs, with in-process "
             "workers, on the embedded defaults: SQLite and files under the data dir, the CPU engine.",
    "worker": "A worker process on its own, against the same database and data dir as `serve`.",
    "models": "Register, list and download weights for the GPU (diffusers) engine; the CPU engine needs none.",
}


def refine(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    sub = _subparsers(parser)
    cli_generate.add_parser(sub)
    for name in ("serve", "worker", "models"):
        command = sub.choices.get(name)
        if command is None:
            continue
        _describe(command)
        command.description = command.description or DESCRIPTIONS[name]
        func = command.get_default("func")
        if name == "models":
            func = _models_list_says_when_empty(func)
        command.set_defaults(func=with_data_dir(func, announce=name != "models"))
    _keys_parser(sub, sub.choices["keys"])
    return parser
