"""One exception hierarchy: the CLI turns any ``ReproError`` into one line and exit code 2."""

from __future__ import annotations

class ReproError(Exception):
    """Base class of every error repro raises on purpose (bad input, bad data, bad spec)."""


class DataError(ReproError):
    """A data file is missing, corrupt, or not what it claims to be."""


class ConfigError(ReproError):
    """A configuration value is invalid; the message names the field and what is allowed.

    ``field``: the dataclass field at fault, when one is: the text reads "field: message", and
    ``repro.core.config.load`` puts the field's dotted path in the document it reads in its place."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.message, self.field = message, field


class StoreError(ReproError):
    """The results store cannot be used as it stands (a file where its folder should be, no
    permission to write); the message names the path and what to do."""
