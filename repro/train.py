"""GAN training: objectives, stabilisation, checkpoints, resume, divergence detection, curves.

One run = one ``TrainConfig`` trained into one folder::

    out_dir/config.json     the resolved configuration (+ init_from, provenance)
    out_dir/checkpoint.pt   the last good state (weights, EMA, optimisers, RNG, curve), atomic
    out_dir/curve.csv       FID / precision / recall / density / coverage vs the validation split
                            every ``eval_every`` epochs (row 0 = the untrained generator), wall times
    out_dir/result.json     status (ok | diverged), reason, final metrics, seconds

Objectives (``repro.divergences``; docs/maths.md §3–4):

- ``bce``: the non-saturating GAN, −E_Q log σ(v).
- ``js``, ``kl``, ``rkl``: f-GANs. D minimises −E_P[g_f(v)] + E_Q[f*(g_f(v))]; G minimises the
  min–max loss E_Q[−f*(g_f(v))] or the non-saturating −E_Q[g_f(v)] (``gen_form``). Defaults:
  js → minimax (non-saturating JS *is* BCE up to a constant, identical runs: tested),
  kl → minimax (the non-saturating form descends the *reverse* KL, docs/maths.md §3.3; it stays
  selectable and is then labelled "KL critic, reverse-KL generator"), rkl → minimax (its loss
  E_Q[1 − v] has a constant gradient; the non-saturating E_Q exp(−v) explodes where D is
  confident).
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
images, k = 3, classifier features; seed 0 unless said; the closing note of issue 4 has 3 seeds.

- two time-scales at twice the usual rates, G 4e-4 and D 8e-4: BCE after 8 epochs (~5 CPU
  minutes) P 0.63 / R 0.43, against P 0.71 / R 0.26 after 10 epochs at (2e-4, 4e-4) and R 0.06 at
  (2e-4, 2e-4). The EMA is what makes the MLP usable: the raw G of that run gave P 0.33 / R 0.12.
  JS: 0.05x of its initial FID in 6 epochs (0.18x in 5 at (2e-4, 4e-4)).
- kl and rkl do not take the doubled rates (FID 0.56x and 0.94x of initial); kl needs spectral
  normalisation of D (without it G collapsed to one blob, 0.77x, at every rate tried).
- a small DCGAN (C = 32, 8 epochs) had more recall (0.62) but less precision (0.34): malformed
  strokes in the grids; spectral normalisation on the BCE MLP killed recall (0.00 after 4 epochs).

Reproducibility: parameters are initialised inside ``torch.random.fork_rng`` with the seed;
every later random draw (z, shuffling, dropout masks) comes from explicit ``torch.Generator``
objects whose states are checkpointed. Same config + seed → bitwise-identical weights on CPU,
and a run resumed from a checkpoint ends bitwise-identical to an uninterrupted one.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import io
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from repro import CODE_VERSION, divergences, nets
from repro.atomic import atomic_path, atomic_write_bytes, atomic_write_json
from repro.config import check_choices, load, option
from repro.errors import ConfigError, DataError, ReproError
from repro.runtime import provenance, resolve_device, stable_hash
from repro.vocab import AUX_DIVERGENCES, DATASETS, OBJECTIVES

log = logging.getLogger(__name__)

LOSSES = OBJECTIVES
CHECKPOINT = "checkpoint.pt"
CURVE = "curve.csv"
RESULT = "result.json"
CONFIG = "config.json"
CURVE_COLUMNS = ("epoch", "g_steps", "epoch_seconds", "epoch_cpu_seconds", "total_seconds", "loss_d", "loss_g",
                 "fid", "precision", "recall", "density", "coverage", "eval_seconds")

# Per-objective defaults for the fields left at None (the evidence is in the module docstring
# and in the report of issue 4). One table feeds the API, the CLI and the checkpoints.
OBJECTIVE_DEFAULTS: dict[str, dict[str, Any]] = {
    "bce": {"gen_form": "nonsaturating", "d_steps": 1, "g_steps": 1, "clamp": 0.0},
    "js": {"gen_form": "minimax", "d_steps": 1, "g_steps": 1, "clamp": 0.0},
    # kl: the min–max form E_Q[−exp(T − 1)], the one that descends the forward KL(P‖Q) (the
    # non-saturating −E_Q[T] descends the reverse KL: docs/maths.md §3.3), with spectral
    # normalisation of D and a smaller D rate (the seed report's stabilisers, its §3.2, and SN).
    # FID over the untrained G's (seed 0 | seed 2):
    #   SN, (2e-4, 2e-4), 1 G step: E_Q exp(v − 1) ran to ~1e3 in the first epoch, stopped;
    #   SN, (2e-4, 1e-4), 2 G steps: 0.38x | – at epoch 4, 0.25x | 0.45x at 6 (seed 2 missed ⅓);
    #   SN, (2e-4, 1e-4), 1 G step (default): 0.25x | 0.23x at epoch 4, 0.19x | 0.22x at 6,
    #     P 0.50 | 0.26, R 0.00, and 30 % less time per epoch;
    #   the smooth bound 5·tanh(v/5) instead of SN: 0.30x at epoch 4, then D won (E_Q exp(v − 1)
    #     → 0.01, G's gradient vanished) and FID rose to 0.44x.
    # Without SN the non-saturating KL collapsed to one blob.
    "kl": {"gen_form": "minimax", "d_steps": 1, "g_steps": 1, "clamp": 20.0, "d_spectral_norm": True,
           "lr_g": 2e-4, "lr_d": 1e-4},
    # rkl: the doubled rates sent FID up (0.94x of initial after 3 epochs); (2e-4, 4e-4): 0.28x in 5
    "rkl": {"gen_form": "minimax", "d_steps": 1, "g_steps": 1, "clamp": 20.0, "lr_g": 2e-4, "lr_d": 4e-4},
    # pr: the fine-tuning recipe of Verine et al. (small rates, 2 D steps per G step) applied to
    # a trained BCE model (--init-from). aux rkl by default: its log r = v is the BCE logit, so D
    # starts right, and fine-tuning at λ = 0.1, 1, 10 gave P 0.57, 0.59, 0.62 and R 0.37, 0.35,
    # 0.33; χ² (their default) gave P 0.57, 0.58, 0.60 but R 0.42, 0.41, 0.42 (no trend) with its
    # D loss growing (−1.9 → −6.4 in 2 epochs at λ = 10), and from scratch it blew up (seed 0)
    "pr": {"gen_form": "primal", "d_steps": 2, "g_steps": 1, "clamp": 0.0, "lr_g": 1e-4, "lr_d": 1e-4,
           "ema": 0.995},
}
# Two time-scales at twice the usual Adam rates: BCE after 8 epochs P 0.63 / R 0.43 (5000 vs
# 5000 test images) against P 0.71 / R 0.26 after 10 epochs at (2e-4, 4e-4) and R 0.06 at
# (2e-4, 2e-4); JS reached 0.09x its initial FID in 4 epochs instead of 0.18x in 5 (seed 0).
COMMON_DEFAULTS: dict[str, Any] = {
    "lr_g": 4e-4, "lr_d": 8e-4, "betas_g": (0.5, 0.999), "betas_d": (0.5, 0.999),
    "pr_warmup_epochs": 0, "d_spectral_norm": False, "d_bound": 0.0, "ema": 0.999,
}
PR_FORMS = divergences.PR_GENERATOR_FORMS


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

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Build from plain data (JSON, a checkpoint, a spec): ``repro.config.load``."""
        return load(cls, d)

    def resolve(self) -> TrainConfig:
        """A copy with every None replaced by the objective's default."""
        defaults = {**COMMON_DEFAULTS, **OBJECTIVE_DEFAULTS[self.loss]}
        return dataclasses.replace(self, **{k: v for k, v in defaults.items() if getattr(self, k) is None})

    @property
    def ratio_divergence(self) -> str:
        """The divergence whose ``log_ratio(v, ·)`` turns D's raw output into log r."""
        return self.aux if self.loss == "pr" else self.loss

    def key(self) -> str:
        return stable_hash({"config": asdict(self.resolve()), "code": CODE_VERSION})


