"""One exception hierarchy: the CLI turns any ``ReproError`` into one line and exit code 2."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


class ReproError(Exception):
    """Base class of every error repro raises on purpose (bad input, bad data, bad spec)."""


class DataError(ReproError):
    """A data file is missing, corrupt, or not what it claims to be."""


class ConfigError(ReproError):
    """A configuration value is invalid; the message names the field and what is allowed."""


def dataclass_from_dict(cls: type[T], d: dict[str, Any]) -> T:
    """Build a configuration dataclass from plain data (TOML, JSON, a checkpoint).

    Unknown keys are errors that list the valid ones (a misspelt option is never silently
    ignored); lists become tuples, since JSON and TOML have no tuples.
    """
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(d) - names)
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} keys {unknown}; valid keys: {', '.join(sorted(names))}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})
