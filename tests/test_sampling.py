"""repro.gan.sampling: truncation, DRS and OBRS on problems whose density ratio is known exactly.

The "generator" maps z to μ + s z (Q = N(μ, s²)) or is the identity; the "discriminator"
returns the exact log p/q, so with ratio_divergence='bce' (log r = v) the samplers are checked
against what docs/maths.md §5–6 says they must produce.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from repro.core.errors import ConfigError
from repro.gan import sampling
from repro.maths.acceptance import obrs_acceptance, obrs_constant
from repro.samplers import AcceptanceTooLowError, SamplingParams, sample

# --------------------------------------------------------------------------- the toy problems


class Affine(nn.Module):
    """z (B, d) → μ + s z (B, d): Q = N(μ, s² I)."""

    def __init__(self, mu: float = 0.0, s: float = 1.0) -> None:
        super().__init__()
        self.mu, self.s = mu, s
        self.dummy = nn.Parameter(torch.zeros(()))  # so the sampler can find a device

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.mu + self.s * z


def log_normal(x: torch.Tensor, mu: float, s: float) -> torch.Tensor:
    return -((x - mu) ** 2) / (2 * s**2) - math.log(s) - 0.5 * math.log(2 * math.pi)


class ExactLogRatio(nn.Module):
    """x (B, 1) → v (B,) with v = log p(x) − log q(x) + shift, in float64."""

    def __init__(self, log_p, log_q, shift: float = 0.0, scale: float = 1.0) -> None:
        super().__init__()
        self.log_p, self.log_q, self.shift, self.scale = log_p, log_q, shift, scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(-1).to(torch.float64)
        return self.scale * (self.log_p(x) - self.log_q(x)) + self.shift


# P = N(0, 1), Q = N(0.5, 1.3²): r is bounded, M = r(−0.5 / 0.69) ≈ 1.558
MU_Q, S_Q = 0.5, 1.3


def gauss_problem(**kw) -> tuple[nn.Module, nn.Module]:
    return Affine(MU_Q, S_Q), ExactLogRatio(lambda x: log_normal(x, 0, 1), lambda x: log_normal(x, MU_Q, S_Q), **kw)


def exact_M_gauss() -> float:
    x = MU_Q / (1 - S_Q**2)  # where d/dx log r = 0
    return math.exp(log_normal(torch.tensor(x), 0, 1).item() - log_normal(torch.tensor(x), MU_Q, S_Q).item())


# P = ½ N(−2, 0.3²) + ½ N(2, 0.3²), Q = N(0, 2²): M ≈ 5.5, so OBRS with K = 2, 4 is not plain RS
def log_mix(x: torch.Tensor) -> torch.Tensor:
    return torch.logaddexp(log_normal(x, -2, 0.3), log_normal(x, 2, 0.3)) - math.log(2)


def mix_cdf(x: np.ndarray) -> np.ndarray:
    return 0.5 * stats.norm.cdf(x, -2, 0.3) + 0.5 * stats.norm.cdf(x, 2, 0.3)


def mix_problem() -> tuple[nn.Module, nn.Module]:
    return Affine(0.0, 2.0), ExactLogRatio(log_mix, lambda x: log_normal(x, 0, 2))


def run(g, d, n, seed=0, *, z_dim=1, ratio_divergence="bce", method="none", batch_size=1000, **kw):
    """Sample the toy problem; γ is absolute unless a test says otherwise (the exact-ratio tests
    set γ in the units of the acceptance formula, not as an offset from a percentile)."""
    if method == "drs":
        kw.setdefault("gamma_convention", "absolute")
    return sample(g, d, n, SamplingParams.of(method=method, **kw), seed,
                  ratio_divergence=ratio_divergence, z_dim=z_dim, batch_size=batch_size)


# --------------------------------------------------------------------------- rejection sampling recovers P


def test_plain_rejection_sampling_recovers_p() -> None:
    g, d = gauss_problem()
    x, st = run(g, d, 3000, method="drs", gamma=0.0, eps=0.0, burn_in=20_000)
    assert x.shape == (3000, 1)
    assert stats.kstest(x.numpy().ravel(), "norm").pvalue > 0.01
    # the proposals themselves are clearly not P
    x0, _ = run(g, d, 3000, method="none")
    assert stats.kstest(x0.numpy().ravel(), "norm").pvalue < 1e-6
    M = exact_M_gauss()
    assert st["M"] == pytest.approx(M, rel=1e-3)
    assert st["acceptance_rate"] == pytest.approx(1 / M, abs=0.02)
    assert st["gamma0"] == 0.0 and st["gamma"] == 0.0 and st["gamma_convention"] == "absolute"
    assert st["accepted"] == 3000 and st["proposals"] > 3000


def test_plain_rejection_sampling_recovers_a_mixture() -> None:
    g, d = mix_problem()
    x, st = run(g, d, 3000, method="drs", gamma=0.0, eps=1e-12, burn_in=20_000)
    assert stats.kstest(x.numpy().ravel(), mix_cdf).pvalue > 0.01
    assert st["M"] >= st["M_burn_in"]


def test_ratio_divergence_decides_the_map_from_v_to_log_r() -> None:
    g, d = gauss_problem()
    x_bce, _ = run(g, d, 500, method="drs")
    # kl: log r = v − 1; rkl: log r = v
    _, d_kl = gauss_problem(shift=1.0)
    x_kl, _ = run(g, d_kl, 500, method="drs", ratio_divergence="kl")
    x_rkl, _ = run(g, d, 500, method="drs", ratio_divergence="rkl")
    assert torch.equal(x_bce, x_kl) and torch.equal(x_bce, x_rkl)


def test_calibration_undoes_an_affine_distortion_of_log_r() -> None:
    g, d_bad = gauss_problem(scale=3.0, shift=2.0)  # v = 3 log r + 2
    real = torch.randn(4000, 1, generator=torch.Generator().manual_seed(5))
    x, st = sample(g, d_bad, 2000, SamplingParams.of(method="drs", calibrate=True, eps=1e-12, burn_in=20_000, gamma_convention="absolute"), 0,
                   ratio_divergence="bce", z_dim=1, real=real)
    assert st["calibrated"]
    assert st["calibration_a"] == pytest.approx(1 / 3, abs=0.05)
    assert st["calibration_b"] == pytest.approx(-2 / 3, abs=0.1)
    assert stats.kstest(x.numpy().ravel(), "norm").pvalue > 0.01
    with pytest.raises(ConfigError, match="real"):
        run(g, d_bad, 10, method="drs", calibrate=True)


# --------------------------------------------------------------------------- DRS γ and OBRS K


def test_drs_acceptance_rises_as_gamma_falls() -> None:
    g, d = mix_problem()
    rates = [run(g, d, 1000, method="drs", gamma=gm, burn_in=5000)[1]["acceptance_rate"] for gm in (3, 1, 0, -1, -3)]
    assert all(a < b for a, b in zip(rates, rates[1:])), rates
    # γ → −∞ accepts everything (log r reaches −25 between the modes, hence a very negative γ)
    assert run(g, d, 1000, method="drs", gamma=-80, burn_in=5000)[1]["acceptance_rate"] > 0.99


def test_drs_percentile_convention_records_gamma0() -> None:
    g, d = mix_problem()
    _, st = run(g, d, 500, method="drs", gamma=-1.5, gamma_convention="percentile", gamma_percentile=80, burn_in=5000)
    assert st["gamma_convention"] == "percentile" and st["gamma_percentile"] == 80
    assert st["gamma_offset"] == -1.5
    assert st["gamma"] == pytest.approx(st["gamma0"] - 1.5)
    assert math.isfinite(st["gamma0"]) and st["gamma0"] != 0.0
    # a higher percentile means a higher γ0, hence lower acceptance at the same offset
    _, st95 = run(g, d, 500, method="drs", gamma=-1.5, gamma_convention="percentile", gamma_percentile=95, burn_in=5000)
    assert st95["gamma0"] > st["gamma0"] and st95["acceptance_rate"] < st["acceptance_rate"]


@pytest.mark.parametrize("K", [2, 4])
def test_obrs_accepts_one_over_K(K: int) -> None:
    g, d = mix_problem()
    x, st = run(g, d, 3000, method="obrs", budget=K, burn_in=20_000, seed=K)
    assert st["M_burn_in"] > K  # not the plain-RS regime
    assert st["c_K"] > 1
    assert st["expected_acceptance_burn_in"] == pytest.approx(1 / K, abs=1e-6)
    assert abs(st["acceptance_rate"] - 1 / K) <= 0.02
    assert st["budget"] == K


def test_obrs_K1_accepts_everything_and_K_large_is_plain_rs() -> None:
    g, d = mix_problem()
    x, st = run(g, d, 500, method="obrs", budget=1, burn_in=1000)
    assert st["acceptance_rate"] == 1.0 and st["proposals"] == 500 and st["c_K"] is None
    _, st = run(g, d, 500, method="obrs", budget=1000, burn_in=5000)
    assert st["c_K"] == 1.0
    assert st["acceptance_rate"] == pytest.approx(1 / st["M_burn_in"], abs=0.03)


# --------------------------------------------------------------------------- latent tuning


class Identity(nn.Module):
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z


def test_soft_truncation_scales_the_latent_std() -> None:
    for sigma in (0.5, 2.0):
        z, st = run(Identity(), None, 4000, z_dim=4, sigma=sigma)
        assert z.shape == (4000, 4)
        assert float(z.std()) == pytest.approx(sigma, rel=0.02)
        assert st["sigma"] == sigma and st["acceptance_rate"] == 1.0


@pytest.mark.parametrize("sigma,psi", [(1.0, 0.7), (2.0, 1.0), (1.0, 0.05)])
def test_hard_truncation_keeps_z_inside(sigma: float, psi: float) -> None:
    z, st = run(Identity(), None, 4000, z_dim=4, sigma=sigma, psi=psi)
    assert float(z.abs().max()) <= psi
    expected = stats.truncnorm(-psi / sigma, psi / sigma, scale=sigma).std()
    assert float(z.std()) == pytest.approx(expected, rel=0.02)
    assert st["psi"] == psi


def test_truncation_combines_with_rejection() -> None:
    g, d = gauss_problem()
    x, st = run(g, d, 500, method="drs", sigma=0.8, psi=1.5, burn_in=2000)
    assert float((x - MU_Q).abs().max()) <= S_Q * 1.5 + 1e-6
    assert st["sigma"] == 0.8 and st["psi"] == 1.5
    x, st = run(g, d, 500, method="obrs", budget=1.2, psi=1.0, burn_in=2000)
    assert float((x - MU_Q).abs().max()) <= S_Q * 1.0 + 1e-6


# --------------------------------------------------------------------------- determinism, errors, contract


@pytest.mark.parametrize("method", ["none", "drs", "obrs"])
def test_deterministic_for_a_seed_and_blind_to_global_rng(method: str) -> None:
    g, d = mix_problem()
    own = {"none": {}, "drs": {"burn_in": 1000}, "obrs": {"budget": 2.0, "burn_in": 1000}}[method]
    kw = dict(method=method, psi=2.5, **own)
    torch.manual_seed(1)
    np.random.seed(1)
    state = torch.get_rng_state()
    a, sa = run(g, d, 300, seed=7, **kw)
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is not touched
    torch.manual_seed(2)
    np.random.seed(2)
    b, sb = run(g, d, 300, seed=7, **kw)
    assert torch.equal(a, b) and sa == sb
    c, _ = run(g, d, 300, seed=8, **kw)
    assert not torch.equal(a, c)


def test_too_low_acceptance_raises_with_counts() -> None:
    # log r = 20 x under Q = N(0, 1): the burn-in maximum makes nearly every proposal hopeless
    d = ExactLogRatio(lambda x: 20 * x, lambda x: 0 * x)
    with pytest.raises(AcceptanceTooLowError, match=r"after 150 proposals \(acceptance so far"):
        run(Affine(), d, 50, method="drs", max_proposals_per_sample=3, burn_in=5000)
    with pytest.raises(AcceptanceTooLowError, match="max_proposals_per_sample"):
        run(Affine(), d, 50, method="drs", max_proposals_per_sample=3, burn_in=5000, batch_size=7)


@pytest.mark.parametrize(
    "kw,field",
    [
        (dict(method="hmc"), "method"),
        (dict(method="drs", gamma_convention="relative"), "gamma_convention"),
        (dict(method="obrs", budget=0.5), "budget"),
        (dict(sigma=0.0), "sigma"),
        (dict(psi=-1.0), "psi"),
        (dict(method="drs", gamma=math.inf), "gamma"),
        (dict(method="drs", gamma_percentile=101), "gamma_percentile"),
        (dict(method="drs", eps=-1e-3), "eps"),
        (dict(method="obrs", burn_in=0), "burn_in"),
        (dict(method="drs", max_proposals_per_sample=0.5), "max_proposals_per_sample"),
        (dict(method="none", budget=2.0), "budget"),  # another sampler's setting is refused by name
    ],
)
def test_params_are_validated_with_the_field_named(kw: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=f"^blocks\\[0\\]\\.{field}: .*(expected |applies to sampler)"):
        SamplingParams.from_dict(kw, "blocks[0]")


def test_other_config_errors() -> None:
    with pytest.raises(ConfigError, match="expected one of none, drs, obrs, mh, langevin, adaptive"):
        SamplingParams.of(method="rejection")
    with pytest.raises(ConfigError, match="gama: unknown field; allowed for sampler 'drs': method, sigma, psi, "
                                          "acceptance, burn_in"):
        SamplingParams.from_dict({"method": "drs", "gama": 1.0})
    with pytest.raises(ConfigError, match="sigma: expected a number, got a string '1'"):
        SamplingParams.from_dict({"sigma": "1"})  # typed: a string is not a number
    assert SamplingParams.from_dict({"method": "drs", "gamma": 1.0}).gamma == 1.0
    g, d = gauss_problem()
    with pytest.raises(ConfigError, match="ratio_divergence"):
        run(g, d, 10, method="drs", ratio_divergence="tv")
    with pytest.raises(ConfigError, match="needs a discriminator"):
        run(g, None, 10, method="obrs", budget=2)
    with pytest.raises(ConfigError, match="n must be"):
        run(g, d, -1)


def test_method_argument_overrides_params_and_modes_are_restored() -> None:
    g, d = gauss_problem()
    g.train()
    _, st = sample(g, d, 10, SamplingParams.of(method="obrs", budget=2, burn_in=500), 0,
                   ratio_divergence="bce", z_dim=1)
    assert st["method"] == "obrs" and g.training
    x, st = sample(g, d, 0, SamplingParams.of(method="drs", burn_in=100), 0, ratio_divergence="bce", z_dim=1)
    assert x.shape == (0, 1) and st["accepted"] == 0
    json.dumps(st)  # JSON-able


# --------------------------------------------------------------------------- the PR guarantee of OBRS (docs/maths.md §6)


def precision(p: np.ndarray, q: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """α_λ(P‖Q) = Σ min(λ p, q) for each λ (L,)."""
    return np.minimum(lam[:, None] * p, q).sum(axis=1)


def recall(p: np.ndarray, q: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """β_λ(P‖Q) = Σ min(p, q / λ)."""
    return np.minimum(p, q / lam[:, None]).sum(axis=1)


@pytest.mark.parametrize("seed", range(20))
def test_obrs_refined_histogram_dominates(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(3, 30))
    p, q = rng.dirichlet(np.full(k, 0.5)), rng.dirichlet(np.full(k, 0.5))
    r = p / q
    M = float(r.max())
    K = float(rng.uniform(1.0, M))
    c = obrs_constant(r, M, K, weights=q)
    a = obrs_acceptance(r, M, c)
    assert float(q @ a) == pytest.approx(1 / K, rel=1e-9)
    q_ref = q * a / (q @ a)
    lam = np.tan(np.linspace(1e-6, np.pi / 2 - 1e-6, 301))
    target = np.minimum(1.0, K * precision(p, q, lam))  # (L,)
    lam_star = target / recall(p, q, lam)
    achieved = np.array([precision(p, q_ref, np.array([ls]))[0] for ls in lam_star])
    assert np.all(achieved >= target - 1e-9)


# --------------------------------------------------------------------------- CLI


def test_cli_sample_bad_input_exits_2(tmp_path, capsys) -> None:
    from repro.cli import main

    code = main(["sample", "--ckpt", "x", "--method", "drs", "--gamma-percentile", "120", "-n", "5",
                 "--out", str(tmp_path / "s.npz")])
    assert code == 2
    assert "gamma_percentile" in capsys.readouterr().err
    assert not (tmp_path / "s.npz").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--method", "obrs", "--acceptance", "0.5"], "--acceptance applies to --method drs, not obrs"),
    (["--method", "drs", "--budget", "4"], "--budget applies to --method obrs or adaptive, not drs"),
    (["--seed", "-1"], "--seed -1: expected an integer in [0, 2^31)"),
    (["--refit-steps", "-1"], "--refit-steps -1: expected an integer in [0, 2^31)"),
    (["--method", "adaptive", "--components", "100000"], "components: 100000 is not allowed"),
    (["--sigma", "1e300"], "sigma: 1e+300 is not allowed"),
])
def test_cli_sample_refuses_what_a_spec_refuses(args: list[str], message: str, tmp_path, capsys) -> None:
    """The settings of another sampler are refused, as in a spec block, before anything is loaded."""
    from repro.cli import main

    assert main(["sample", "--ckpt", "x", "-n", "5", "--out", str(tmp_path / "s.npz"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "s.npz").exists()


def test_cli_sample_never_replaces_what_it_should_not(tmp_path, capsys) -> None:
    """An output that is not a regular file (here a FIFO; a device node is refused the same way) or
    --grid on the samples' own file: one line, exit 2, before anything is loaded or written."""
    import os
    import stat

    from repro.cli import main

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert main(["sample", "--ckpt", "x", "-n", "5", "--out", str(fifo)]) == 2
    assert "not a regular file" in capsys.readouterr().err and stat.S_ISFIFO(fifo.stat().st_mode)
    out = tmp_path / "x.npz"
    assert main(["sample", "--ckpt", "x", "-n", "5", "--out", str(out), "--grid", str(out)]) == 2
    assert "name the same file" in capsys.readouterr().err and not out.exists()