# --------------------------------------------------------------------------- objectives (pure)


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
    return divergences.generator_loss(v, cfg.loss, cfg.gen_form or "minimax")


# --------------------------------------------------------------------------- state


class Diverged(Exception):
    """Raised inside the loop; ``train`` turns it into status ``diverged``."""


@dataclass
class _State:
    G: torch.nn.Module
    D: torch.nn.Module
    G_ema: torch.nn.Module | None
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    gens: dict[str, torch.Generator]
    epoch: int = 0  # epochs completed
    g_updates: int = 0
    seconds: float = 0.0
    curve: list[dict[str, Any]] = field(default_factory=list)
    ema_warmup: bool = True  # False when fine-tuning: the inherited EMA is already a good average
    saved_epoch: int = 0  # the epoch of the last checkpoint written (a divergence rolls back to it)


def _networks(cfg: TrainConfig) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(G, D) of a resolved config (parameters from the global RNG)."""
    return nets.build(cfg.arch, cfg.z_dim, cfg.g_widths, cfg.d_widths, cfg.d_dropout, cfg.conv_channels,
                      d_spectral_norm=cfg.d_spectral_norm, d_bound=cfg.d_bound)


def _build(cfg: TrainConfig, device: torch.device) -> _State:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)  # parameter initialisation reads the global RNG
        G, D = _networks(cfg)
    G, D = G.to(device), D.to(device)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False) if cfg.ema > 0 else None
    # foreach: one kernel per op over all tensors (the CPU default is a Python loop per tensor)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=cfg.betas_g, foreach=True)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=cfg.betas_d, foreach=True)
    seeds = np.random.SeedSequence([cfg.seed, 4]).generate_state(3)
    gens = {name: torch.Generator().manual_seed(int(s)) for name, s in zip(("z", "shuffle", "dropout"), seeds, strict=True)}
    return _State(G, D, G_ema, opt_g, opt_d, gens)


def _state_dict(st: _State, cfg: TrainConfig, init_from: str | None) -> dict[str, Any]:
    return {
        "config": asdict(cfg),
        "code_version": CODE_VERSION,
        "epoch": st.epoch,
        "g_updates": st.g_updates,
        "seconds": st.seconds,
        "generator": st.G.state_dict(),
        "discriminator": st.D.state_dict(),
        "generator_ema": st.G_ema.state_dict() if st.G_ema is not None else None,
        "opt_g": st.opt_g.state_dict(),
        "opt_d": st.opt_d.state_dict(),
        "rng": {k: g.get_state() for k, g in st.gens.items()},
        "curve": st.curve,
        "init_from": init_from,
    }


def _load_state(st: _State, blob: dict[str, Any]) -> None:
    st.G.load_state_dict(blob["generator"])
    st.D.load_state_dict(blob["discriminator"])
    if st.G_ema is not None:
        st.G_ema.load_state_dict(blob["generator_ema"])
    st.opt_g.load_state_dict(blob["opt_g"])
    st.opt_d.load_state_dict(blob["opt_d"])
    for k, g in st.gens.items():
        g.set_state(blob["rng"][k])
    st.epoch, st.g_updates, st.seconds = blob["epoch"], blob["g_updates"], blob["seconds"]
    st.curve = list(blob["curve"])


def _read_checkpoint(run_dir: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        raise ConfigError(f"{run_dir}: no {CHECKPOINT} (not a training run folder, or it never saved)")
    try:
        blob = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - truncated, random or foreign bytes: one line, not a traceback
        raise DataError(f"{path} is not a readable checkpoint ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0][:200] if str(exc) else 'no detail'}); "
                        "retrain the run, or restore the file") from None
    needed = {"config", "generator", "discriminator", "epoch"}
    if not isinstance(blob, dict) or not needed <= set(blob):
        raise DataError(f"{path} is not a repro checkpoint: it lacks {sorted(needed - set(blob or {}))}")
    return blob


def _init_from(st: _State, source: Path) -> None:
    """Start from another run's trained generator and its discriminator; optimisers and RNG
    start fresh. The trained generator is the source's EMA when it kept one: that is the model
    whose samples were evaluated (the raw MLP weights are much worse: P 0.36 / R 0.05 against
    0.71 / 0.26 for the EMA of the BCE run of issue 4), so both G and its EMA start from it."""
    blob = _read_checkpoint(source)
    trained = blob["generator_ema"] or blob["generator"]
    try:
        st.G.load_state_dict(trained)
        st.D.load_state_dict(blob["discriminator"])
        if st.G_ema is not None:
            st.G_ema.load_state_dict(trained)
    except RuntimeError as exc:
        raise ConfigError(f"--init-from {source}: its networks do not match this configuration: {exc}") from exc


def _save(st: _State, cfg: TrainConfig, out: Path, init_from: str | None) -> None:
    for name, module in (("generator", st.G), ("discriminator", st.D)):
        if not all(bool(torch.isfinite(p).all()) for p in module.parameters()):
            raise Diverged(f"non-finite {name} weights at the end of epoch {st.epoch}")
    with atomic_path(out / CHECKPOINT) as tmp:
        torch.save(_state_dict(st, cfg, init_from), tmp)


def _write_curve(rows: list[dict[str, Any]], out: Path) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CURVE_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(out / CURVE, buf.getvalue().encode())


# --------------------------------------------------------------------------- evaluation


@torch.inference_mode()
def generate(G: torch.nn.Module, n: int, z_dim: int, gen: torch.Generator, batch_size: int = 1000,
             sigma: float = 1.0) -> torch.Tensor:
    """n images (n, 1, 28, 28) in [−1, 1] from z ~ N(0, σ² I) drawn with ``gen`` (G in eval mode)."""
    was = G.training
    G.eval()
    device = next(G.parameters()).device
    out = [G((sigma * torch.randn(min(batch_size, n - i), z_dim, generator=gen)).to(device)).cpu()
           for i in range(0, n, batch_size)]
    G.train(was)
    return torch.cat(out)


class _Evaluator:
    """The training curve's evaluation: ``repro.evaluation``'s protocol (its cheap metrics) on
    ``eval_samples`` images against the validation split (the test split stays unseen)."""

    def __init__(self, cfg: TrainConfig, device: torch.device) -> None:
        from repro import data, evaluation, features

        ds = data.load(cfg.dataset)
        self.fs = features.load_or_train(ds, device=device, progress=False)
        self.settings = evaluation.EvalSettings(n_samples=cfg.eval_samples, reference_split="val")
        self.real = evaluation.reference_subset(self.fs.real_features(ds, "val"), cfg.eval_samples, cfg.seed)
        self.n, self.z_dim, self.seed = cfg.eval_samples, cfg.z_dim, cfg.seed

    def __call__(self, G: torch.nn.Module) -> dict[str, float]:
        from repro import evaluation

        start = time.perf_counter()
        fake = generate(G, self.n, self.z_dim, torch.Generator().manual_seed(10_000 + self.seed))
        out, _ = evaluation.score(self.real, self.fs.embed(fake, value_range=(-1.0, 1.0)), self.settings,
                                  self.seed, full=False)
        out["eval_seconds"] = time.perf_counter() - start
        return out


# --------------------------------------------------------------------------- the loop


def _eval_generator(st: _State) -> torch.nn.Module:
    return st.G_ema if st.G_ema is not None else st.G


def _ema_update(G_ema: torch.nn.Module, G: torch.nn.Module, decay: float, t: int | None) -> None:
    """θ_ema ← d θ_ema + (1 − d) θ with d = min(decay, (1 + t)/(10 + t)) (fast start from random
    weights), or d = decay when t is None (fine-tuning: the EMA starts from a trained average,
    which a fast start would throw away for the raw weights); buffers copied."""
    d = decay if t is None else min(decay, (1 + t) / (10 + t))
    with torch.no_grad():
        torch._foreach_lerp_(list(G_ema.parameters()), list(G.parameters()), 1.0 - d)
        for b_ema, b in zip(G_ema.buffers(), G.buffers(), strict=True):
            b_ema.copy_(b)


def _check(loss_d: float | torch.Tensor, loss_g: float | torch.Tensor, v_real: torch.Tensor, v_fake: torch.Tensor,
           cfg: TrainConfig, where: str) -> None:
    """Raise ``Diverged`` on a non-finite or exploded mean loss, or a collapsed/exploded
    discriminator. A loss beyond ``max_abs_score`` catches the χ² dual running away (3e4 in
    its first epoch from scratch) while its scores stayed below the bound."""
    ld, lg = float(loss_d), float(loss_g)
    if not (math.isfinite(ld) and math.isfinite(lg)):
        raise Diverged(f"non-finite loss ({where}): D {ld}, G {lg}")
    if max(abs(ld), abs(lg)) > cfg.max_abs_score:
        raise Diverged(f"loss exploded ({where}): D {ld:.3g}, G {lg:.3g} beyond ±{cfg.max_abs_score:g}")
    v = torch.cat([v_real.detach(), v_fake.detach()])
    vmax = float(v.abs().max())
    if not math.isfinite(vmax) or vmax > cfg.max_abs_score:
        raise Diverged(f"discriminator exploded ({where}): max |v| = {vmax:.3g} > {cfg.max_abs_score:g}")
    if float(v.std()) < 1e-7:
        raise Diverged(f"discriminator collapsed to a constant output ({where}): v = {float(v.mean()):.4g}")


def _train_epoch(st: _State, cfg: TrainConfig, x_train: torch.Tensor, device: torch.device, progress: bool) -> dict[str, float]:
    """One pass over the training set; returns the epoch's mean losses."""
    G, D, B = st.G, st.D, cfg.batch_size
    gz, gdrop = st.gens["z"], st.gens["dropout"]
    steps = len(x_train) // B
    order = torch.randperm(len(x_train), generator=st.gens["shuffle"])
    sum_d = torch.zeros((), device=device)
    sum_g = torch.zeros((), device=device)
    n_g = 0
    G.train()
    D.train()
    bar = tqdm(range(steps), desc=f"{cfg.loss} epoch {st.epoch + 1}/{cfg.epochs}", disable=True if not progress else None,
               leave=False)  # None: quiet when stderr is not a terminal
    for i in bar:
        g_follows = (i + 1) % cfg.d_steps == 0
        # discriminator step on a real batch and a fresh fake batch (one forward of 2B images);
        # the fake batch keeps its graph when a G step follows, which reuses it (one G forward saved)
        xb = x_train[order[i * B : (i + 1) * B]].to(device)  # (B, 1, 28, 28)
        with torch.set_grad_enabled(g_follows):
            fake = G(torch.randn(B, cfg.z_dim, generator=gz).to(device))  # (B, 1, 28, 28)
        v = D(torch.cat([xb, fake.detach()]), gdrop)  # (2B,)
        v_real, v_fake = v[:B], v[B:]
        loss_d = d_loss(v_real, v_fake, cfg)
        st.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(D.parameters(), cfg.grad_clip)
        st.opt_d.step()
        sum_d += loss_d.detach()

        # generator step(s) after every d_steps discriminator steps (D frozen)
        if g_follows:
            D.requires_grad_(False)
            for j in range(cfg.g_steps):
                if j > 0:
                    fake = G(torch.randn(B, cfg.z_dim, generator=gz).to(device))
                loss_g = g_loss(D(fake, gdrop), cfg, st.epoch)
                st.opt_g.zero_grad(set_to_none=True)
                loss_g.backward()
                if cfg.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(G.parameters(), cfg.grad_clip)
                st.opt_g.step()
                if st.G_ema is not None:
                    _ema_update(st.G_ema, G, cfg.ema, st.g_updates if st.ema_warmup else None)
                st.g_updates += 1
                sum_g += loss_g.detach()
                n_g += 1
            D.requires_grad_(True)

        # divergence checks every check_every steps (the only host syncs in the loop)
        if (i + 1) % cfg.check_every == 0 or i + 1 == steps:
            mean_d, mean_g = float(sum_d) / (i + 1), float(sum_g) / max(n_g, 1)
            _check(mean_d, mean_g, v_real, v_fake, cfg, f"epoch {st.epoch + 1}, step {i + 1}")
            if progress:
                bar.set_postfix(loss_d=f"{mean_d:.3f}", loss_g=f"{mean_g:.3f}")
    bar.close()
    return {"loss_d": float(sum_d) / max(steps, 1), "loss_g": float(sum_g) / max(n_g, 1)}


