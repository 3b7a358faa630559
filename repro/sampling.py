"""Sampling a trained GAN: latent tuning (σ, ψ) and discriminator rejection (DRS, OBRS).

docs/maths.md §5–6. One entry point, :func:`sample`, draws proposals x = G(z) in batches, scores
them with the discriminator, maps the raw score v to log r = log p/q through
``repro.divergences.log_ratio`` and keeps each proposal with probability a(x):

- ``none``: a = 1 (latent tuning only).
- ``drs`` (Azadi et al. 2019, §3.2 and Algorithm 1): a = σ(F(x)) with
  F = log r − log M − log(1 − exp(log r − log M − ε)) − γ. M = max r starts as the maximum on
  a burn-in set and is raised whenever a proposal beats it (the running maximum is taken
  proposal by proposal, so the result does not depend on the batch size). γ is
  γ₀ + ``gamma`` with γ₀ given by ``gamma_convention``:

  * ``absolute``: γ₀ = 0, so ``gamma`` is γ itself (γ = 0, ε → 0 is plain rejection sampling).
  * ``percentile``: γ₀ = the ``gamma_percentile``-th percentile of F (computed with γ = 0) on
    the burn-in set, as in Azadi et al.'s and the MH-GAN code; ``gamma`` is an offset.
  * ``acceptance``: γ is chosen by bisection on the burn-in set so that the expected acceptance
    there, mean σ(F − γ), equals ``acceptance`` (``gamma`` is unused). The one convention whose
    number means the same thing for every model and paper: docs/maths.md §6 has the table of
    all three and their signs.

- ``obrs`` (Verine et al., optimal budgeted rejection sampling): a = min(c_K r / M, 1) with M
  the burn-in maximum (kept fixed: a proposal above it is accepted anyway) and c_K chosen by
  bisection on the burn-in set so that the mean acceptance there is 1/K (K = ``budget``).

Latent tuning (docs/maths.md §5) applies to every proposal, burn-in included: z ~ N(0, σ² I)
(``sigma``), then each coordinate with |z_i| > ψ (``psi``) is redrawn from N(0, σ²) until it
lies inside (Karras et al.'s truncation trick).

Randomness is explicit: ``seed`` feeds a ``numpy.random.SeedSequence`` that spawns one
``torch.Generator`` for latents (on the model's device) and one ``numpy`` generator for the
accept/reject uniforms; no global RNG state is read or changed. The output is a deterministic
function of (models, n, params, seed, batch_size, device).

Optional calibration (``calibrate=True``, Platt scaling): before the burn-in, a logistic model
σ(a·s + b) with s = log r of the raw discriminator is fitted to held-out real images (label 1)
against as many generated ones (label 0); with balanced classes its logit estimates log p/q, so
a·s + b replaces log r for the rest of the run. This is the "logistic fitting" variant of
Azadi et al.'s calibration step (§3.2: a few epochs of fine-tuning D's last layer on held-out
data); D's weights are not changed.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy import optimize, special
from torch import nn

from repro import cost
from repro.acceptance import drs_gamma_for_acceptance, drs_logit, obrs_acceptance, obrs_constant
from repro.config import check_choices, load, option
from repro.divergences import DIVERGENCES, log_ratio
from repro.errors import ConfigError, ReproError
from repro.vocab import (CHAIN_SAMPLERS, DEFAULT_GAMMA_CONVENTION, DISCRIMINATORS, GAMMA_CONVENTIONS,
                         REJECTION_SAMPLERS, SAMPLERS)

log = logging.getLogger(__name__)

METHODS = SAMPLERS
DEFAULT_BATCH_SIZE = 1000
# Upper bounds past which a setting only produces non-finite images or runs for hours: σ scales
# z ~ N(0, σ² I) (σ = 4 is already far in the tails); a Langevin step of 10 in latent space
# leaves the prior; chains and step counts cost one or two passes per sample each; a mixture of
# more components than this is fitted on a burn-in of at most a few thousand latents
MAX_SIGMA, MAX_STEP_SIZE, MAX_CHAIN, MAX_COMPONENTS = 100.0, 10.0, 10_000, 1_000
# The settings that belong to one sampler (σ and ψ apply to every one): a spec block or a command
# line that sets another sampler's setting is refused, not silently ignored
SAMPLER_AXES: dict[str, set[str]] = {
    "none": set(), "drs": {"gamma", "acceptance"}, "obrs": {"budget"}, "mh": {"chain_length"},
    "langevin": {"steps", "step_size"}, "adaptive": {"budget", "components"},
}
DIAGNOSTIC_STREAM = 7_000_003  # added to the seed: the class diagnostic's proposals, apart from the sampler's


def max_samples(bytes_per_sample: int = 4 * 28 * 28) -> int:
    """The most samples (or burn-in proposals) a call may ask for: half of this machine's memory
    in float32 MNIST-sized images. Beyond it a request would swap or hang, not finish."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = 8 << 30
    return max(1, memory // 2 // bytes_per_sample)


class AcceptanceTooLowError(ReproError):
    """Rejection sampling hit its cap on proposals before accepting ``n`` samples."""


@dataclass(frozen=True)
class SamplingParams:
    """Everything that decides how samples are drawn (besides the models, n and the seed).

    method: ``none`` | ``drs`` | ``obrs``.
    sigma: latent standard deviation (soft truncation; 1 = the training prior).
    psi: hard-truncation threshold on |z_i| (None = no truncation).
    gamma: DRS γ (``absolute``) or offset from the burn-in percentile (``percentile``).
    gamma_convention: ``absolute`` | ``percentile`` | ``acceptance``; gamma_percentile: in [0, 100].
    acceptance: DRS target acceptance in (0, 1] for ``gamma_convention = "acceptance"``.
    eps: DRS ε ≥ 0 (Azadi et al. use 1e-6; ε → 0 with γ = 0 is plain rejection sampling).
    update_M: DRS raises M whenever a proposal's ratio beats it (Azadi et al., Algorithm 1); not
        with ``gamma_convention = "acceptance"``, whose γ holds for the burn-in M only.
    budget: OBRS budget K ≥ 1 (expected proposals per accepted sample; 1 accepts all).
    burn_in: proposals used to estimate M, γ₀ and c_K (not returned, not counted).
    max_proposals_per_sample: the run fails once proposals exceed this × n.
    calibrate: Platt-scale the discriminator on held-out real images first (needs ``real``;
        for a trained run, ``raw`` only: the refit discriminator is calibrated when it is fitted).
    discriminator: which D ``sample_trained`` scores with (``sample`` takes the one it is given):
        ``refit`` (default): the trained D refitted against the generator that is sampled, at the
        sampled (σ, ψ), and calibrated (``repro.refit``); ``raw``: the D of the training run,
        fitted against the raw generator, not the EMA copy that is sampled.
    """

    method: str = option("none", choices=SAMPLERS, help="the sampler: plain, DRS (Azadi et al.), OBRS (Verine et al.)")
    sigma: float = option(1.0, help="latent std (soft truncation)")
    psi: float | None = option(None, help="hard truncation |z_i| ≤ ψ")
    gamma: float = option(0.0, help="DRS γ, or offset from the percentile")
    gamma_convention: str = option(DEFAULT_GAMMA_CONVENTION, choices=GAMMA_CONVENTIONS, help=(
        "DRS: absolute γ (the lecture's), offset from the burn-in percentile (Azadi et al.'s code), or "
        "acceptance (γ found per model for --acceptance); default: acceptance when --acceptance is given. "
        "Signs: docs/maths.md §6.2"))
    gamma_percentile: float = option(95.0, help="DRS: the burn-in percentile γ is an offset from (percentile)")
    acceptance: float | None = option(None, help=(
        "DRS target acceptance in (0, 1]: γ is chosen on the burn-in set so that the expected acceptance "
        "is this (the convention that means the same for every model)"))
    eps: float = option(1e-6, help="DRS ε")
    update_M: bool = option(True, help="DRS raises M when a proposal's ratio beats it (Azadi et al.)")
    budget: float = option(1.0, help="OBRS budget K ≥ 1")
    burn_in: int = option(10_000, help="proposals that estimate M, γ₀ and c_K (not returned, not counted)")
    max_proposals_per_sample: float = option(1000.0, help="the run fails once proposals exceed this × n")
    calibrate: bool = option(False, help=(
        "Platt-scale the raw D on the validation split of the run's data set first (the refit D is "
        "calibrated already)"))
    chain_length: int = option(20, help="MH: proposals per chain K (the chain starts at a real validation image)")
    steps: int = option(10, help="Langevin: steps on the latent")
    step_size: float = option(0.01, help="Langevin: step size η (z ← z − η/2 ∇E + √η ε)")
    langevin_noise: bool = option(True, help="Langevin: the noise √η ε; off: the deterministic gradient flow")
    components: int = option(10, help="adaptive truncation: mixture components fitted to OBRS-accepted latents")
    discriminator: str = option("refit", choices=DISCRIMINATORS, help=(
        "DRS/OBRS ratio: refit = D refitted against the sampled generator and calibrated (cached in the "
        "run folder); raw = the training run's D, fitted against the raw generator, not the EMA copy "
        "that is sampled"))

    def __post_init__(self) -> None:
        def bad(field: str, allowed: str) -> ConfigError:
            return ConfigError(f"{getattr(self, field)!r} is not allowed; expected {allowed}", field=field)

        def finite(x: Any) -> bool:
            return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)

        check_choices(self)
        if not (finite(self.sigma) and 0 < self.sigma <= MAX_SIGMA):
            raise bad("sigma", f"a number in (0, {MAX_SIGMA:g}] (the latent prior's scale)")
        if self.psi is not None and not (finite(self.psi) and self.psi > 0):
            raise bad("psi", "None or a finite number > 0")
        if self.psi is not None and math.erf(self.psi / (self.sigma * math.sqrt(2))) < 1e-3:
            raise ConfigError(f"{self.psi} is too small for sigma = {self.sigma}: fewer than 1 in 1000 "
                              "coordinates would fall inside; use psi ≥ 0.002 · sigma", field="psi")
        if not finite(self.gamma):
            raise bad("gamma", "a finite number")
        if (self.gamma_convention == "acceptance") != (self.acceptance is not None):
            raise ConfigError("is the target of gamma_convention = 'acceptance': set both or neither",
                              field="acceptance")
        if self.acceptance is not None and not (finite(self.acceptance) and 0 < self.acceptance <= 1):
            raise bad("acceptance", "a target acceptance rate in (0, 1]")
        if not (finite(self.gamma_percentile) and 0 <= self.gamma_percentile <= 100):
            raise bad("gamma_percentile", "a number in [0, 100]")
        if not (finite(self.eps) and self.eps >= 0):
            raise bad("eps", "a finite number ≥ 0")
        if not isinstance(self.update_M, bool):
            raise bad("update_M", "True or False")
        if not (finite(self.budget) and self.budget >= 1):
            raise bad("budget", "a finite number ≥ 1")
        if not (isinstance(self.burn_in, int) and not isinstance(self.burn_in, bool) and 1 <= self.burn_in <= max_samples()):
            raise bad("burn_in", f"an integer from 1 to {max_samples():,} (half this machine's memory in images)")
        if not (finite(self.max_proposals_per_sample) and self.max_proposals_per_sample >= 1):
            raise bad("max_proposals_per_sample", "a finite number ≥ 1")
        if not isinstance(self.calibrate, bool):
            raise bad("calibrate", "True or False")
        for name, most in (("chain_length", MAX_CHAIN), ("steps", MAX_CHAIN), ("components", MAX_COMPONENTS)):
            value = getattr(self, name)
            if not (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= most):
                raise bad(name, f"an integer from 1 to {most:,}")
        if not (finite(self.step_size) and 0 < self.step_size <= MAX_STEP_SIZE):
            raise bad("step_size", f"a number in (0, {MAX_STEP_SIZE:g}]")
        if not isinstance(self.langevin_noise, bool):
            raise bad("langevin_noise", "True or False")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SamplingParams:
        """Build from plain data: ``repro.config.load`` (typed, unknown keys refused)."""
        return load(cls, d)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def hashed_dict(self) -> dict[str, Any]:
        """What names a sampling setting in a cell's configuration: every field, except the
        fields added with the samplers beyond rejection (``SPARSE_FIELDS``) while they hold their
        default, so that adding a sampler did not rename every existing evaluation cell."""
        defaults = SamplingParams()
        return {k: v for k, v in self.to_dict().items()
                if k not in SPARSE_FIELDS or v != getattr(defaults, k)}


