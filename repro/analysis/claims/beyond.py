"""Claims of the samplers beyond rejection, from their own papers (docs/maths.md §6.5–6.8):
MH-GAN (Turner et al. 2019) and discriminator-driven latent sampling (Che et al. 2020).

Both papers measure "improved sampling" by the Inception Score; the study's counterpart is the
Inception-style score in the feature classifier (``inception_score``), tested paired against the
plain sampler of the same model at the method's longest chain in the study, with the refit
discriminator. FID, precision and recall are reported beside it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from repro.analysis.aggregate import lookup, select, values_of
from repro.analysis.claims.core import UNTESTABLE, Outcome, describe, directional, fmt, objectives_present, paired_test
from repro.analysis.claims.rejection import preferred_discriminator
from repro.analysis.results import columns
from repro.core.vocab import PREFERRED_DISCRIMINATOR
from repro.samplers import registry


def longest(agg: pd.DataFrame, sampler: str, objective: str) -> dict[str, Any] | None:
    """The selector of ``sampler``'s most expensive setting for ``objective`` at σ = 1 (MH: the
    longest chain; Langevin with noise: the most steps, then the largest step), or None."""
    base = {"objective": objective, "sampler": sampler, "sigma": 1.0, **preferred_discriminator(agg, sampler)}
    if sampler == "mh":
        ks = values_of(agg, "chain_length", **base)
        return {**base, "chain_length": max(ks)} if ks else None
    if sampler == "langevin":
        base["langevin_noise"] = 1.0
        steps = values_of(agg, "steps", **base)
        if not steps:
            return None
        etas = values_of(agg, "step_size", **base, steps=max(steps))
        return {**base, "steps": max(steps), "step_size": max(etas)}
    return None


def _improves(agg: pd.DataFrame, paired: pd.DataFrame, sampler: str) -> Outcome:
    tests, words = [], []
    for o in objectives_present(agg):
        sel = longest(agg, sampler, o)
        t = paired_test(paired, "inception_score", **sel) if sel else None
        if t is None:
            continue
        fid = paired_test(paired, "fid", **sel)
        cost = lookup(agg, "cost_per_sample", **sel)
        tests.append(t)
        words.append(f"{o} {describe(sel)}: ΔIS {fmt(t, 2)}" + (f", ΔFID {fmt(fid, 1)}" if fid else "")
                     + (f", cost {cost['mean']:.0f}/sample" if cost else ""))
    if not tests:
        return Outcome(UNTESTABLE, f"no {sampler} cells")
    return Outcome(directional(tests, [1] * len(tests)),
                   "; ".join(words) + f" (paired vs plain, Holm over {len(tests)})")


def mh_improves(agg: pd.DataFrame, paired: pd.DataFrame) -> Outcome:
    """MH-GAN's wrapper improves on the plain generator: the Inception-style score rises."""
    return _improves(agg, paired, "mh")


def ddls_improves(agg: pd.DataFrame, paired: pd.DataFrame) -> Outcome:
    """Langevin in latent space improves on the plain generator: the Inception-style score rises."""
    return _improves(agg, paired, "langevin")


def equal_cost_configs(agg: pd.DataFrame, objective: str) -> list[dict[str, Any]]:
    """Every sampler setting the study ran on ``objective``'s models at σ = 1 without ψ (the
    refit discriminator where a setting has both), as selectors, ordered by sampler family (the
    registry's order) and then by cost per sample: the rows of the equal-cost table."""
    keys = tuple(k for k in columns().treatment if k not in ("sigma", "discriminator"))
    order = list(registry.REGISTRY)
    sub = agg[(agg["metric"] == "cost_per_sample") & (agg["n"] > 0)]
    sub = sub[select(sub, {"objective": objective, "variant": "", "sigma": 1.0, "psi": float("nan")})]
    if "discriminator" in sub and (sub["discriminator"] == PREFERRED_DISCRIMINATOR).any():
        sub = sub[sub["discriminator"].isin([PREFERRED_DISCRIMINATOR, ""])]
    out = []
    for _, row in sub.sort_values("mean").iterrows():
        sel = {"objective": objective, "sigma": 1.0,
               **{k: row[k] for k in keys if not (isinstance(row[k], float) and pd.isna(row[k]))}}
        if row.get("discriminator"):
            sel["discriminator"] = row["discriminator"]
        if sel not in out:
            out.append(sel)
    return sorted(out, key=lambda s: order.index(s["sampler"]))  # stable: by cost within a family