def _load_train_images(cfg: TrainConfig) -> torch.Tensor:
    """The training split once as float32 (N, 1, 28, 28) in [−1, 1] (``data.to_gan_range``)."""
    from repro import data

    images = data.load(cfg.dataset).train.images
    if cfg.train_size:
        images = images[: cfg.train_size]
    x = torch.from_numpy(images).float().div_(255.0).mul_(2.0).sub_(1.0)
    return x.unsqueeze(1)


def _same_run(saved: dict[str, Any], cfg: TrainConfig) -> bool:
    """A checkpoint belongs to this run if the configs agree on everything but ``epochs``."""
    a = {k: v for k, v in asdict(TrainConfig.from_dict(saved)).items() if k != "epochs"}
    b = {k: v for k, v in asdict(cfg).items() if k != "epochs"}
    return a == b


def train(cfg: TrainConfig, out_dir: str | Path, *, init_from: str | Path | None = None,
          progress: bool = True, device: str | torch.device | None = "cpu") -> dict[str, Any]:
    """Train ``cfg`` into ``out_dir``; resume if it holds a checkpoint of the same config.

    Returns (and writes to result.json) ``{"status": "ok" | "diverged", "reason", "epochs_done",
    "seconds", "final": {fid, precision, recall, density, coverage}, "initial_fid", …}``.
    Divergence (non-finite loss, collapsed or exploded D) ends the run with the last good
    checkpoint kept; it raises nothing. A mismatched checkpoint or bad config raises ConfigError.
    """
    cfg = cfg.resolve()
    out = Path(out_dir)
    dev = resolve_device(device)
    out.mkdir(parents=True, exist_ok=True)
    st = _build(cfg, dev)
    init_str = _start(st, cfg, out, dev, init_from)
    result: dict[str, Any] = {"status": "ok", "reason": None, "run_dir": str(out), "key": cfg.key(),
                              "init_from": init_str}
    st.saved_epoch = st.epoch
    try:
        _run_epochs(st, cfg, out, dev, progress, init_str)
    except Diverged as exc:
        log.warning("%s: diverged: %s", out, exc)
        result.update(status="diverged", reason=str(exc))
        saved_epoch = st.saved_epoch
        st.curve = [r for r in st.curve if r["epoch"] <= saved_epoch]
        st.epoch = saved_epoch
        st.curve.append({"epoch": saved_epoch + 1, "g_steps": st.g_updates})  # the failed epoch, no metrics
        _write_curve(st.curve, out)
    ckpt = out / CHECKPOINT
    evaluated = [r for r in st.curve if "fid" in r]
    result.update(
        epochs_done=st.epoch,  # = the checkpoint's epoch when diverged
        seconds=st.seconds,
        g_steps=st.g_updates,
        final={k: evaluated[-1][k] for k in ("fid", "precision", "recall", "density", "coverage")} if evaluated else {},
        initial_fid=evaluated[0]["fid"] if evaluated else None,
        checkpoint=str(ckpt) if ckpt.is_file() else None,
        config=asdict(cfg),
    )
    atomic_write_json(out / RESULT, result)
    return result


