"""repro.gan.refit where the truth is known: a 2-D Gaussian mixture P, a Gaussian generator Q, the
exact log p/q; then DRS and OBRS with the refit ratio against the exact one; then a real run."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from repro import samplers
from repro.gan import refit
from repro.maths import divergences

MEANS = torch.tensor([[2.0, 2.0], [2.0, -2.0], [-2.0, 2.0], [-2.0, -2.0]], dtype=torch.float64)
SD_P, SD_Q, SD_OLD = 0.5, 2.2, 1.0


def log_p(x: torch.Tensor) -> torch.Tensor:
    d2 = ((x[:, None, :].double() - MEANS[None]) ** 2).sum(-1)  # (N, 4)
    return torch.logsumexp(-d2 / (2 * SD_P**2), 1) - math.log(4 * 2 * math.pi * SD_P**2)


def log_q(x: torch.Tensor, sd: float) -> torch.Tensor:
    return -(x.double() ** 2).sum(1) / (2 * sd**2) - math.log(2 * math.pi * sd**2)


def sample_p(n: int, gen: torch.Generator) -> torch.Tensor:
    k = torch.randint(0, 4, (n,), generator=gen)
    return (MEANS[k] + SD_P * torch.randn(n, 2, generator=gen, dtype=torch.float64)).float()


class Scale(nn.Module):
    """The generator x = s z: Q = N(0, s² I)."""

    def __init__(self, s: float) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(float(s)), requires_grad=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.w * z


class ExactLogRatio(nn.Module):
    def __init__(self, sd: float) -> None:
        super().__init__()
        self.sd = sd
        self.dummy = nn.Parameter(torch.zeros(()), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (log_p(x) - log_q(x, self.sd)).float()


def mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 64), nn.LeakyReLU(0.2), nn.Linear(64, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1))


def bce_loss(vr: torch.Tensor, vf: torch.Tensor) -> torch.Tensor:
    return divergences.discriminator_loss(vr, vf, "bce")


@pytest.fixture(scope="module")
def fitted():
    """A D trained against the *old* generator N(0, 1), then a copy refitted against N(0, 2.2²)."""
    gen = torch.Generator().manual_seed(0)
    real = sample_p(20_000, gen)
    cfg = refit.RefitConfig(steps=1500, batch_size=256, lr=2e-3)
    old = mlp()
    refit.refit_discriminator(old, lambda k: SD_OLD * torch.randn(k, 2, generator=gen), real, bce_loss, cfg, gen)
    new = mlp()
    new.load_state_dict(old.state_dict())
    refit.refit_discriminator(new, lambda k: SD_Q * torch.randn(k, 2, generator=gen), real, bce_loss, cfg, gen)
    return old, new


def test_refit_recovers_the_exact_log_ratio_of_the_sampled_generator(fitted):
    old, new = fitted
    x = SD_Q * torch.randn(20_000, 2, generator=torch.Generator().manual_seed(1))  # where DRS evaluates r
    exact = (log_p(x) - log_q(x, SD_Q)).numpy()
    err_old = refit.log_ratios(refit.LogRatioNet(old, "bce"), x) - exact
    err_new = refit.log_ratios(refit.LogRatioNet(new, "bce"), x) - exact
    # weight the error by how much it matters to rejection sampling: points with r ≥ e^-4 (the rest are
    # rejected whatever their exact value)
    keep = exact > -4
    rmse_old, rmse_new = (float(np.sqrt(np.mean(e[keep] ** 2))) for e in (err_old, err_new))
    assert rmse_new < 0.6, rmse_new
    assert rmse_new < 0.5 * rmse_old, (rmse_new, rmse_old)


def test_calibration_and_heldout_loss(fitted):
    old, new = fitted
    gen = torch.Generator().manual_seed(2)
    real, fake = sample_p(8000, gen), SD_Q * torch.randn(8000, 2, generator=gen)
    exact = ExactLogRatio(SD_Q)
    rec_new = refit.calibrate(refit.LogRatioNet(new, "bce"), real, fake)
    rec_old = refit.calibrate(refit.LogRatioNet(old, "bce"), real, fake)
    h = 4000
    bayes = refit.heldout_logloss(refit.log_ratios(exact, real[h:]), refit.log_ratios(exact, fake[h:]))
    # the exact ratio has the lowest loss; the refit D is close to it, the stale one is not
    assert bayes <= rec_new["heldout_logloss"] + 0.01
    assert rec_new["heldout_logloss"] < bayes + 0.03, (rec_new, bayes)
    assert rec_old["heldout_logloss_uncalibrated"] > rec_new["heldout_logloss_uncalibrated"] + 0.05
    assert rec_new["heldout_accuracy"] > 0.8


def energy_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Székely's energy distance between two 2-D samples (0 iff equal in distribution)."""
    def mean_dist(x, y):
        return float(np.mean(np.linalg.norm(x[:, None] - y[None], axis=-1)))
    return 2 * mean_dist(a, b) - mean_dist(a, a) - mean_dist(b, b)


