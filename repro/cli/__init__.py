"""``python -m repro …``: one sub-command module per stage, each with ``register(subparsers)``.

A command module adds its parser and sets ``func`` (args -> exit code). Any ``ReproError``, and
any ``OSError`` (a full disk, a read-only folder), ends the command with one line on stderr and
exit code 2 — no traceback for bad input.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from typing import Any

from repro.core.versions import PACKAGE as __version__
from repro.core.errors import ReproError

# Modules under repro.cli, in --help order.
COMMANDS = ("data", "features", "train", "sample", "evaluate", "study", "paper")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m repro",
        description="Precision and recall of generative models: data, features, training, "
        "sampling, studies and the paper.",
    )
    parser.add_argument("--version", action="version", version=f"repro {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"repro.cli.{name}").register(sub)
    return parser


def emit(obj: dict[str, Any], as_json: bool) -> None:
    """Print a result: one JSON object (for scripts) or aligned ``key: value`` lines."""
    if as_json:
        print(json.dumps(obj, sort_keys=True, default=str))
        return
    width = max((len(k) for k in obj), default=0)
    for key, value in obj.items():
        print(f"{key:<{width}}  {value}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args) or 0)
    except ReproError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a read-only folder, a file in a folder's place: one line
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
