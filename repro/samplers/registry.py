"""The sampler registry: every sampler is one entry (docs/architecture.md, "Add a sampler").

An entry holds everything the harness needs to know about a sampler, so that a new one is one
``register(Sampler(...))`` call:

- ``name``: the spec's ``sampler = "…"`` and the CLI's ``--method``; ``label``: its word in tables
  and figures; ``description``: its phrase in the claims ledger;
- ``config``: its configuration dataclass (``repro.core.config.option`` fields, checked in
  ``__post_init__``). Its fields are the sampler's spec keys (a number may be a list: a grid
  axis), its command-line options (``repro sample --gamma …``) and, through ``columns``, the
  key columns of the results table;
- ``columns``: the result columns this sampler fills from its configuration (every other
  sampler's columns stay empty); the union over the registry, in registry order, is the
  sampler part of the tidy table's key (``repro.analysis.aggregate.columns``);
- ``run(proposals, n, config, rng) -> (images, stats)``: draws n samples from
  ``repro.samplers.proposals.Proposals`` (the tuned latent prior, the generator and the ratio),
  with ``rng`` the run's random streams (``repro.core.seeds.SamplerStreams``);
- ``words``: a setting in words from its result columns, for the claims ledger and captions;
- ``scored``: whether it reads the density ratio (and so needs a discriminator); ``needs_real``:
  whether it draws on held-out real images (MH starts its chains there);
- ``version``: part of the evaluation cell's key, so a change to one sampler recomputes its
  cells only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Sampler:
    """One sampler (see the module doc)."""

    name: str
    label: str
    description: str
    config: type
    run: Callable[..., tuple[Any, dict[str, Any]]]
    scored: bool = True
    version: int = 1
    columns: Callable[[Any], dict[str, Any]] | None = None  # None: every config field is a column
    column_names: tuple[str, ...] = ()  # the columns ``columns`` fills (None: the config's fields)
    words: Callable[[dict[str, Any]], str] | None = None  # a setting's phrase from its result columns
    needs_real: bool = False  # draws on held-out real images (the validation split of a trained run)
    text_columns: tuple[str, ...] = ()  # its result columns that hold words, not numbers
    family: str = "rejection"  # "rejection": one accept/reject per proposal (Table 1's); "beyond": the others

    def phrase(self, selector: dict[str, Any]) -> str:
        """A setting in words from its result columns ("DRS at 88 % acceptance"); the label alone
        when the entry gives no ``words``."""
        return self.words(selector) if self.words is not None else self.label

    def result_columns(self) -> tuple[str, ...]:
        if self.columns is None:
            return tuple(f.name for f in dataclasses.fields(self.config) if f.name not in COMMON_SETTINGS)
        return self.column_names

    def labels(self, settings: Any) -> dict[str, Any]:
        """The result columns of one configuration (numbers as numbers, booleans as 0/1)."""
        if self.columns is not None:
            return self.columns(settings)
        return {k: _column_value(getattr(settings, k)) for k in self.result_columns()}


# Settings every ratio-reading sampler shares: not sampler columns of the results table
# (``discriminator`` is a key column of its own, the others are fixed by the study)
COMMON_SETTINGS = ("discriminator", "calibrate", "burn_in", "max_proposals_per_sample")

FAMILIES = ("rejection", "beyond")  # the order tables list them in
REGISTRY: dict[str, Sampler] = {}  # by family, then in the order registered


def register(entry: Sampler) -> Sampler:
    """Add a sampler; a name is registered once (a second entry of one name is a programming error)."""
    if entry.name in REGISTRY:
        raise ValueError(f"sampler {entry.name!r} is registered twice")
    if not dataclasses.is_dataclass(entry.config):
        raise TypeError(f"sampler {entry.name!r}: config must be a dataclass")
    if entry.family not in FAMILIES:
        raise ValueError(f"sampler {entry.name!r}: family must be one of {', '.join(FAMILIES)}")
    REGISTRY[entry.name] = entry
    ordered = sorted(REGISTRY.values(), key=lambda s: FAMILIES.index(s.family))  # stable: registration order
    REGISTRY.clear()
    REGISTRY.update((s.name, s) for s in ordered)
    return entry


def unregister(name: str) -> None:
    """Remove a sampler (tests that register a toy one take it out again)."""
    REGISTRY.pop(name, None)


def get(name: str) -> Sampler:
    """The entry of ``name``; a KeyError naming the registered samplers otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown sampler {name!r}; registered: {', '.join(REGISTRY)}") from None


def names(family: str | None = None) -> tuple[str, ...]:
    """The registered samplers (of ``family`` only, when given), in registry order."""
    return tuple(s.name for s in REGISTRY.values() if family is None or s.family == family)


def label(name: str) -> str:
    """A sampler's word in tables and figures; an unregistered name stands for itself."""
    entry = REGISTRY.get(name)
    return entry.label if entry is not None else name


def phrase(selector: dict[str, Any]) -> str:
    """The setting a selector (result columns) names, in its sampler's words ("DRS at 88%
    acceptance"); an unregistered sampler's name stands for itself."""
    entry = REGISTRY.get(str(selector.get("sampler")))
    return entry.phrase(selector) if entry is not None else str(selector.get("sampler"))


def column_names() -> tuple[str, ...]:
    """Every sampler's result columns, each once, in registry order."""
    return tuple(dict.fromkeys(c for s in REGISTRY.values() for c in s.result_columns()))


def text_column_names() -> tuple[str, ...]:
    """The sampler columns that hold words (every other sampler column holds numbers)."""
    return tuple(dict.fromkeys(c for s in REGISTRY.values() for c in s.text_columns))


def owners(field: str) -> tuple[str, ...]:
    """The samplers whose configuration has ``field``."""
    return tuple(s.name for s in REGISTRY.values() if field in {f.name for f in dataclasses.fields(s.config)})


def number(selector: dict[str, Any], key: str) -> float:
    """A number of a selector for words (NaN where absent: the phrase still reads)."""
    value = selector.get(key)
    return float("nan") if value is None else value


def _column_value(v: Any) -> Any:
    if isinstance(v, (bool, np.bool_)):
        return float(v)
    return v