# --------------------------------------------------------------------------- a (tiny) trained MNIST run


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory) -> str:
    """A few seconds of BCE training on 4000 MNIST images: a poor G that D tells apart well, but not
    perfectly (real logits ≈ 3, generated ≈ 0), so that a refit D has something to improve."""
    from repro.gan import train

    cfg = train.TrainConfig(train_size=4000, epochs=6, eval_every=0, g_widths=(64, 128), d_widths=(128, 64),
                            z_dim=16, batch_size=64, ema=0.0)
    run_dir = tmp_path_factory.mktemp("mnist_run")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is faster than two contended ones
    try:
        result = train.train(cfg, run_dir, progress=False)
    finally:
        torch.set_num_threads(threads)
    assert result["status"] == "ok"
    return str(run_dir)


@pytest.mark.parametrize("K", [2, 4])
def test_obrs_on_a_trained_mnist_model_accepts_one_over_K(mnist_run: str, K: int) -> None:
    params = SamplingParams.of(method="obrs", budget=K, burn_in=10_000, discriminator="raw")
    x, st = sampling.sample_from_run(mnist_run, 2000, params, seed=11)
    assert x.shape == (2000, 1, 28, 28) and float(x.abs().max()) <= 1
    assert st["c_K"] > 1  # D separates real from generated enough that K < M matters
    assert abs(st["acceptance_rate"] - 1 / K) <= 0.03  # fresh proposals, c_K from the burn-in
    assert st["ratio_divergence"] == "bce" and st["run_dir"] == mnist_run and st["discriminator"] == "raw"


