"""One typed loader from plain data (TOML, JSON, command-line text) to the configuration
dataclasses: training, sampling, evaluation, resources, the feature classifier.

A configuration dataclass declares each field once: its type hint, its default and, through
``option(...)``, its allowed values and a help text. From that declaration

- ``load(cls, data, where)`` checks every value against its field's type (dotted error paths:
  ``evaluate.n_samples: expected an integer, got a string 'x'``), refuses unknown keys (listing
  the allowed ones), turns lists into tuples and integers into floats where a float is meant,
  and then lets the class's ``__post_init__`` check the rules across fields; a ``ConfigError``
  it raises for a field (``ConfigError(..., field=name)``) is re-raised with the dotted path;
- ``repro.cli.options`` builds the command-line options of ``repro train`` and ``repro sample``.

So a field, a default or an allowed value is changed in one place, the dataclass.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from repro.core.errors import ConfigError

T = TypeVar("T")

# The most samples (or burn-in proposals) a configuration may ask for: 10⁶ float32 MNIST images
# are 3 GB, past what a laptop holds twice. A constant, so that a spec valid on one machine is
# valid on every other.
MAX_SAMPLES = 1_000_000


def option(default: Any, *, choices: tuple[str, ...] | None = None, help: str = "") -> Any:  # noqa: A002
    """A dataclass field with its allowed values and help text (read by ``load`` and the CLIs)."""
    meta = {"choices": tuple(choices) if choices is not None else None, "help": help}
    return dataclasses.field(default=default, metadata=meta)


def choices_of(f: dataclasses.Field) -> tuple[str, ...] | None:
    return f.metadata.get("choices")


def help_of(f: dataclasses.Field) -> str:
    return f.metadata.get("help", "")


@functools.cache
def hints(cls: type) -> dict[str, Any]:
    """Resolved type hints of a dataclass's fields (the modules use postponed annotations)."""
    return typing.get_type_hints(cls)


# --------------------------------------------------------------------------- types


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)


def type_name(value: Any) -> str:
    """How an error names the type of a value it got."""
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            tuple: "a list", dict: "a table"}.get(type(value), type(value).__name__)


def _optional(hint: Any) -> tuple[bool, Any]:
    """(whether None is allowed, the hint without None)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return len(args) < len(typing.get_args(hint)), (args[0] if len(args) == 1 else typing.Union[tuple(args)])
    return False, hint


def describe(hint: Any) -> str:
    """A type hint in words: 'an integer', 'a list of 2 numbers', 'a number or none'."""
    optional, base = _optional(hint)
    origin, args = typing.get_origin(base), typing.get_args(base)
    if origin is tuple:
        words = (f"a list of {describe(args[0]).split(' ', 1)[1]}s" if len(args) == 2 and args[1] is Ellipsis
                 else f"a list of {len(args)} {describe(args[0]).split(' ', 1)[1]}s")
    elif origin is dict:
        words = f"a table of {describe(args[1])}"
    else:
        words = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(
            base, getattr(base, "__name__", str(base)))
    return words + (" or none" if optional else "")


def convert(value: Any, hint: Any, where: str) -> Any:
    """``value`` checked against ``hint`` and normalised (list → tuple, int → float); raises a
    ``ConfigError`` naming ``where`` and the expected type."""
    optional, base = _optional(hint)
    if value is None and optional:
        return None
    origin, args = typing.get_origin(base), typing.get_args(base)
    bad = ConfigError(f"{where}: expected {describe(hint)}, got {type_name(value)} {value!r}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise bad
        elems = [args[0]] * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args)
        if len(elems) != len(value):
            raise bad
        return tuple(convert(v, h, f"{where}[{i}]") for i, (v, h) in enumerate(zip(value, elems, strict=True)))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise bad
        return {k: convert(v, args[1], f"{where}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(base):
        if not isinstance(value, Mapping):
            raise bad
        return load(base, value, where)
    checks = {bool: lambda v: isinstance(v, bool), int: is_int, float: is_number, str: lambda v: isinstance(v, str)}
    if base in checks:
        if not checks[base](value):
            raise bad
        return float(value) if base is float else value
    return value  # a hint this loader does not know: the class's own checks decide


# --------------------------------------------------------------------------- the loader


def load(cls: type[T], data: Mapping[str, Any], where: str = "") -> T:
    """An instance of the configuration dataclass ``cls`` from plain data (see the module doc);
    fields absent from ``data`` keep their defaults. ``where`` prefixes error paths."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or cls.__name__}: expected a table, got {type_name(data)}")
    prefix = f"{where}." if where else ""
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}: unknown field; allowed here: {', '.join(sorted(fields))}")
    values = {}
    for name, value in data.items():
        values[name] = convert(value, hints(cls)[name], prefix + name)
    try:
        return cls(**values)
    except ConfigError as exc:
        if exc.field is None:
            raise ConfigError(f"{where}: {exc}" if where else str(exc)) from None
        raise ConfigError(f"{prefix}{exc.field}: {exc.message}") from None


def check_choices(obj: Any) -> None:
    """Each field declared with ``option(choices=...)`` holds one of them (None passes: a field
    whose None means 'the default'). Call from ``__post_init__``."""
    for f in dataclasses.fields(obj):
        allowed, value = choices_of(f), getattr(obj, f.name)
        if allowed is not None and value is not None and value not in allowed:
            raise ConfigError(f"{value!r} is not allowed; expected one of {', '.join(allowed)}", field=f.name)


def check_minimum(obj: Any, minimum: Mapping[str, int], maximum: Mapping[str, int] | None = None) -> None:
    """Integer fields at least (and at most) the given bounds. Call from ``__post_init__``."""
    for name, low in minimum.items():
        value = getattr(obj, name)
        if not is_int(value):
            raise ConfigError(f"expected an integer, got {type_name(value)} {value!r}", field=name)
        if value < low:
            raise ConfigError(f"{value} is too small; expected an integer ≥ {low}", field=name)
        high = (maximum or {}).get(name)
        if high is not None and value > high:
            raise ConfigError(f"{value} is too large; expected at most {high:,}", field=name)


def parse_text(text: str, hint: Any) -> Any:
    """A command-line string as a value of ``hint`` (tuples comma-separated; 'none' for None;
    booleans spelt true/false, yes/no, on/off, 1/0). Raises ``ValueError``."""
    optional, base = _optional(hint)
    if optional and text.lower() in ("none", "auto", "default"):
        return None
    if typing.get_origin(base) is tuple:
        elem = typing.get_args(base)[0]
        return tuple(parse_text(x.strip(), elem) for x in text.split(",") if x.strip())
    if base is bool:
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError("expected true or false")
    return base(text) if base in (int, float, str) else text
