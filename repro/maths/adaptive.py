"""Adaptive truncation: a latent density learnt from the latents a ratio-based sampler accepts
(docs/maths.md §6.7; the student slides' "adaptive truncation?", the lecture's latent
reshaping).

OBRS at budget K accepts a latent z with probability a(G(z)) = min(c_K r(G(z))/M, 1), so the
accepted latents follow p₀(z) ∝ N(z; 0, I) a(G(z)). A Gaussian mixture fitted to them (EM,
scikit-learn) approximates p₀; sampling z from the mixture and returning G(z) then costs one
generator evaluation per sample and no discriminator at all, against K of each for OBRS. What
the approximation loses is what the study measures.
"""

from __future__ import annotations

import numpy as np
from sklearn.mixture import GaussianMixture


def accepted_latents(z: np.ndarray, acceptance: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The rows of z (N, d) accepted with probabilities ``acceptance`` (N,) by uniforms u (N,)."""
    return z[u < acceptance]


def fit_mixture(z: np.ndarray, components: int, seed: int) -> GaussianMixture:
    """A Gaussian mixture with diagonal covariances fitted to latents z (N, d) by EM.

    Diagonal: with d = 100 and a few thousand accepted latents a full covariance per component
    (d(d + 1)/2 = 5,050 parameters) would be estimated from fewer points than parameters."""
    if len(z) < 2 * components:
        raise ValueError(f"{len(z)} accepted latents cannot fit {components} components; "
                         "raise burn_in or lower the budget or the components")
    model = GaussianMixture(n_components=components, covariance_type="diag", reg_covar=1e-4, random_state=seed,
                            max_iter=200)
    return model.fit(z.astype(np.float64))


def sample_mixture(model: GaussianMixture, n: int, seed: int) -> np.ndarray:
    """n latents (n, d) from the fitted mixture, deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, model.weights_ / model.weights_.sum())
    parts = [model.means_[k] + np.sqrt(model.covariances_[k]) * rng.standard_normal((m, model.means_.shape[1]))
             for k, m in enumerate(counts) if m]
    z = np.concatenate(parts) if parts else np.zeros((0, model.means_.shape[1]))
    return z[rng.permutation(len(z))]
