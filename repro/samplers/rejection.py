"""The rejection samplers: the plain sampler, DRS and OBRS (docs/maths.md §5–6).

One driver (``run_rejection``) draws proposals in batches, scores them, and keeps each with the
probability its rule gives, until n samples are in (the first n accepted, in order). A rule
fits its constants on a burn-in set of proposals (``prepare``), gives an acceptance probability
per proposal (``accept``) and learns from the proposals used (``advance``):

- ``none``: a = 1 (latent tuning only).
- ``drs`` (Azadi et al. 2019, §3.2 and Algorithm 1): a = σ(F(x)) with
  F = log r − log M − log(1 − exp(log r − log M − ε)) − γ. M = max r starts as the maximum on
  the burn-in set and is raised whenever a proposal beats it (proposal by proposal, so the
  result does not depend on the batch size). γ = γ₀ + ``gamma`` with γ₀ by ``gamma_convention``:
  ``absolute`` (γ₀ = 0), ``percentile`` (γ₀ = the ``gamma_percentile``-th percentile of F at
  γ = 0 on the burn-in set, Azadi et al.'s and the MH-GAN code) or ``acceptance`` (γ by
  bisection so that the burn-in's expected acceptance is ``acceptance``; the one convention
  whose number means the same for every model: docs/maths.md §6.2).
- ``obrs`` (Verine et al.): a = min(c_K r / M, 1) with M the burn-in maximum (kept fixed) and
  c_K by bisection so that the burn-in's mean acceptance is 1/K (K = ``budget``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy import special

from repro.core.config import check_choices, option
from repro.core.errors import ConfigError, ReproError
from repro.core.seeds import SamplerStreams
from repro.core.vocab import DEFAULT_GAMMA_CONVENTION, GAMMA_CONVENTIONS
from repro.maths import cost
from repro.maths.acceptance import drs_gamma_for_acceptance, drs_logit, obrs_acceptance, obrs_constant
from repro.samplers.params import NoSettings, RejectionSettings, finite, require, require_bool
from repro.samplers.proposals import Proposals, safe_exp
from repro.samplers.registry import Sampler, number, register


class AcceptanceTooLowError(ReproError):
    """Rejection sampling hit its cap on proposals before accepting ``n`` samples."""


# --------------------------------------------------------------------------- configurations


@dataclass(frozen=True)
class DRSSettings(RejectionSettings):
    """Discriminator rejection sampling (Azadi et al. 2019); the conventions: docs/maths.md §6.2."""

    gamma: float = option(0.0, help="DRS γ (absolute), or offset from the burn-in percentile (percentile)")
    gamma_convention: str | None = option(None, choices=GAMMA_CONVENTIONS, help=(
        "absolute γ (the lecture's), offset from the burn-in percentile (Azadi et al.'s code), or acceptance "
        "(γ found per model for the target acceptance); default: acceptance when acceptance is given, else "
        f"{DEFAULT_GAMMA_CONVENTION}. Signs: docs/maths.md §6.2"))
    gamma_percentile: float = option(95.0, help="the burn-in percentile γ is an offset from (percentile)")
    acceptance: float | None = option(None, help=(
        "target acceptance in (0, 1]: γ is chosen on the burn-in set so that the expected acceptance is this "
        "(the convention that means the same for every model)"))
    eps: float = option(1e-6, help="DRS ε (Azadi et al. use 1e-6; ε → 0 with γ = 0 is plain rejection sampling)")
    update_M: bool = option(True, help="raise M when a proposal's ratio beats it (Azadi et al.); not with a "
                                       "target acceptance, whose γ holds for the burn-in M")

    def __post_init__(self) -> None:
        if self.gamma_convention is None:  # the convention a target acceptance implies
            convention = "acceptance" if self.acceptance is not None else DEFAULT_GAMMA_CONVENTION
            object.__setattr__(self, "gamma_convention", convention)
        super().__post_init__()
        check_choices(self)
        require(self, "gamma", finite(self.gamma), "a finite number")
        if (self.gamma_convention == "acceptance") != (self.acceptance is not None):
            raise ConfigError("is the target of gamma_convention = 'acceptance': set both or neither",
                              field="acceptance")
        require(self, "acceptance", self.acceptance is None or (finite(self.acceptance) and 0 < self.acceptance <= 1),
                "a target acceptance rate in (0, 1]")
        if self.acceptance is not None and self.gamma != 0.0:
            raise ConfigError("with a target acceptance γ is found per model; leave gamma out", field="gamma")
        require(self, "gamma_percentile", finite(self.gamma_percentile) and 0 <= self.gamma_percentile <= 100,
                "a number in [0, 100]")
        require(self, "eps", finite(self.eps) and self.eps >= 0, "a finite number ≥ 0")
        require_bool(self, "update_M")


@dataclass(frozen=True)
class OBRSSettings(RejectionSettings):
    """Optimal budgeted rejection sampling (Verine et al.)."""

    budget: float = option(1.0, help="OBRS budget K ≥ 1: expected proposals per accepted sample (1 accepts all)")

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self, "budget", finite(self.budget) and self.budget >= 1, "a finite number ≥ 1")


# --------------------------------------------------------------------------- the rules


class Rule:
    """How a rejection sampler turns log-ratios into acceptance probabilities. ``none`` accepts all."""

    scored = False

    def __init__(self, settings: Any) -> None:
        self.p = settings
        self.log_M: float | None = None

    def prepare(self, burn: np.ndarray, stats: dict[str, Any]) -> None:
        """Fit the constants on the burn-in log-ratios (burn_in,); record them in ``stats``."""

    def accept(self, lr: np.ndarray) -> np.ndarray:
        """Acceptance probabilities (k,) of k proposals with log-ratios ``lr`` (k,)."""
        return np.ones(len(lr))

    def advance(self, used: int, stats: dict[str, Any]) -> None:
        """The first ``used`` proposals of the last ``accept`` call were consumed."""


class DRSRule(Rule):
    """Azadi et al.'s a = σ(F(x) − γ), F as in ``acceptance.drs_logit`` (docs/maths.md §6.1–6.2)."""

    scored = True

    def prepare(self, burn, stats):
        p = self.p
        F0 = drs_logit(burn, self.log_M, 0.0, p.eps)  # (burn_in,) F at γ = 0
        if p.gamma_convention == "acceptance":
            gamma0, offset = drs_gamma_for_acceptance(F0, p.acceptance), 0.0
        else:
            gamma0 = float(np.percentile(F0, p.gamma_percentile)) if p.gamma_convention == "percentile" else 0.0
            offset = p.gamma
        if not math.isfinite(gamma0):
            raise ReproError(f"gamma0 = {gamma0} on the burn-in set; use eps > 0 or a larger burn_in")
        self.gamma = gamma0 + offset
        stats.update(gamma_convention=p.gamma_convention, gamma_offset=offset, gamma0=gamma0, gamma=self.gamma,
                     eps=p.eps, expected_acceptance_burn_in=float(special.expit(F0 - self.gamma).mean()))
        if p.gamma_convention == "percentile":
            stats["gamma_percentile"] = p.gamma_percentile
        if p.gamma_convention == "acceptance":
            stats["target_acceptance"] = p.acceptance
        # With a target acceptance, M stays at its burn-in value: γ was solved for that M, and
        # raising M afterwards lowers the acceptance below the target (on a sharp refit ratio it
        # fell toward 0 and DRS at 6 % hit the proposal cap)
        self.update_M = p.update_M and p.gamma_convention != "acceptance"

    def accept(self, lr):
        # the running maximum proposal by proposal (Azadi et al., Algorithm 1)
        k = len(lr)
        self.running = np.maximum.accumulate(np.maximum(lr, self.log_M)) if self.update_M else np.full(k, self.log_M)
        return special.expit(drs_logit(lr, self.running, self.gamma, self.p.eps))  # (k,)

    def advance(self, used, stats):
        if self.update_M and used > 0:
            stats["M_updates"] += int(np.count_nonzero(np.diff(np.concatenate([[self.log_M], self.running[:used]])) > 0))
            self.log_M = float(self.running[used - 1])


