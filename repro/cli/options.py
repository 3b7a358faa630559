"""Command-line options generated from a configuration dataclass (``repro.core.config``): one option
per field, ``--lr-d 1e-4`` for ``lr_d``, with the field's type, allowed values, help text and
default, so the CLI, the API and a spec share one table. Tuples are comma-separated
(``--g-widths 128,256``), an optional field takes ``none``, a plain boolean is a switch
(``--calibrate`` / ``--no-calibrate``)."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from repro.core import config

PREFIX = "cfg_"  # the namespace keys of generated options, apart from the command's own


def _parser_for(hint: Any):
    def parse(text: str) -> Any:
        try:
            return config.parse_text(text, hint)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from exc

    return parse


def add_options(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ()) -> None:
    """One option per field of ``cls`` not in ``skip``; a field left out of the command line is
    left out of ``given(args)`` (so the dataclass's default, or its per-objective default, holds)."""
    hints = config.hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        text = config.help_of(f) or f"{cls.__name__}.{f.name}"
        kwargs: dict[str, Any] = {"dest": PREFIX + f.name, "default": argparse.SUPPRESS,
                                  "help": f"{text} (default: {f.default})"}
        if hints[f.name] is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif config.choices_of(f) is not None:
            kwargs["choices"] = config.choices_of(f)
        else:
            kwargs["type"], kwargs["metavar"] = _parser_for(hints[f.name]), f.name.upper()
        parser.add_argument("--" + f.name.replace("_", "-"), **kwargs)


def given(args: argparse.Namespace) -> dict[str, Any]:
    """The generated options that were given on the command line, by field name."""
    return {k[len(PREFIX):]: v for k, v in vars(args).items() if k.startswith(PREFIX)}
