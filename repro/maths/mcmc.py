"""Markov chains that use the discriminator's density ratio r = p/q (docs/maths.md §6.5–6.6).

- **Independent Metropolis–Hastings** (Turner et al. 2019, MH-GAN): proposals x′ ~ Q (the
  generator), accepted with min(1, r(x′)/r(x)), the chain's stationary law is P when r is the
  true ratio. The chain starts at a real image (no burn-in is wasted); a chain that never leaves
  it restarts from its first proposal over the remaining ones (the reference code's rule), so a
  real image is never returned.
- **Latent Langevin dynamics** (Che et al. 2020, DDLS): the energy E(z) = ½‖z‖² − log r(G(z))
  defines p₀(z) ∝ N(z; 0, I) r(G(z)), whose push-forward by G is P when r is exact. Steps
  z ← z − (η/2) ∇E(z) + √η ε; without the noise, the deterministic gradient flow that climbs
  log p₀ (in the spirit of Ansari et al. 2021's refinement).

The functions on log-ratios are pure (arrays in, arrays out); ``langevin`` takes the networks.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


def mh_log_acceptance(lr_current: np.ndarray, lr_proposal: np.ndarray) -> np.ndarray:
    """log min(1, r(x′)/r(x)) of an independent MH move from x to x′ ~ Q (Turner et al., eq. 3):
    the proposal density q cancels against p/q. Arrays of log r; a proposal with log r = −inf
    is never taken (−inf), a current state with −inf is always left (0)."""
    with np.errstate(invalid="ignore"):
        diff = np.minimum(lr_proposal - lr_current, 0.0)
    return np.where(np.isnan(diff), -np.inf, diff)  # −inf − (−inf): stay


def mh_accept(lr_current: np.ndarray, lr_proposal: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Which chains move, given uniforms u (c,): log u < log min(1, r(x′)/r(x))."""
    with np.errstate(divide="ignore"):
        return np.log(u) < mh_log_acceptance(lr_current, lr_proposal)


def mh_select(lr_start: np.ndarray, lr_props: np.ndarray, u: np.ndarray, u_restart: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Independent MH over K proposals for c chains at once.

    lr_start (c,): log r of each chain's real starting image; lr_props (c, K): log r of the
    proposals in order; u, u_restart (c, K): uniforms of the chain and of its restart.
    Returns (index (c,) of the proposal each chain ends on, restarted (c,) bool, moves (c,)):
    a chain that never accepted a proposal is run again from proposal 0 over proposals 1..K−1.
    """
    c, k = lr_props.shape
    index = np.full(c, -1)  # −1: still on the real image
    current = lr_start.astype(np.float64).copy()
    moves = np.zeros(c, dtype=np.int64)
    fallback = np.zeros(c, dtype=np.int64)  # the restarted chain, from proposal 0
    current_fb = lr_props[:, 0].astype(np.float64).copy()
    for j in range(k):
        move = mh_accept(current, lr_props[:, j], u[:, j])
        index[move], current[move] = j, lr_props[move, j]
        moves += move
        if j > 0:
            move_fb = mh_accept(current_fb, lr_props[:, j], u_restart[:, j])
            fallback[move_fb], current_fb[move_fb] = j, lr_props[move_fb, j]
    restarted = index < 0
    return np.where(restarted, fallback, index), restarted, moves


LogRatio = Callable[[torch.Tensor], torch.Tensor]


def energy_gradient(z: torch.Tensor, generator: torch.nn.Module, log_ratio: LogRatio) -> tuple[torch.Tensor, torch.Tensor]:
    """(∇E(z), log r(G(z))) for E(z) = ½‖z‖² − log r(G(z)), z (B, d); no parameter gradients."""
    with torch.enable_grad():
        z = z.detach().requires_grad_(True)
        lr = log_ratio(generator(z)).reshape(-1)  # (B,)
        (grad_lr,) = torch.autograd.grad(lr.sum(), z)
    return z.detach() - grad_lr, lr.detach()


def langevin(z: torch.Tensor, generator: torch.nn.Module, log_ratio: LogRatio, steps: int, step_size: float,
             noise: bool, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``steps`` Langevin steps z ← z − (η/2)∇E(z) + √η ε (ε ~ N(0, I) from ``gen``; without
    ``noise`` the gradient flow z ← z − (η/2)∇E(z)). Returns (z (B, d), log r of G at the last
    gradient evaluation (B,))."""
    lr = torch.full((z.shape[0],), float("nan"), device=z.device)
    for _ in range(steps):
        grad, lr = energy_gradient(z, generator, log_ratio)
        z = z - 0.5 * step_size * grad
        if noise:
            z = z + step_size ** 0.5 * torch.randn(z.shape, generator=gen, device=z.device)
    return z, lr