SPARSE_FIELDS = ("chain_length", "steps", "step_size", "langevin_noise", "components")


# --------------------------------------------------------------------------- pure helpers


def truncated_latents(
    n: int, z_dim: int, sigma: float, psi: float | None, gen: torch.Generator, device: torch.device
) -> torch.Tensor:
    """z ~ N(0, σ² I) of shape (n, z_dim); with ψ, each |z_i| > ψ is redrawn until |z_i| ≤ ψ."""
    z = sigma * torch.randn(n, z_dim, generator=gen, device=device)  # (n, z_dim)
    if psi is not None:
        outside = z.abs() > psi
        while bool(outside.any()):
            z[outside] = sigma * torch.randn(int(outside.sum()), generator=gen, device=device)
            outside = z.abs() > psi
    return z


def fit_platt(s_real: np.ndarray, s_fake: np.ndarray) -> tuple[float, float]:
    """(a, b) of a logistic model σ(a s + b) for P(real | s), by maximum likelihood.

    ``s_real`` (N_r,), ``s_fake`` (N_f,): uncalibrated log-ratio scores. The returned logit is
    corrected for the class prior, so a s + b estimates log p/q even when N_r ≠ N_f.
    Non-finite scores are left out of the fit.
    """
    s_real = np.asarray(s_real, np.float64)
    s_fake = np.asarray(s_fake, np.float64)
    s_real, s_fake = s_real[np.isfinite(s_real)], s_fake[np.isfinite(s_fake)]
    if len(s_real) < 2 or len(s_fake) < 2:
        raise ReproError("calibration needs at least 2 finite scores per class")
    s = np.concatenate([s_real, s_fake])
    y = np.concatenate([np.ones(len(s_real)), np.zeros(len(s_fake))])
    scale = max(float(s.std()), 1e-12)
    t = (s - s.mean()) / scale  # standardised for a well-conditioned fit

    def loss_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        logit = theta[0] * t + theta[1]
        # −log σ(logit) for y = 1, −log(1 − σ(logit)) for y = 0; tiny ridge for separable data
        loss = np.mean(np.logaddexp(0.0, np.where(y == 1, -logit, logit))) + 1e-8 * theta[0] ** 2
        resid = special.expit(logit) - y
        return float(loss), np.array([np.mean(resid * t) + 2e-8 * theta[0], np.mean(resid)])

    res = optimize.minimize(loss_grad, np.array([1.0, 0.0]), jac=True, method="BFGS")
    a_t, b_t = res.x
    a = a_t / scale
    b = b_t - a * s.mean() - math.log(len(s_real) / len(s_fake))
    return float(a), float(b)