def test_cli_evaluate_samples_a_run_folder_with_the_options_of_sample(mnist_run: str, tmp_path, capsys) -> None:
    """repro evaluate RUN --method drs …: the samples repro sample would draw, scored by the protocol."""
    from repro.cli import main

    mnist_run = str(shutil.copytree(mnist_run, tmp_path / "run"))  # its refit cache stays out of the shared run
    common = ["--method", "drs", "--acceptance", "0.5", "--burn-in", "2000", "--refit-steps", "100", "--seed", "2"]
    assert main(["evaluate", mnist_run, "-n", "300", *common, "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["run"] == mnist_run and out["sampler"] == "drs" and out["acceptance"] == 0.5 and out["n_samples"] == 300
    assert main(["sample", "--ckpt", mnist_run, "-n", "300", *common, "--out", str(tmp_path / "s.npz")]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "s.npz"), "--seed", "2", "--json"]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {k: again[k] for k in ("fid", "precision", "recall", "coverage")} == \
        {k: out[k] for k in ("fid", "precision", "recall", "coverage")}


def test_cli_drs_at_a_target_acceptance_with_the_refit_discriminator(mnist_run: str, tmp_path, capsys) -> None:
    from repro.cli import main

    args = ["sample", "--ckpt", mnist_run, "--method", "drs", "--acceptance", "0.5", "--burn-in", "5000",
            "-n", "1000", "--refit-steps", "200", "--json"]
    assert main([*args, "--out", str(tmp_path / "a.npz")]) == 0
    st = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert st["discriminator"] == "refit" and st["gamma_convention"] == "acceptance"
    assert abs(st["acceptance_rate"] - 0.5) <= 0.03 and st["target_acceptance"] == 0.5
    rec = st["refit"]
    assert rec["refit"]["steps"] == 200 and rec["sigma"] == 1.0
    # the refit D tells the sampled generator's images from real ones better than the raw D does
    assert rec["heldout_logloss"] < rec["raw_heldout_logloss"] < 0.75
    cached = list((Path(mnist_run) / "refit").glob("*.pt"))
    assert len(cached) == 1
    # a second run loads the cached refit (same record, same file) and gives the same samples
    assert main([*args, "--out", str(tmp_path / "b.npz")]) == 0
    st2 = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert st2["refit"] == rec and list((Path(mnist_run) / "refit").glob("*.pt")) == cached
    with np.load(tmp_path / "a.npz") as za, np.load(tmp_path / "b.npz") as zb:
        np.testing.assert_array_equal(za["images"], zb["images"])
    # the raw discriminator, for comparison, at the same acceptance
    assert main([*args, "--discriminator", "raw", "--out", str(tmp_path / "c.npz")]) == 0
    st3 = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert st3["discriminator"] == "raw" and st3["refit"] is None
    assert abs(st3["acceptance_rate"] - 0.5) <= 0.03


def test_cli_on_a_trained_mnist_model(mnist_run: str, tmp_path, capsys) -> None:
    from repro.cli import main

    out, grid = tmp_path / "s.npz", tmp_path / "g.png"
    code = main(["sample", "--ckpt", mnist_run, "--method", "drs", "--gamma-convention", "percentile",
                 "--gamma", "-1", "--sigma", "0.9", "--psi", "2", "--burn-in", "2000", "-n", "200",
                 "--discriminator", "raw",
                 "--out", str(out), "--grid", str(grid), "--json"])
    assert code == 0
    st = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert st["gamma"] == pytest.approx(st["gamma0"] - 1) and st["sigma"] == 0.9 and st["psi"] == 2.0
    with np.load(out) as z:
        assert z["images"].shape == (200, 1, 28, 28)
    assert grid.stat().st_size > 1000


def test_calibration_on_a_trained_mnist_model_uses_the_validation_split(mnist_run: str) -> None:
    params = SamplingParams.of(method="drs", calibrate=True, burn_in=2000, discriminator="raw")
    x, st = sampling.sample_from_run(mnist_run, 200, params, seed=3)
    assert st["calibrated"] and st["calibration_a"] > 0
    assert x.shape == (200, 1, 28, 28)


@pytest.mark.parametrize("content", [b"", b"\x00\x01garbage" * 100, None])
def test_cli_a_corrupt_checkpoint_is_one_line_and_exit_2(tmp_path, capsys, content, mnist_run: str) -> None:
    from repro.cli import main

    run = tmp_path / "run"
    run.mkdir()
    if content is None:  # a real checkpoint with its weights swapped for a mismatched shape
        blob = torch.load(Path(mnist_run) / "checkpoint.pt", weights_only=True)
        blob["generator"] = {k: v[..., :1] for k, v in blob["generator"].items()}  # (the tiny run keeps no EMA)
        torch.save(blob, run / "checkpoint.pt")
    else:
        (run / "checkpoint.pt").write_bytes(content)
    code = main(["sample", "--ckpt", str(run), "-n", "5", "--out", str(tmp_path / "s.npz")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "checkpoint.pt" in err[0], err
    assert not (tmp_path / "s.npz").exists()


def test_cli_bad_device_and_unwritable_outputs(mnist_run: str, tmp_path, capsys) -> None:
    from repro.cli import main

    base = ["sample", "--ckpt", mnist_run, "-n", "20"]
    if not torch.cuda.is_available():
        assert main([*base, "--device", "cuda", "--out", str(tmp_path / "a.npz")]) == 2
        assert "no CUDA device" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "missing" / "a.npz")]) == 2
    assert "does not exist" in capsys.readouterr().err
    # a --grid that cannot be written: nothing is left behind, the .npz included
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main([*base, "--out", str(tmp_path / "b.npz"), "--grid", str(blocker / "g.png")]) == 2
    assert not (tmp_path / "b.npz").exists()


