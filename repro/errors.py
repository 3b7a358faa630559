"""One exception hierarchy: the CLI turns any ``ReproError`` into one line and exit code 2."""


class ReproError(Exception):
    """Base class of every error repro raises on purpose (bad input, bad data, bad spec)."""


class DataError(ReproError):
    """A data file is missing, corrupt, or not what it claims to be."""


class ConfigError(ReproError):
    """A configuration value is invalid; the message names the field and what is allowed."""