# --------------------------------------------------------------------------- the sampler


def _resolve_device(generator: nn.Module, device: str | torch.device | None) -> torch.device:
    if device is None:
        p = next(iter(generator.parameters()), None)
        return p.device if p is not None else torch.device("cpu")
    return torch.device(device)


def _torch_seed(ss: np.random.SeedSequence) -> int:
    return int(ss.generate_state(1, np.uint64)[0])


def _safe_exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


class _Proposals:
    """Draws proposals x = G(z) and their log-ratios log r(x) (float64, numpy), batch by batch."""

    def __init__(self, generator, discriminator, params, ratio_divergence, z_dim, device, gen):
        self.generator, self.discriminator = generator, discriminator
        self.params, self.name, self.z_dim, self.device, self.gen = params, ratio_divergence, z_dim, device, gen
        self.calibration: tuple[float, float] | None = None

    def latents(self, k: int) -> torch.Tensor:
        return truncated_latents(k, self.z_dim, self.params.sigma, self.params.psi, self.gen, self.device)

    def images(self, k: int) -> torch.Tensor:
        x = self.generator(self.latents(k))
        if x.shape[0] != k:
            raise ReproError(f"the generator returned {x.shape[0]} samples for {k} latents")
        return x

    def raw_log_ratio(self, x: torch.Tensor) -> np.ndarray:
        v = self.discriminator(x)
        if v.numel() != x.shape[0]:
            raise ReproError(
                f"the discriminator must return one score per sample, shape (B,) or (B, 1); got {tuple(v.shape)}"
            )
        v = v.reshape(-1).to(torch.float64)
        lr = (v if self.name is None else log_ratio(v, self.name)).cpu().numpy()  # (B,)
        if np.isnan(lr).any():
            raise ReproError("the discriminator returned NaN scores")
        return lr

    def log_ratio_tensor(self, x: torch.Tensor) -> torch.Tensor:
        """log r(x) (B,) as a differentiable tensor (Langevin), calibration included."""
        v = self.discriminator(x).reshape(-1)
        lr = v if self.name is None else log_ratio(v, self.name)
        if self.calibration is not None:
            lr = self.calibration[0] * lr + self.calibration[1]
        return lr

    def log_ratio(self, x: torch.Tensor) -> np.ndarray:
        lr = self.raw_log_ratio(x)
        if self.calibration is not None:
            a, b = self.calibration
            with np.errstate(invalid="ignore"):
                lr = a * lr + b
        return lr

    def draw(self, k: int, scored: bool) -> tuple[torch.Tensor, np.ndarray | None]:
        x = self.images(k)
        return x, (self.log_ratio(x) if scored else None)

    def burn_in(self, total: int, batch_size: int) -> np.ndarray:
        out, done = [], 0
        while done < total:
            k = min(batch_size, total - done)
            out.append(self.draw(k, True)[1])
            done += k
        return np.concatenate(out)  # (total,)

    def calibrate(self, real: torch.Tensor, batch_size: int) -> tuple[float, float]:
        if len(real) < 2:
            raise ConfigError(f"calibration needs at least 2 real samples; got {len(real)}")
        s_fake, done, shape = [], 0, None
        while done < len(real):
            k = min(batch_size, len(real) - done)
            x = self.images(k)
            shape = tuple(x.shape[1:])
            s_fake.append(self.raw_log_ratio(x))
            done += k
        if real[0].numel() != math.prod(shape):
            raise ConfigError(f"real samples of shape {tuple(real.shape[1:])} do not match generated {shape}")
        real = real.reshape(len(real), *shape)  # (N, …) like the generator's output
        s_real = np.concatenate([
            self.raw_log_ratio(real[i:i + batch_size].to(self.device)) for i in range(0, len(real), batch_size)
        ])
        a, b = fit_platt(s_real, np.concatenate(s_fake))
        if a <= 0:
            raise ReproError(
                f"calibration gave a non-positive slope a = {a:.3g}: the discriminator does not rank "
                "real images above generated ones; sample without calibrate"
            )
        self.calibration = (a, b)
        return a, b


