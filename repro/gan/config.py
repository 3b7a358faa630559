"""The training configuration: what determines a GAN training run, and the per-objective
defaults with the evidence for them.

Objectives (``repro.maths.divergences``; docs/maths.md §3–4):

- ``bce``: the non-saturating GAN, −E_Q log σ(v).
- ``js``, ``kl``, ``rkl``: f-GANs. With ``critic = "dual"`` D minimises −E_P[g_f(v)] +
  E_Q[f*(g_f(v))] (its divergence's dual bound); with ``critic = "logistic"`` D is a ratio
  estimator trained with the logistic loss (its logit estimates log p/q) and G's loss is taken at
  T = f′(r) (docs/maths.md §3.4). G minimises the min–max loss E_Q[−f*(T)] or the non-saturating
  −E_Q[T] (``gen_form``). Defaults: js → minimax with its own critic (non-saturating JS *is* BCE
  up to a constant, identical runs: tested; its critic is the logistic one up to a constant);
  kl and rkl → minimax against the logistic critic, the forms that descend KL(P‖Q) and KL(Q‖P)
  (the non-saturating KL descends the *reverse* KL, docs/maths.md §3.3; it stays selectable and
  is then labelled "KL critic, reverse-KL generator").
- ``pr``: the λ-PR GAN (Verine et al. 2023). D is trained on the auxiliary divergence ``aux``;
  G minimises −E_Q[min(λ r(G(z)), 1)] with r the auxiliary ratio estimate (``gen_form``
  primal, the default: the loss of Verine et al.'s code), or the surrogate
  −E_Q[min(log λ r, 0)] (``log``). With the critic held fixed, the two descend different
  truncated divergences, neither of them D_λ (docs/maths.md §3.3). Fine-tuning a BCE model at
  λ = 0.1 → 10 (seed 0, 5000 vs 5000 test images), the primal form moved P 0.59 → 0.62 and
  R 0.38 → 0.36, the log form P 0.57 → 0.62 and R 0.37 → 0.33: both train, so the primal form,
  the one the paper describes, is the default. T is never hard-clamped (D keeps its gradient).
  The default recipe is fine-tuning, as in Verine et al.: start from a trained BCE model
  (``init_from``), small rates (1e-4), 2 D steps per G step, EMA 0.995. From scratch, G gets no
  gradient at λ ≥ 1 (min(λ r, 1) = 1 while r ≈ 1) and χ² blew up; ``pr_warmup_epochs`` (G uses
  min(λ, ``pr_warmup_lam``) for those epochs) is the knob for that route, off by default.

Defaults (``OBJECTIVE_DEFAULTS``), chosen by measurement on MNIST with the seed report's MLP,
batch 64, dropout 0.3 in D, EMA 0.999 of G, Adam (0.5, 0.999); P/R: 5000 samples vs 5000 test
images, k = 3, classifier features; seed 0 unless said. BCE, JS, KL and RKL share one recipe
and differ in G's loss only; docs/training.md has the measurements (and the training bar).

- two time-scales at twice the usual rates, G 4e-4 and D 8e-4: BCE after 8 epochs (~5 CPU
  minutes) P 0.63 / R 0.43, against P 0.71 / R 0.26 after 10 epochs at (2e-4, 4e-4) and R 0.06 at
  (2e-4, 2e-4). The EMA is what makes the MLP usable: the raw G of that run gave P 0.33 / R 0.12.
  JS: 0.05x of its initial FID in 6 epochs (0.18x in 5 at (2e-4, 4e-4)).
- kl and rkl with their own f-GAN critics collapsed on this budget (recall 0.00 with spectral
  norm, clamping and slower D rates); against the logistic critic, with the shared recipe, both
  pass the training bar from 9 epochs (docs/training.md).
- a small DCGAN (C = 32, 8 epochs) had more recall (0.62) but less precision (0.34): malformed
  strokes in the grids; spectral normalisation on the BCE MLP killed recall (0.00 after 4 epochs).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass
from typing import Any

from repro.core import versions
from repro.core.config import check_choices, load, option
from repro.core.errors import ConfigError
from repro.core.runtime import stable_hash
from repro.core.seeds import MAX_SEED
from repro.core.vocab import AUX_DIVERGENCES, CRITICS, DATASETS, OBJECTIVES, PR_GENERATOR_FORMS
from repro.gan import nets
from repro.maths import divergences

LOSSES = OBJECTIVES

# Per-objective defaults for the fields left at None (the evidence is in the module docstring
# and in docs/training.md). One table feeds the API, the CLI and the checkpoints.
OBJECTIVE_DEFAULTS: dict[str, dict[str, Any]] = {
    "bce": {"gen_form": "nonsaturating", "critic": "dual", "d_steps": 1, "g_steps": 1, "clamp": 0.0},
    "js": {"gen_form": "minimax", "critic": "dual", "d_steps": 1, "g_steps": 1, "clamp": 0.0},
    # kl, rkl: the min–max forms (they descend KL(P‖Q) and KL(Q‖P)) against a logistic-loss
    # ratio estimator, with the shared recipe: both pass the training bar from 9 epochs (seed 0),
    # where with their own critics (spectral norm, clamping, slower D) both collapsed to recall
    # 0.00 (docs/training.md)
    "kl": {"gen_form": "minimax", "critic": "logistic", "d_steps": 1, "g_steps": 1, "clamp": 0.0},
    "rkl": {"gen_form": "minimax", "critic": "logistic", "d_steps": 1, "g_steps": 1, "clamp": 0.0},
    # pr: the fine-tuning recipe of Verine et al. (small rates, 2 D steps per G step) applied to
    # a trained BCE model (--init-from). aux rkl by default: its log r = v is the BCE logit, so D
    # starts right, and fine-tuning at λ = 0.1, 1, 10 gave P 0.57, 0.59, 0.62 and R 0.37, 0.35,
    # 0.33; χ² (their default) gave P 0.57, 0.58, 0.60 but R 0.42, 0.41, 0.42 (no trend) with its
    # D loss growing (−1.9 → −6.4 in 2 epochs at λ = 10), and from scratch it blew up (seed 0)
    "pr": {"gen_form": "primal", "critic": "dual", "d_steps": 2, "g_steps": 1, "clamp": 0.0, "lr_g": 1e-4, "lr_d": 1e-4,
           "ema": 0.995},
}
# Two time-scales at twice the usual Adam rates: BCE after 8 epochs P 0.63 / R 0.43 (5000 vs
# 5000 test images) against P 0.71 / R 0.26 after 10 epochs at (2e-4, 4e-4) and R 0.06 at
# (2e-4, 2e-4); JS reached 0.09x its initial FID in 4 epochs instead of 0.18x in 5 (seed 0).
COMMON_DEFAULTS: dict[str, Any] = {
    "lr_g": 4e-4, "lr_d": 8e-4, "betas_g": (0.5, 0.999), "betas_d": (0.5, 0.999),
    "pr_warmup_epochs": 0, "d_spectral_norm": False, "d_bound": 0.0, "ema": 0.999,
}
PR_FORMS = PR_GENERATOR_FORMS
MAX_WIDTH = 65_536  # a layer wider than this (or z_dim) is a typo, not a network for 28 × 28 images


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run. Fields left at None take the objective's
    default (``OBJECTIVE_DEFAULTS``, ``COMMON_DEFAULTS``) in ``resolve()``; 0 switches a
    stabiliser off (``clamp``, ``grad_clip``, ``ema``)."""
    # data
    dataset: str = option("mnist", choices=DATASETS)
    train_size: int = option(0, help="use only the first N training images (0: all; for quick checks)")
    # objective
    loss: str = option("bce", choices=LOSSES, help="training objective")
    gen_form: str | None = option(None, help="generator loss form: minimax | nonsaturating (f-GANs), primal | log "
                                             "(pr); default per objective")
    critic: str | None = option(None, choices=CRITICS,
                                help="D's loss: dual (the objective's own f-GAN bound) or logistic (a log-ratio "
                                     "estimator; G takes the objective's loss at T = f'(r)); default per objective")
    lam: float = option(1.0, help="λ of the λ-PR GAN (loss pr)")
    aux: str = option("rkl", choices=AUX_DIVERGENCES,
                      help="the λ-PR discriminator's auxiliary divergence (see OBJECTIVE_DEFAULTS)")
    pr_warmup_epochs: int | None = None
    pr_warmup_lam: float = 0.1
    # networks
    arch: str = option("mlp", choices=nets.ARCHS)
    z_dim: int = 100
    g_widths: tuple[int, ...] = (256, 512, 1024)
    d_widths: tuple[int, ...] = (1024, 512, 256)
    conv_channels: int = 64
    d_dropout: float = 0.3
    d_spectral_norm: bool | None = None
    d_bound: float | None = None  # b > 0: D's output is b·tanh(v/b) (nets.bound_scores); 0: off
    # optimisation
    epochs: int = option(8, help="passes over the training split")
    batch_size: int = 64
    lr_g: float | None = None
    lr_d: float | None = None
    betas_g: tuple[float, float] | None = None
    betas_d: tuple[float, float] | None = None
    d_steps: int | None = None  # D updates per G update
    g_steps: int | None = None  # G updates after each d_steps D updates
    clamp: float | None = None  # |v| bound in the losses; straight-through (gradient passes)
    grad_clip: float = 0.0  # max grad norm for D and G (0: off)
    ema: float | None = None  # EMA decay of G's weights (0: off)
    seed: int = option(0, help="seed of initialisation, z, shuffling and dropout")
    # bookkeeping
    eval_every: int = option(1, help="epochs between curve evaluations (0: none)")
    eval_samples: int = 2000
    checkpoint_every: int = 1
    check_every: int = 100  # steps between finiteness / collapse checks
    max_abs_score: float = 1e4  # |v| beyond this = exploded discriminator

    def __post_init__(self) -> None:
        def bad(name: str, allowed: str) -> ConfigError:
            return ConfigError(f"{getattr(self, name)!r} is not allowed; expected {allowed}", field=name)

        check_choices(self)
        forms = PR_FORMS if self.loss == "pr" else divergences.GENERATOR_FORMS
        if self.gen_form is not None and self.gen_form not in forms:
            raise bad("gen_form", f"one of {', '.join(forms)} for loss {self.loss}")
        for name in ("z_dim", "epochs", "batch_size", "eval_samples", "checkpoint_every", "check_every", "conv_channels"):
            if int(getattr(self, name)) < 1:
                raise bad(name, "a positive integer")
        for name in ("train_size", "eval_every", "seed"):
            if int(getattr(self, name)) < 0:
                raise bad(name, "a non-negative integer")
        for name in ("d_steps", "g_steps"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise bad(name, "a positive integer")
        if not 0.0 <= self.d_dropout < 1.0:
            raise bad("d_dropout", "a probability in [0, 1)")
        if self.ema is not None and not 0.0 <= self.ema < 1.0:
            raise bad("ema", "a decay in [0, 1) (0: off)")
        if self.loss == "pr" and self.critic == "logistic":
            raise ConfigError("the λ-PR discriminator is trained on its auxiliary divergence (aux); critic applies "
                              "to bce, js, kl and rkl", field="critic")
        if self.loss == "pr" and self.gen_form == "log" and self.aux == "chi2":
            raise ConfigError("gen_form='log' needs aux kl or rkl (χ²'s ratio v/2 + 1 can be ≤ 0)", field="gen_form")
        for name, value in dataclasses.asdict(self).items():  # nan and inf pass every comparison below
            values = value if isinstance(value, (tuple, list)) else (value,)
            if any(isinstance(v, float) and not math.isfinite(v) for v in values):
                raise bad(name, "a finite number")
        if self.lam <= 0 or self.pr_warmup_lam <= 0:
            raise bad("lam", "λ > 0 (and pr_warmup_lam > 0)")
        for name in ("clamp", "grad_clip", "lr_g", "lr_d", "d_bound"):
            if getattr(self, name) is not None and getattr(self, name) < 0:
                raise bad(name, "a non-negative number")
        # values that pass the types above but train nothing, or fail only inside the first cell
        for name in ("g_widths", "d_widths"):
            widths = getattr(self, name)
            if not widths or any(int(w) != w or not 1 <= w <= MAX_WIDTH for w in widths):
                raise bad(name, f"a non-empty list of layer widths, integers in [1, {MAX_WIDTH}]")
        if self.z_dim > MAX_WIDTH:
            raise bad("z_dim", f"an integer in [1, {MAX_WIDTH}]")
        for name in ("betas_g", "betas_d"):
            betas = getattr(self, name)
            if betas is not None and (len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas)):
                raise bad(name, "two Adam decays in [0, 1)")
        for name in ("lr_g", "lr_d"):
            if getattr(self, name) is not None and getattr(self, name) > 1.0:
                raise bad(name, "a learning rate in [0, 1]")
        if self.max_abs_score <= 0:
            raise bad("max_abs_score", "a positive bound on |D(x)|")
        if self.pr_warmup_epochs is not None and self.pr_warmup_epochs < 0:
            raise bad("pr_warmup_epochs", "a non-negative integer")
        if self.seed >= MAX_SEED:
            raise bad("seed", f"an integer in [0, {MAX_SEED})")
        if self.train_size and self.batch_size > self.train_size:
            raise bad("batch_size", f"at most train_size = {self.train_size} (one batch needs that many images)")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Build from plain data (JSON, a checkpoint, a spec): ``repro.core.config.load``."""
        return load(cls, d)

    def resolve(self) -> TrainConfig:
        """A copy with every None replaced by the objective's default."""
        defaults = {**COMMON_DEFAULTS, **OBJECTIVE_DEFAULTS[self.loss]}
        return dataclasses.replace(self, **{k: v for k, v in defaults.items() if getattr(self, k) is None})

    @property
    def ratio_divergence(self) -> str:
        """The divergence whose ``log_ratio(v, ·)`` turns D's raw output into log r (and whose dual
        bound D is trained on): λ-PR's auxiliary, the logistic loss's bce, or the objective's own."""
        if self.loss == "pr":
            return self.aux
        return "bce" if self.critic == "logistic" else self.loss

    def key(self) -> str:
        return stable_hash({"config": asdict(self.resolve()), "code": versions.TRAINING})
