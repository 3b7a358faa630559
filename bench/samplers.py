"""Sampler throughput: wall time per 5,000 returned samples of every sampler on one trained
model, with the refit discriminator fitted (and cached) before the timed call.

The model: ``REPRO_BENCH_RUN`` (a training run folder, e.g. a default study's BCE cell), else
a BCE model trained once by this bench (2 epochs, cached under the data folder). The times
are those of ``sampling.sample_trained`` alone (no metrics); the cost column is the sampler's
own count of forward passes per sample (``repro.maths.cost``), so time and cost can be compared.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bench import measure

N = 5_000
CASES: dict[str, dict[str, Any]] = {
    "plain": {"method": "none"},
    "DRS 88 %": {"method": "drs", "gamma_convention": "acceptance", "acceptance": 0.88, "burn_in": 5000},
    "DRS 6 %": {"method": "drs", "gamma_convention": "acceptance", "acceptance": 0.06, "burn_in": 5000},
    "OBRS K = 4": {"method": "obrs", "budget": 4.0, "burn_in": 5000},
    "MH K = 20": {"method": "mh", "chain_length": 20},
    "Langevin 10 × 0.01": {"method": "langevin", "steps": 10, "step_size": 0.01},
    "gradient flow 10 × 0.01": {"method": "langevin", "steps": 10, "step_size": 0.01, "langevin_noise": False},
    "adaptive K = 4": {"method": "adaptive", "budget": 4.0, "components": 10},
}


def bench_run() -> Path:
    """The trained model the bench samples from (trained once when none is given)."""
    given = os.environ.get("REPRO_BENCH_RUN")
    if given:
        return Path(given)
    from repro.gan import train  # noqa: PLC0415
    from repro.core.runtime import home_dir  # noqa: PLC0415

    cfg = train.TrainConfig(epochs=2, eval_every=0)
    run_dir = home_dir() / "cache" / "bench" / f"bce-{cfg.key()}"
    if not (run_dir / train.RESULT).is_file():
        train.train(cfg, run_dir, progress=False)
    return run_dir


def case(run_dir: str, params: dict[str, Any]):
    """Load the model, fit its refit discriminator (cached), return the timed call."""
    from repro import samplers  # noqa: PLC0415
    from repro.gan import checkpoint, refit, sampling

    model = checkpoint.load_trained(run_dir)
    p = samplers.SamplingParams.of(**params)
    if p.method != "none":
        refit.refitted(model, p.sigma, p.psi, None)
    out: dict[str, Any] = {}

    def call() -> float:
        _, stats = sampling.sample_trained(model, N, p, seed=0)
        out.update(stats)
        return stats["cost_per_sample"]

    return call


def run() -> list[dict[str, Any]]:
    run_dir = str(bench_run())
    rows = []
    for label, params in CASES.items():
        m = measure("bench.samplers:case", {"run_dir": run_dir, "params": params}, repeats=1)
        cost = m.pop("value", None)  # what the timed call returned: the sampler's own count
        rows.append({"benchmark": f"{N:,} samples", "impl": label, **m, "cost_per_sample": cost})
    return rows