def sample(
    generator: nn.Module,
    discriminator: nn.Module | None,
    n: int,
    method: str | None = None,
    params: SamplingParams | None = None,
    seed: int = 0,
    *,
    ratio_divergence: str | None,
    z_dim: int,
    device: str | torch.device | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    real: torch.Tensor | np.ndarray | None = None,
) -> tuple[torch.Tensor, dict[str, Any]]:
    """Draw ``n`` samples from G, tuned and filtered as ``params`` says (docs/maths.md §5–6).

    generator: maps latents (B, z_dim) to samples (B, …) (e.g. (B, 1, 28, 28) in [-1, 1]).
    discriminator: maps samples (B, …) to raw scores v, (B,) or (B, 1); unused for ``none``.
    method: overrides ``params.method`` when given (``params`` defaults to ``SamplingParams()``).
    ratio_divergence: how v maps to log r (``repro.divergences.log_ratio``: bce, js, kl, rkl, chi2);
        None: the discriminator returns log r itself (``repro.refit.LogRatioNet``).
    device: where latents are drawn; the models are moved there (None = the generator's device).
    real: held-out real samples (N, …) for ``calibrate=True``.

    Returns ``(images, stats)``: images (n, …) on the CPU, the first n accepted proposals in
    order; stats a JSON-able dict with ``acceptance_rate`` = accepted / proposals (proposals
    counted up to the n-th acceptance, burn-in excluded), ``proposals``, ``accepted``, the
    method's constants (log_M and M at the start and end, gamma0, gamma, the convention, c_K,
    expected acceptance on the burn-in set) and the latent tuning (sigma, psi).

    Raises ``AcceptanceTooLowError`` once proposals reach ``max_proposals_per_sample × n``.
    Models are put in eval mode while sampling and restored afterwards.
    """
    params = params if params is not None else SamplingParams()
    if method is not None and method != params.method:
        params = dataclasses.replace(params, method=method)  # re-validated in __post_init__
    _check_arguments(params, n, batch_size, z_dim, discriminator, ratio_divergence, real)
    dev = _resolve_device(generator, device)
    models = [m for m in (generator, discriminator) if m is not None]
    if device is not None:
        for m in models:
            m.to(dev)
    was_training = [m.training for m in models]
    for m in models:
        m.eval()
    try:
        with torch.inference_mode():
            models_ = _Models(generator, discriminator, ratio_divergence, int(z_dim), dev)
            run = _refine if params.method in CHAIN_SAMPLERS else _sample
            images, stats = run(models_, int(n), params, seed, int(batch_size), real)
    finally:
        for m, flag in zip(models, was_training):
            m.train(flag)
    return images.clone(), stats  # a normal tensor (inference tensors refuse later autograd use)