def _start(st: _State, cfg: TrainConfig, out: Path, dev: torch.device, init_from: str | Path | None) -> str | None:
    """Resume from ``out``'s checkpoint, or start from ``init_from``'s weights, or from scratch;
    write config.json. Returns the run this one fine-tunes (None: from scratch)."""
    init_str = str(init_from) if init_from is not None else None
    ckpt = out / CHECKPOINT
    if ckpt.is_file():
        blob = torch.load(ckpt, map_location=dev, weights_only=True)
        if not _same_run(blob["config"], cfg):
            raise ConfigError(f"{out} holds a checkpoint of another configuration; use another --out "
                              f"(saved key {TrainConfig.from_dict(blob['config']).key()}, this {cfg.key()})")
        if blob["epoch"] > cfg.epochs:
            raise ConfigError(f"{out} holds a run of {blob['epoch']} epochs, more than the {cfg.epochs} asked for")
        _load_state(st, blob)
        init_str = blob.get("init_from")
        st.ema_warmup = init_str is None
        log.info("resuming %s at epoch %d", out, st.epoch)
    elif init_from is not None:
        _init_from(st, Path(init_from))
        st.ema_warmup = False
    elif cfg.loss == "pr":
        log.warning("λ-PR from scratch: its defaults are a fine-tuning recipe (pass init_from, a trained "
                    "BCE run); from scratch G gets no gradient while r ≈ 1 at λ ≥ 1 (docs/maths.md §4)")
    atomic_write_json(out / CONFIG, {"config": asdict(cfg), "key": cfg.key(), "init_from": init_str,
                                     "provenance": provenance(dev)})
    return init_str


