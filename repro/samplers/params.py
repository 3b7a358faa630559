"""What decides how samples are drawn: the latent tuning every sampler shares (σ, ψ) and the
sampler's own configuration (``repro.samplers.registry``), and the settings every sampler that
reads the density ratio shares (which discriminator, calibration, the burn-in).

``SamplingParams`` is built from flat plain data (a spec's block, the command line, a cell's
record): ``{"method": "drs", "sigma": 1.0, "acceptance": 0.88}``. Keys other than method, σ and ψ
go to the sampler's configuration; another sampler's key is refused by name, never ignored.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from repro.core import config
from repro.core.config import MAX_SAMPLES, check_choices, option
from repro.core.errors import ConfigError
from repro.core.vocab import DISCRIMINATORS
from repro.samplers import registry

VERSION_KEY = "sampler_version"  # beside the settings in a cell's configuration (hashed_dict)
# Upper bounds past which a setting only produces non-finite images or runs for hours: σ scales
# z ~ N(0, σ² I) (σ = 4 is already far in the tails)
MAX_SIGMA = 100.0


def finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def require(obj: Any, field: str, ok: bool, allowed: str) -> None:
    """A ConfigError naming ``field`` and what it allows unless ``ok``."""
    if not ok:
        raise ConfigError(f"{getattr(obj, field)!r} is not allowed; expected {allowed}", field=field)


def require_int(obj: Any, field: str, low: int, high: int) -> None:
    value = getattr(obj, field)
    require(obj, field, config.is_int(value) and low <= value <= high, f"an integer from {low} to {high:,}")


def require_bool(obj: Any, *fields: str) -> None:
    for field in fields:
        require(obj, field, isinstance(getattr(obj, field), bool), "True or False")


# --------------------------------------------------------------------------- shared settings


@dataclass(frozen=True)
class NoSettings:
    """A sampler without settings of its own (the plain sampler)."""


@dataclass(frozen=True)
class RatioSettings:
    """What every sampler that reads the density ratio r = p/q shares (docs/maths.md §6.4)."""

    discriminator: str = option("refit", choices=DISCRIMINATORS, help=(
        "the ratio's discriminator: refit = D refitted against the sampled generator and calibrated (cached "
        "in the run folder); raw = the training run's D, fitted against the raw generator, not the EMA copy "
        "that is sampled"))
    calibrate: bool = option(False, help=(
        "Platt-scale the raw D on the validation split of the run's data set first (the refit D is "
        "calibrated already)"))

    def __post_init__(self) -> None:
        check_choices(self)
        require_bool(self, "calibrate")


@dataclass(frozen=True)
class BurnInSettings(RatioSettings):
    """A ratio-reading sampler that fits constants on a burn-in set of proposals first."""

    burn_in: int = option(10_000, help="proposals that fix M and the rule's constants (not returned, not counted)")

    def __post_init__(self) -> None:
        super().__post_init__()
        require_int(self, "burn_in", 1, MAX_SAMPLES)


@dataclass(frozen=True)
class RejectionSettings(BurnInSettings):
    """A rejection sampler: keeps each proposal with a probability; gives up past a cap."""

    max_proposals_per_sample: float = option(1000.0, help="the run fails once proposals exceed this × n")

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self, "max_proposals_per_sample", finite(self.max_proposals_per_sample)
                and self.max_proposals_per_sample >= 1, "a finite number ≥ 1")


# --------------------------------------------------------------------------- the parameters


@dataclass(frozen=True)
class SamplingParams:
    """A sampler and its configuration, after the latent tuning every sampler shares.

    method: a registered sampler (``repro.samplers.registry``); sigma: latent standard
    deviation (soft truncation; 1 = the training prior); psi: hard-truncation threshold on
    |z_i| (None = none); settings: the sampler's configuration (None: its defaults). A sampler's
    own fields read through the parameters: ``params.budget`` is ``params.settings.budget``.
    """

    method: str = option("none", help="the sampler (repro.samplers.registry)")
    sigma: float = option(1.0, help="latent std (soft truncation)")
    psi: float | None = option(None, help="hard truncation |z_i| ≤ ψ")
    settings: Any = None

    def __post_init__(self) -> None:
        if self.method not in registry.REGISTRY:
            raise ConfigError(f"{self.method!r} is not allowed; expected one of {', '.join(registry.REGISTRY)}",
                              field="method")
        require(self, "sigma", finite(self.sigma) and 0 < self.sigma <= MAX_SIGMA,
                f"a number in (0, {MAX_SIGMA:g}] (the latent prior's scale)")
        require(self, "psi", self.psi is None or (finite(self.psi) and self.psi > 0), "None or a finite number > 0")
        if self.psi is not None and math.erf(self.psi / (self.sigma * math.sqrt(2))) < 1e-3:
            raise ConfigError(f"{self.psi} is too small for sigma = {self.sigma}: fewer than 1 in 1000 "
                              "coordinates would fall inside; use psi ≥ 0.002 · sigma", field="psi")
        cls = self.sampler.config
        if self.settings is None:
            object.__setattr__(self, "settings", cls())
        elif type(self.settings) is not cls:
            raise ConfigError(f"settings of sampler {self.method!r} must be a {cls.__name__}; "
                              f"got {type(self.settings).__name__}")

    def __getattr__(self, name: str) -> Any:
        # the sampler's own fields, read through the parameters (only called for unknown names)
        if name.startswith("_") or name == "settings":
            raise AttributeError(name)
        try:
            return getattr(object.__getattribute__(self, "settings"), name)
        except AttributeError:
            raise AttributeError(f"sampler {self.method!r} has no setting {name!r}") from None

    @property
    def sampler(self) -> registry.Sampler:
        return registry.get(self.method)

    @property
    def scored(self) -> bool:
        """Whether the sampler reads the density ratio (needs a discriminator)."""
        return self.sampler.scored

    @classmethod
    def from_dict(cls, d: Any, where: str = "") -> SamplingParams:
        """From flat plain data (see the module doc); errors name the dotted field."""
        prefix = f"{where}." if where else ""
        if not isinstance(d, dict):
            raise ConfigError(f"{where or 'sampling'}: expected a table, got {config.type_name(d)}")
        method = d.get("method", "none")
        if method not in registry.REGISTRY:
            raise ConfigError(f"{prefix}method: {method!r} is not allowed; expected one of "
                              f"{', '.join(registry.REGISTRY)}")
        entry = registry.get(method)
        own = {f.name for f in dataclasses.fields(entry.config)}
        for key in d:
            if key in ("method", "sigma", "psi") or key in own:
                continue
            owners = registry.owners(key)
            if owners:
                names = " or ".join(f'"{o}"' for o in owners)
                raise ConfigError(f"{prefix}{key}: applies to sampler = {names}, not {method!r}")
            raise ConfigError(f"{prefix}{key}: unknown field; allowed for sampler {method!r}: "
                              f"{', '.join(['method', 'sigma', 'psi', *sorted(own)])}")
        settings = config.load(entry.config, {k: v for k, v in d.items() if k in own}, where)
        common = {k: config.convert(d[k], config.hints(cls)[k], prefix + k) for k in ("sigma", "psi") if k in d}
        try:
            return cls(method=method, settings=settings, **common)
        except ConfigError as exc:
            raise ConfigError(f"{prefix}{exc.field}: {exc.message}" if exc.field else str(exc)) from None

    @classmethod
    def of(cls, **flat: Any) -> SamplingParams:
        """``SamplingParams.of(method="drs", acceptance=0.88)``: ``from_dict`` with keywords."""
        return cls.from_dict(flat)

    def to_dict(self) -> dict[str, Any]:
        """Flat plain data that ``from_dict`` reads back to these parameters."""
        return {"method": self.method, "sigma": self.sigma, "psi": self.psi, **dataclasses.asdict(self.settings)}

    def replace(self, **flat: Any) -> SamplingParams:
        return SamplingParams.from_dict({**self.to_dict(), **flat})

    def hashed_dict(self) -> dict[str, Any]:
        """What names a sampling setting in a cell's configuration: its fields and the sampler's version."""
        return {**self.to_dict(), VERSION_KEY: self.sampler.version}

    @classmethod
    def from_hashed(cls, d: dict[str, Any]) -> SamplingParams:
        """The parameters a cell's configuration (``hashed_dict``) names."""
        return cls.from_dict({k: v for k, v in d.items() if k != VERSION_KEY})

    def labels(self) -> dict[str, Any]:
        """The sampler part of a result's key columns: every registered sampler's columns, filled
        for this one (``Sampler.labels``) and empty for the others."""
        out: dict[str, Any] = {"sigma": self.sigma, "psi": self.psi, "sampler": self.method}
        out.update(dict.fromkeys(registry.column_names()))
        out.update(self.sampler.labels(self.settings))
        out["discriminator"] = getattr(self.settings, "discriminator", None) if self.scored else None
        return out


def option_classes() -> list[type]:
    """The dataclasses whose fields are sampling options: the parameters', then every sampler's."""
    return [SamplingParams, *(s.config for s in registry.REGISTRY.values())]