class _Rule:
    """How a sampler turns log-ratios into acceptance probabilities: constants fitted on the
    burn-in set (``prepare``), a probability per proposal (``accept``), and what it learns from
    the proposals used (``advance``). One subclass per method; ``none`` accepts everything."""

    scored = False

    def __init__(self, p: SamplingParams) -> None:
        self.p = p
        self.log_M: float | None = None

    def prepare(self, burn: np.ndarray, stats: dict[str, Any]) -> None:
        """Fit the constants on the burn-in log-ratios (burn_in,); record them in ``stats``."""

    def accept(self, lr: np.ndarray) -> np.ndarray:
        """Acceptance probabilities (k,) of k proposals with log-ratios ``lr`` (k,)."""
        return np.ones(len(lr))

    def advance(self, used: int, stats: dict[str, Any]) -> None:
        """The first ``used`` proposals of the last ``accept`` call were consumed."""


class _DRS(_Rule):
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


class _OBRS(_Rule):
    """Verine et al.'s a = min(c_K r / M, 1), c_K such that the burn-in acceptance is 1/K (§6.3)."""

    scored = True

    def prepare(self, burn, stats):
        r_over_M = np.exp(burn - self.log_M)  # (burn_in,) in [0, 1]
        self.c = obrs_constant(r_over_M, 1.0, self.p.budget)
        stats.update(budget=self.p.budget, c_K=self.c if math.isfinite(self.c) else None, eps=None,  # None: K = 1
                     expected_acceptance_burn_in=float(obrs_acceptance(r_over_M, 1.0, self.c).mean()))

    def accept(self, lr):
        return obrs_acceptance(np.exp(np.minimum(lr - self.log_M, 700.0)), 1.0, self.c)  # (k,)