@pytest.mark.parametrize(("method", "options", "per_sample"), [
    ("mh", ["--chain-length", "4"], 2 * 4 + 1),
    ("langevin", ["--steps", "3", "--step-size", "0.01"], 6 * 3 + 1),
    ("langevin", ["--steps", "3", "--step-size", "0.01", "--no-langevin-noise"], 6 * 3 + 1),
    ("adaptive", ["--budget", "4", "--components", "3", "--burn-in", "4000"], 1),
])
def test_cli_samplers_beyond_rejection_on_a_trained_mnist_model(mnist_run: str, tmp_path, capsys, method: str,
                                                               options: list[str], per_sample: float) -> None:
    """MH (chains from validation images), Langevin and its gradient flow, adaptive truncation:
    the trained model's raw D, the CLI options generated from SamplingParams, the cost recorded."""
    from repro.cli import main

    out = tmp_path / "s.npz"
    code = main(["sample", "--ckpt", mnist_run, "--method", method, *options, "-n", "150", "--discriminator", "raw",
                 "--out", str(out), "--json"])
    assert code == 0
    st = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert st["cost_per_sample"] == pytest.approx(per_sample) and st["accepted"] == 150
    with np.load(out) as z:
        images = z["images"]
    assert images.shape == (150, 1, 28, 28) and np.isfinite(images).all() and np.abs(images).max() <= 1.0
    assert len({im.tobytes() for im in images}) > 100  # distinct samples, not one image repeated


