"""What a sampler draws from: proposals x = G(z) at the tuned latent prior and their log-ratios.

``Proposals`` is the one object a sampler's ``run`` reads (``repro.samplers.registry``): the
latent prior z ~ N(0, σ² I) with Karras et al.'s hard truncation at ψ (docs/maths.md §5), the
generator, the density ratio log r(x) = log p/q read from the discriminator's raw score through
``repro.maths.divergences.log_ratio`` (optionally Platt-calibrated, ``fit_platt``), the device, the
batch size and the held-out real images (the MH chains' starting points, the calibration's
positives). The latents come from a ``torch.Generator`` of the run's own (``repro.core.seeds``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import optimize, special
from torch import nn

from repro.core.errors import ConfigError, ReproError
from repro.maths.divergences import log_ratio

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


def resolve_device(generator: nn.Module, device: str | torch.device | None) -> torch.device:
    """``device``, or the generator's when None."""
    if device is None:
        p = next(iter(generator.parameters()), None)
        return p.device if p is not None else torch.device("cpu")
    return torch.device(device)


def safe_exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


class Proposals:
    """Draws proposals x = G(z) and their log-ratios log r(x) (float64, numpy), batch by batch.

    generator: latents (B, z_dim) → samples (B, …); discriminator: samples → raw scores (B,) or
    (B, 1), or None for a sampler that reads no ratio; ratio_divergence: how a raw score maps to
    log r (None: the discriminator returns log r itself); gen: the latent stream; real: held-out
    real images (N, …) or None."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module | None, ratio_divergence: str | None,
                 z_dim: int, sigma: float, psi: float | None, device: torch.device, gen: torch.Generator,
                 batch_size: int, real: torch.Tensor | None = None) -> None:
        self.generator, self.discriminator, self.name = generator, discriminator, ratio_divergence
        self.z_dim, self.sigma, self.psi, self.device, self.gen = z_dim, sigma, psi, device, gen
        self.batch_size, self.real = batch_size, real
        self.calibration: tuple[float, float] | None = None

    def latents(self, k: int) -> torch.Tensor:
        return truncated_latents(k, self.z_dim, self.sigma, self.psi, self.gen, self.device)

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

    def draw(self, k: int, scored: bool = True) -> tuple[torch.Tensor, np.ndarray | None]:
        """k proposals (k, …) and, when ``scored``, their log-ratios (k,)."""
        x = self.images(k)
        return x, (self.log_ratio(x) if scored else None)

    def empty(self) -> torch.Tensor:
        """No samples, with the generator's sample shape (a run asked for n = 0)."""
        return self.images(1)[:0].cpu()

    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one sample, without a draw from the latent stream."""
        with torch.no_grad():
            return tuple(self.generator(torch.zeros(1, self.z_dim, device=self.device)).shape[1:])

    def burn_in(self, total: int) -> np.ndarray:
        """The log-ratios (total,) of ``total`` fresh proposals."""
        out, done = [], 0
        while done < total:
            k = min(self.batch_size, total - done)
            out.append(self.draw(k, True)[1])
            done += k
        return np.concatenate(out)  # (total,)

    def calibrate(self, real: torch.Tensor) -> tuple[float, float]:
        """Fit log r̂ = a · log r + b on ``real`` (N, …) against as many proposals (Platt
        scaling, ``fit_platt``); later log-ratios are calibrated. Returns (a, b)."""
        batch_size = self.batch_size
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