RULES: dict[str, type[_Rule]] = {"none": _Rule, "drs": _DRS, "obrs": _OBRS}
assert set(RULES) == set(REJECTION_SAMPLERS), "every rejection sampler of repro.vocab needs its rule"


@dataclass(frozen=True)
class _Models:
    """What a sampling run draws from: G, D (or None), how D's score maps to log r, the latent size
    and the device."""

    generator: nn.Module
    discriminator: nn.Module | None
    ratio_divergence: str | None
    z_dim: int
    device: torch.device


def _initial_stats(p: SamplingParams, n: int, seed: int, batch_size: int, models: _Models, scored: bool) -> dict[str, Any]:
    return {
        "method": p.method, "n": n, "seed": seed, "batch_size": batch_size,
        "ratio_divergence": models.ratio_divergence if scored else None,
        "sigma": p.sigma, "psi": p.psi,
        "burn_in": p.burn_in if scored else 0,
        "log_M": None, "M": None, "log_M_burn_in": None, "M_burn_in": None, "M_updates": 0,
        "gamma_convention": None, "gamma_percentile": None, "gamma_offset": None,
        "gamma0": None, "gamma": None, "eps": None, "target_acceptance": None,
        "budget": None, "c_K": None, "expected_acceptance_burn_in": None,
        "calibrated": False, "calibration_a": None, "calibration_b": None,
    }