def _run_epochs(st: _State, cfg: TrainConfig, out: Path, dev: torch.device, progress: bool,
                init_str: str | None) -> None:
    """The curve's epoch 0, then each epoch: train, evaluate every ``eval_every``, checkpoint every
    ``checkpoint_every`` (``st.saved_epoch``: where a divergence rolls back to)."""
    evaluator = None
    if cfg.eval_every and not st.curve:
        evaluator = _Evaluator(cfg, dev)
        st.curve.append({"epoch": 0, "g_steps": 0, "epoch_seconds": 0.0, "total_seconds": st.seconds,
                         **evaluator(_eval_generator(st))})
        _write_curve(st.curve, out)
    x_train = _load_train_images(cfg)
    if len(x_train) < cfg.batch_size:
        raise ConfigError(f"train_size {len(x_train)} is smaller than batch_size {cfg.batch_size}")
    if not (out / CHECKPOINT).is_file():  # epoch 0: a run that diverges in its first epoch still has a checkpoint
        _save(st, cfg, out, init_str)
    while st.epoch < cfg.epochs:
        start, cpu_start = time.perf_counter(), time.process_time()
        losses = _train_epoch(st, cfg, x_train, dev, progress)
        st.epoch += 1
        epoch_seconds = time.perf_counter() - start
        st.seconds += epoch_seconds
        row: dict[str, Any] = {"epoch": st.epoch, "g_steps": st.g_updates, "epoch_seconds": epoch_seconds,
                               "epoch_cpu_seconds": time.process_time() - cpu_start,
                               "total_seconds": st.seconds, **losses}
        if cfg.eval_every and (st.epoch % cfg.eval_every == 0 or st.epoch == cfg.epochs):
            evaluator = evaluator or _Evaluator(cfg, dev)
            row.update(evaluator(_eval_generator(st)))
        log.info("%s epoch %d: %s", out.name, st.epoch,
                 {k: round(v, 4) for k, v in row.items() if isinstance(v, float)})
        st.curve.append(row)
        if st.epoch % cfg.checkpoint_every == 0 or st.epoch == cfg.epochs:
            _save(st, cfg, out, init_str)
            st.saved_epoch = st.epoch
            _write_curve(st.curve, out)


