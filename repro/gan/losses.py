"""The objectives as losses on raw discriminator scores (pure functions; docs/maths.md §3–4)."""

from __future__ import annotations

import torch

from repro.gan.config import TrainConfig
from repro.maths import divergences


def straight_through_clamp(v: torch.Tensor, bound: float) -> torch.Tensor:
    """clamp(v, −bound, bound) in the forward pass, identity gradient (bound 0: no clamp).

    A hard clamp passes no gradient outside the bound and froze training (docs/maths.md §4)."""
    if bound <= 0:
        return v
    return v + (v.clamp(-bound, bound) - v).detach()


def d_loss(v_real: torch.Tensor, v_fake: torch.Tensor, cfg: TrainConfig) -> torch.Tensor:
    """The discriminator's loss on raw scores (B,), (B,): minus the dual bound of its divergence."""
    c = cfg.clamp or 0.0
    return divergences.discriminator_loss(
        straight_through_clamp(v_real, c), straight_through_clamp(v_fake, c), cfg.ratio_divergence
    )


def pr_lambda(cfg: TrainConfig, epoch: int) -> float:
    """λ used by G in ``epoch`` (0-based): min(λ, warm-up λ₀) during the warm-up epochs."""
    return min(cfg.lam, cfg.pr_warmup_lam) if epoch < (cfg.pr_warmup_epochs or 0) else cfg.lam


def g_loss(v_fake: torch.Tensor, cfg: TrainConfig, epoch: int) -> torch.Tensor:
    """The generator's loss on the scores (B,) of its samples."""
    v = straight_through_clamp(v_fake, cfg.clamp or 0.0)
    if cfg.loss == "pr":
        if cfg.gen_form == "log":
            return divergences.pr_generator_loss_log(v, pr_lambda(cfg, epoch), cfg.aux)
        return divergences.pr_generator_loss(v, pr_lambda(cfg, epoch), cfg.aux)
    if cfg.loss == "bce":
        return divergences.generator_loss(v, "bce", cfg.gen_form or "nonsaturating")
    if cfg.critic == "logistic":
        return divergences.ratio_generator_loss(divergences.log_ratio(v, "bce"), cfg.loss, cfg.gen_form or "minimax")
    return divergences.generator_loss(v, cfg.loss, cfg.gen_form or "minimax")