def _check_arguments(params: SamplingParams, n: Any, batch_size: Any, z_dim: Any, discriminator: nn.Module | None,
                     ratio_divergence: str | None, real: Any) -> None:
    """ConfigError naming the argument and its allowed values, before anything is drawn."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or not 0 <= n <= max_samples():
        raise ConfigError(f"n must be an integer from 0 to {max_samples():,} (half this machine's memory in "
                          f"images); got {n!r}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ConfigError(f"batch_size must be an integer ≥ 1; got {batch_size!r}")
    if not isinstance(z_dim, (int, np.integer)) or z_dim < 1:
        raise ConfigError(f"z_dim must be an integer ≥ 1; got {z_dim!r}")
    scored = params.method != "none"
    if scored:
        if discriminator is None:
            raise ConfigError(f"method {params.method!r} needs a discriminator")
        if ratio_divergence is not None and ratio_divergence not in DIVERGENCES:
            raise ConfigError(
                f"ratio_divergence must be one of {', '.join(DIVERGENCES)}, or None for a discriminator "
                f"that returns log r itself; got {ratio_divergence!r}"
            )
    if params.calibrate and scored and real is None:
        raise ConfigError("SamplingParams.calibrate = True needs held-out real samples (real=…)")


def _sample(models: _Models, n: int, p: SamplingParams, seed: int, batch_size: int,
            real: Any) -> tuple[torch.Tensor, dict[str, Any]]:
    """Calibrate (optionally), fit the rule on the burn-in set, then propose, score and accept
    until ``n`` samples are in (the first n accepted, in order)."""
    latent_ss, uniform_ss = np.random.SeedSequence(seed).spawn(2)
    gen = torch.Generator(device=models.device)
    gen.manual_seed(_torch_seed(latent_ss))
    rng = np.random.default_rng(uniform_ss)
    src = _Proposals(models.generator, models.discriminator, p, models.ratio_divergence, models.z_dim,
                     models.device, gen)
    rule = RULES[p.method](p)
    stats = _initial_stats(p, n, seed, batch_size, models, rule.scored)

    if rule.scored and p.calibrate:
        real_t = torch.as_tensor(np.asarray(real) if not isinstance(real, torch.Tensor) else real).to(torch.float32)
        a, b = src.calibrate(real_t, batch_size)
        stats.update(calibrated=True, calibration_a=a, calibration_b=b)
    if rule.scored:
        burn = src.burn_in(p.burn_in, batch_size)  # (burn_in,) log r
        rule.log_M = float(burn.max())
        if not math.isfinite(rule.log_M):
            raise ReproError(
                f"the largest log-ratio on the burn-in set is {rule.log_M}: the discriminator gives no usable ratio"
            )
        stats.update(log_M_burn_in=rule.log_M, M_burn_in=_safe_exp(rule.log_M))
        rule.prepare(burn, stats)

    cap = math.ceil(p.max_proposals_per_sample * n)
    chunks: list[torch.Tensor] = []
    accepted = proposals = 0
    while accepted < n:
        if proposals >= cap:
            _too_low(accepted, proposals, n, p)
        k = min(batch_size, cap - proposals)
        x, lr = src.draw(k, rule.scored)
        keep = np.flatnonzero(rng.random(k) < rule.accept(lr)) if rule.scored else np.arange(k)
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

    # n = 0: an empty batch with the generator's sample shape
    images = torch.cat(chunks) if chunks else src.images(1)[:0].cpu()
    stats.update(proposals=proposals, accepted=accepted, acceptance_rate=(accepted / proposals) if proposals else 1.0)
    burn = p.burn_in if rule.scored else 0
    stats.update(cost.record(n, g=proposals, d=proposals if rule.scored else 0, setup_g=burn, setup_d=burn))
    if rule.log_M is not None:
        stats.update(log_M=rule.log_M, M=_safe_exp(rule.log_M))
    log.debug("sampled %d with %s: acceptance %.4g", n, p.method, stats["acceptance_rate"])
    return images, stats


def _refine(models: _Models, n: int, p: SamplingParams, seed: int, batch_size: int,
            real: Any) -> tuple[torch.Tensor, dict[str, Any]]:
    """The samplers beyond rejection (``repro.refinement``): MH, Langevin, adaptive truncation,
    with the same latent tuning, calibration and statistics as ``_sample``."""
    from repro import refinement  # noqa: PLC0415 - it imports this module's helpers

    # the latent stream (on the models' device), the chains' uniforms and the mixture's seed
    latent_ss, uniform_ss, fit_ss = np.random.SeedSequence(seed).spawn(3)
    gen = torch.Generator(device=models.device)
    gen.manual_seed(_torch_seed(latent_ss))
    rng, fit_seed = np.random.default_rng(uniform_ss), int(fit_ss.generate_state(1)[0])
    src = _Proposals(models.generator, models.discriminator, p, models.ratio_divergence, models.z_dim,
                     models.device, gen)
    stats = _initial_stats(p, n, seed, batch_size, models, True)
    real_t = None
    if real is not None:
        real_t = torch.as_tensor(np.asarray(real) if not isinstance(real, torch.Tensor) else real).to(torch.float32)
    if p.calibrate:
        a, b = src.calibrate(real_t, batch_size)
        stats.update(calibrated=True, calibration_a=a, calibration_b=b)
    if p.method == "mh":
        with torch.no_grad():  # the sample shape, without a draw from the latent stream
            shape = tuple(models.generator(torch.zeros(1, models.z_dim, device=models.device)).shape[1:])
        if real_t is not None and real_t[0].numel() != math.prod(shape):
            raise ConfigError(f"real samples of shape {tuple(real_t.shape[1:])} do not match generated {shape}")
        images, extra = refinement.run_mh(src, n, p, rng, batch_size,
                                          None if real_t is None else real_t.reshape(len(real_t), *shape))
    elif p.method == "langevin":
        images, extra = refinement.run_langevin(src, n, p, batch_size)
    else:
        images, extra = refinement.run_adaptive(src, n, p, rng, fit_seed, batch_size)
    stats.update(extra, burn_in=p.burn_in if p.method == "adaptive" else 0, proposals=None, accepted=n)
    return images, stats


def _too_low(accepted: int, proposals: int, n: int, p: SamplingParams) -> None:
    rate = accepted / proposals if proposals else 0.0
    raise AcceptanceTooLowError(
        f"acceptance too low: {accepted} of {n} samples accepted after {proposals} proposals "
        f"(acceptance so far {rate:.3g}); reached the cap max_proposals_per_sample × n = "
        f"{p.max_proposals_per_sample:g} × {n}. Raise max_proposals_per_sample, lower gamma "
        "or the budget, or check the discriminator"
    )


# --------------------------------------------------------------------------- trained runs


def sample_from_run(run_dir: str, n: int, params: SamplingParams, seed: int, *,
                    device: str | torch.device | None = None, **options: Any) -> tuple[torch.Tensor, dict[str, Any]]:
    """:func:`sample_trained` on the run in ``run_dir`` (``repro.train.load_trained``); ``options``
    are ``sample_trained``'s (batch_size, real, refit_cfg)."""
    from repro import train  # lazily: training pulls in much more than sampling needs

    return sample_trained(train.load_trained(run_dir, device=device), n, params, seed, device=device, **options)