@pytest.mark.parametrize("method,extra", [("drs", {"gamma_convention": "acceptance", "acceptance": 0.2}),
                                          ("obrs", {"budget": 5.0})])
def test_rejection_with_the_refit_ratio_matches_the_exact_ratio(fitted, method, extra):
    _, new = fitted
    G = Scale(SD_Q)
    params = samplers.SamplingParams.of(method=method, burn_in=20_000, discriminator="raw", **extra)
    target = sample_p(1500, torch.Generator().manual_seed(3)).numpy()
    out = {}
    for name, scorer in (("exact", ExactLogRatio(SD_Q)), ("refit", refit.LogRatioNet(new, "bce"))):
        x, stats = samplers.sample(G, scorer, 1500, params=params, seed=4, ratio_divergence=None, z_dim=2)
        out[name] = (energy_distance(x.numpy(), target), stats["acceptance_rate"])
    plain, _ = samplers.sample(G, None, 1500, seed=4, ratio_divergence=None, z_dim=2)
    e_plain = energy_distance(plain.numpy(), target)
    # both filters move Q most of the way to P, and the refit one nearly as far as the exact one
    assert out["exact"][0] < 0.25 * e_plain, (out, e_plain)
    assert out["refit"][0] < 0.35 * e_plain, (out, e_plain)
    assert abs(out["refit"][1] - out["exact"][1]) < 0.05  # same operating point


def test_drs_acceptance_convention_lands_on_its_target():
    G = Scale(SD_Q)
    for target in (0.88, 0.3, 0.06):
        params = samplers.SamplingParams.of(method="drs", gamma_convention="acceptance", acceptance=target,
                                         burn_in=20_000, discriminator="raw")
        _, stats = samplers.sample(G, ExactLogRatio(SD_Q), 3000, params=params, seed=5, ratio_divergence=None,
                                   z_dim=2)
        assert abs(stats["acceptance_rate"] - target) < 0.03, (target, stats["acceptance_rate"])
        assert abs(stats["expected_acceptance_burn_in"] - target) < 1e-6
        assert stats["target_acceptance"] == target


def test_a_target_acceptance_holds_on_a_sharp_ratio() -> None:
    """A ratio far sharper than the burn-in shows (a proposal beats the burn-in maximum every few
    hundred draws): with M raised at each new maximum the acceptance collapsed far below the
    target; with M held at its burn-in value it stays on target."""
    G = Scale(SD_Q)
    sharp = ExactLogRatio(SD_Q)

    class Sharper(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.dummy = nn.Parameter(torch.zeros(()), requires_grad=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return 25.0 * sharp(x)  # a calibrated but very confident ratio

    params = samplers.SamplingParams.of(method="drs", gamma_convention="acceptance", acceptance=0.06, burn_in=2000,
                                     discriminator="raw")
    _, stats = samplers.sample(G, Sharper(), 500, params=params, seed=6, ratio_divergence=None, z_dim=2)
    assert abs(stats["acceptance_rate"] - 0.06) < 0.03 and stats["M_updates"] == 0