def test_refit_cache_follows_the_weights_and_survives_damage(mnist_run: str, tmp_path, caplog) -> None:
    """The refit cache is keyed by the digest of G and D (docs/maths.md §6.4): new weights in the
    same folder get a new refit, never the old one; a damaged cache file is named, removed and
    recomputed to the same numbers."""
    import shutil

    from repro.gan import checkpoint, refit

    run = tmp_path / "run"
    shutil.copytree(mnist_run, run, ignore=shutil.ignore_patterns(refit.REFIT_DIR))
    cfg = refit.RefitConfig(steps=20, calib_samples=2000)
    _, info = refit.refitted(checkpoint.load_trained(str(run)), cfg=cfg)
    (cached,) = (run / refit.REFIT_DIR).glob("*.pt")
    cached.write_bytes(cached.read_bytes()[:200])  # a truncated file, as a killed writer on a full disk leaves
    with caplog.at_level("WARNING", logger=refit.log.name):
        _, again = refit.refitted(checkpoint.load_trained(str(run)), cfg=cfg)
    assert "damaged" in caplog.text and str(cached) in caplog.text
    assert list((run / refit.REFIT_DIR).glob("*.pt")) == [cached]
    assert {k: v for k, v in again.items() if k != "seconds"} == {k: v for k, v in info.items() if k != "seconds"}
    # one more step of the generator (as a resumed training would take): another key, another refit
    model = checkpoint.load_trained(str(run))
    with torch.no_grad():
        next(model.generator.parameters()).add_(1e-3)
    _, moved = refit.refitted(model, cfg=cfg)
    assert moved["key"] != info["key"] and len(list((run / refit.REFIT_DIR).glob("*.pt"))) == 2