class OBRSRule(Rule):
    """Verine et al.'s a = min(c_K r / M, 1), c_K such that the burn-in acceptance is 1/K (§6.3)."""

    scored = True

    def prepare(self, burn, stats):
        r_over_M = np.exp(burn - self.log_M)  # (burn_in,) in [0, 1]
        self.c = obrs_constant(r_over_M, 1.0, self.p.budget)
        stats.update(budget=self.p.budget, c_K=self.c if math.isfinite(self.c) else None,  # None: K = 1
                     expected_acceptance_burn_in=float(obrs_acceptance(r_over_M, 1.0, self.c).mean()))

    def accept(self, lr):
        return obrs_acceptance(np.exp(np.minimum(lr - self.log_M, 700.0)), 1.0, self.c)  # (k,)


# --------------------------------------------------------------------------- the driver


def run_rejection(rule: Rule, src: Proposals, n: int, rng: SamplerStreams) -> tuple[torch.Tensor, dict[str, Any]]:
    """Fit ``rule`` on the burn-in set, then propose, score and accept until ``n`` samples are in."""
    p = rule.p
    stats: dict[str, Any] = {"burn_in": p.burn_in if rule.scored else 0, "M_updates": 0}
    if rule.scored:
        burn = src.burn_in(p.burn_in)  # (burn_in,) log r
        rule.log_M = float(burn.max())
        if not math.isfinite(rule.log_M):
            raise ReproError(
                f"the largest log-ratio on the burn-in set is {rule.log_M}: the discriminator gives no usable ratio"
            )
        stats.update(log_M_burn_in=rule.log_M, M_burn_in=safe_exp(rule.log_M))
        rule.prepare(burn, stats)

    # the plain sampler accepts every proposal: no cap (its batches are whole, as the others')
    cap = math.ceil(p.max_proposals_per_sample * n) if rule.scored else math.inf
    chunks: list[torch.Tensor] = []
    accepted = proposals = 0
    while accepted < n:
        if proposals >= cap:
            _too_low(accepted, proposals, n, p.max_proposals_per_sample)
        k = min(src.batch_size, cap - proposals)
        x, lr = src.draw(k, rule.scored)
        keep = np.flatnonzero(rng.uniforms.random(k) < rule.accept(lr)) if rule.scored else np.arange(k)
        need = n - accepted
        if len(keep) >= need:
            keep = keep[:need]
            used = int(keep[-1]) + 1
        else:
            used = k
        rule.advance(used, stats)
        proposals += used
        accepted += len(keep)
        if len(keep):
            chunks.append(x[torch.as_tensor(keep, device=x.device)].cpu())

    images = torch.cat(chunks) if chunks else src.empty()
    stats.update(proposals=proposals, accepted=accepted, acceptance_rate=(accepted / proposals) if proposals else 1.0)
    burn_n = p.burn_in if rule.scored else 0
    stats.update(cost.record(n, g=proposals, d=proposals if rule.scored else 0, setup_g=burn_n, setup_d=burn_n))
    if rule.log_M is not None:
        stats.update(log_M=rule.log_M, M=safe_exp(rule.log_M))
    return images, stats