# --------------------------------------------------------------------------- loading


@dataclass
class TrainedModel:
    """A trained run ready for sampling: G in eval mode (EMA weights when EMA was on)."""

    generator: torch.nn.Module
    discriminator: torch.nn.Module
    config: TrainConfig
    z_dim: int
    ratio_divergence: str  # repro.divergences.log_ratio(D(x), ratio_divergence) = log r(x)
    epoch: int
    run_dir: Path

    def sample(self, n: int, gen: torch.Generator, sigma: float = 1.0, batch_size: int = 1000) -> torch.Tensor:
        """n images (n, 1, 28, 28) in [−1, 1] from z ~ N(0, σ² I)."""
        return generate(self.generator, n, self.z_dim, gen, batch_size, sigma)

    @torch.inference_mode()
    def log_ratio(self, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """log r(x) (N,) for images (N, 1, 28, 28) in [−1, 1], from D's raw score."""
        device = next(self.discriminator.parameters()).device
        v = torch.cat([self.discriminator(images[i : i + batch_size].to(device)).cpu()
                       for i in range(0, len(images), batch_size)])
        return divergences.log_ratio(v, self.ratio_divergence)


def load_trained(run_dir: str | Path, device: str | torch.device | None = None) -> TrainedModel:
    """Load ``run_dir/checkpoint.pt`` (the last good state) for sampling and evaluation."""
    dev = resolve_device(device)
    blob = _read_checkpoint(Path(run_dir), dev)
    cfg = TrainConfig.from_dict(blob["config"]).resolve()
    with torch.random.fork_rng(devices=[]):
        G, D = _networks(cfg)
    try:
        G.load_state_dict(blob["generator_ema"] if blob.get("generator_ema") is not None else blob["generator"])
        D.load_state_dict(blob["discriminator"])
    except (RuntimeError, KeyError, TypeError) as exc:
        raise DataError(f"{Path(run_dir) / CHECKPOINT}: its weights do not fit the configuration it records "
                        f"({str(exc).splitlines()[0][:200]})") from None
    return TrainedModel(G.to(dev).eval().requires_grad_(False), D.to(dev).eval().requires_grad_(False),
                        cfg, cfg.z_dim, cfg.ratio_divergence, int(blob["epoch"]), Path(run_dir))


__all__ = ["TrainConfig", "TrainedModel", "train", "load_trained", "d_loss", "g_loss", "generate",
           "OBJECTIVE_DEFAULTS", "LOSSES", "ReproError"]