def proposals_with_log_ratio(model: Any, n: int, params: SamplingParams, seed: int, *,
                             device: str | torch.device | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                             refit_cfg: Any = None) -> tuple[torch.Tensor, np.ndarray]:
    """n proposals x = G(z) at ``params``' (σ, ψ) and the log-ratio log r̂(x) that ``params``'
    sampler reads (the refit D, or the raw D uncalibrated), drawn with a stream of their own: the
    class diagnostic of a ratio-based sampler (docs/maths.md §6.9). (images (n, …), log r̂ (n,))."""
    from repro import refit  # noqa: PLC0415

    if params.method == "none":
        raise ConfigError("the plain sampler reads no ratio")
    scorer, divergence = model.discriminator, model.ratio_divergence
    if params.discriminator == "refit":
        scorer, _ = refit.refitted(model, params.sigma, params.psi, refit_cfg)
        divergence = None
    dev = _resolve_device(model.generator, device)
    gen = torch.Generator(device=dev).manual_seed(int(seed) + DIAGNOSTIC_STREAM)
    src = _Proposals(model.generator.to(dev).eval(), scorer.to(dev).eval(), params, divergence, model.z_dim, dev, gen)
    images, log_r = [], []
    with torch.inference_mode():
        for i in range(0, n, batch_size):
            x, lr = src.draw(min(batch_size, n - i), True)
            images.append(x.cpu())
            log_r.append(lr)
    return torch.cat(images), np.concatenate(log_r)


def sample_trained(
    model: Any,
    n: int,
    params: SamplingParams,
    seed: int,
    *,
    device: str | torch.device | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    real: torch.Tensor | np.ndarray | None = None,
    refit_cfg: Any = None,
) -> tuple[torch.Tensor, dict[str, Any]]:
    """:func:`sample` from a ``repro.train.TrainedModel`` with the discriminator ``params`` names.

    ``refit`` (the default for DRS and OBRS) scores with ``repro.refit.refitted``: D refitted
    against the sampled generator at the sampled (σ, ψ) and calibrated, cached in the run folder;
    ``raw`` with the training run's D. ``stats["discriminator"]`` says which (None for ``none``),
    and ``stats["refit"]`` holds the refit's record (held-out losses, calibration). With
    ``params.calibrate`` (raw D) and no ``real``, the validation split of the run's data set is
    used, in [-1, 1]."""
    from repro import data, refit  # noqa: PLC0415

    scored = params.method != "none"
    if scored and params.calibrate and params.discriminator == "refit":
        raise ConfigError("SamplingParams.calibrate applies to discriminator = 'raw'; the refit "
                          "discriminator is calibrated on the validation split when it is fitted")
    if scored and (params.calibrate or params.method == "mh") and real is None:
        # calibration and the MH chains' starting images: the validation split, in [-1, 1]
        real = data.to_gan_range(data.load(model.config.dataset).val.images_float())[:, None]  # (N, 1, 28, 28)
    scorer, divergence, info = model.discriminator, model.ratio_divergence, None
    if scored and params.discriminator == "refit":
        scorer, info = refit.refitted(model, params.sigma, params.psi, refit_cfg)
        divergence = None
    images, stats = sample(
        model.generator, scorer, n, params.method, params, seed,
        ratio_divergence=divergence, z_dim=model.z_dim, device=device, batch_size=batch_size, real=real,
    )
    stats["ratio_divergence"] = model.ratio_divergence if scored else None
    stats["discriminator"] = params.discriminator if scored else None
    stats["refit"] = {k: v for k, v in info.items() if k != "loss_trace"} if info else None
    stats["run_dir"] = str(model.run_dir)
    return images, stats