def _too_low(accepted: int, proposals: int, n: int, cap: float) -> None:
    rate = accepted / proposals if proposals else 0.0
    raise AcceptanceTooLowError(
        f"acceptance too low: {accepted} of {n} samples accepted after {proposals} proposals "
        f"(acceptance so far {rate:.3g}); reached the cap max_proposals_per_sample × n = "
        f"{cap:g} × {n}. Raise max_proposals_per_sample, lower gamma or the budget, or check the discriminator"
    )


def rejection(rule: type[Rule]):
    """A registry ``run`` for ``rule``."""
    def run(src: Proposals, n: int, settings: Any, rng: SamplerStreams) -> tuple[torch.Tensor, dict[str, Any]]:
        return run_rejection(rule(settings), src, n, rng)

    run.__name__ = f"run_{rule.__name__}"
    return run


def _drs_columns(s: DRSSettings) -> dict[str, Any]:
    # γ is a column where it is a setting (not where a target acceptance finds it per model)
    return {"gamma": s.gamma if s.gamma_convention != "acceptance" else None,
            "gamma_convention": s.gamma_convention, "target_acceptance": s.acceptance}


def _drs_words(s: dict[str, Any]) -> str:
    if s.get("target_acceptance") is not None:
        return f"DRS at {s['target_acceptance']:.0%} acceptance"
    return f"DRS at γ = {number(s, 'gamma'):g}"


register(Sampler("none", "plain", "the plain sampler", NoSettings, rejection(Rule), scored=False,
                 words=lambda s: "plain sampler"))
register(Sampler("drs", "DRS", "discriminator rejection sampling (Azadi et al.)", DRSSettings, rejection(DRSRule),
                 columns=_drs_columns, column_names=("gamma", "gamma_convention", "target_acceptance"),
                 text_columns=("gamma_convention",),
                 words=_drs_words))
register(Sampler("obrs", "OBRS", "optimal budgeted rejection sampling (Verine et al.)", OBRSSettings,
                 rejection(OBRSRule), words=lambda s: f"OBRS K = {number(s, 'budget'):g}"))
