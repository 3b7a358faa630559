"""repro.analysis.aggregate: intervals checked by hand, the bootstrap's fallback, pairing, the study edge."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from repro.analysis import aggregate as A, results as R
from repro.core.errors import ConfigError, DataError
from repro.core.vocab import CEILING

sys.path.insert(0, str(Path(__file__).parent))
from synthetic_study import make_synthetic_study  # noqa: E402


def results(rows: list[dict]) -> pd.DataFrame:
    """A tidy results frame from a few fields per row; everything else takes a default."""
    base = {
        "study": "s", "dataset": "mnist", "objective": "kl", "lam": np.nan, "aux": "",
        "gen_form": "nonsat", "sigma": 1.0, "psi": np.nan, "sampler": "none", "gamma": np.nan,
        "gamma_convention": "", "budget": np.nan, "status": "ok", "init_from": "",
        **{m: 0.5 for m in A.METRICS}, "inception_score": 2.0,
    }
    out = []
    for r in rows:
        row = {**base, **r}
        row.setdefault("eval_seed", row["train_seed"])
        row.setdefault("train_id", f"{row['objective']}-{row['lam']}-{row['train_seed']}")
        row.setdefault("cell_id", f"{row['train_id']}-{row['sampler']}-{row['sigma']}-"
                                  f"{row['gamma']}-{row['budget']}-{row['eval_seed']}")
        out.append(row)
    return R.tidy(pd.DataFrame(out))


# ---------------------------------------------------------------- intervals

def test_t_interval_matches_hand_computation() -> None:
    # x = 1, 2, 3, 4: mean 2.5, s = sqrt(5/3) = 1.29099, t_{0.975, 3} = 3.18245,
    # half-width = 3.18245 · 1.29099 / 2 = 2.05426
    out = A.interval([1.0, 2.0, 3.0, 4.0])
    assert out["mean"] == 2.5 and out["n"] == 4 and out["method"] == "t"
    assert out["std"] == pytest.approx(math.sqrt(5 / 3))
    assert out["half_width"] == pytest.approx(2.05426, abs=1e-5)
    assert out["lo"] == pytest.approx(2.5 - 2.05426, abs=1e-5)
    assert out["hi"] == pytest.approx(2.5 + 2.05426, abs=1e-5)


def test_t_interval_drops_nan_and_handles_tiny_samples() -> None:
    assert A.interval([0.8, np.nan, 0.82, 0.84])["half_width"] == pytest.approx(0.049683, abs=1e-6)
    one = A.interval([0.7])
    assert one["method"] == "single" and one["mean"] == 0.7 and math.isnan(one["lo"])
    empty = A.interval([np.nan])
    assert empty["n"] == 0 and empty["method"] == "empty" and math.isnan(empty["mean"])


def test_unknown_method_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="bootstrap"):
        A.interval([1, 2, 3], method="jackknife")


def test_bootstrap_uses_bca_on_a_regular_sample() -> None:
    x = [0.1, 0.4, 0.35, 0.8, 0.55, 0.2, 0.6, 0.45, 0.3, 0.5]
    out = A.interval(x, method="bootstrap", n_resamples=2000, seed=1)
    assert out["method"] == "bca" and out["resamples"] == 2000
    assert out["lo"] < np.mean(x) < out["hi"]
    # explicit randomness: the same seed gives the same interval, another seed another one
    assert A.interval(x, method="bootstrap", n_resamples=2000, seed=1)["lo"] == out["lo"]
    assert A.interval(x, method="bootstrap", n_resamples=2000, seed=2)["lo"] != out["lo"]


def test_bootstrap_falls_back_to_percentile_on_degenerate_samples() -> None:
    x = [0.5] * 12
    out = A.interval(x, method="bootstrap", n_resamples=500)
    assert out["method"] == "percentile"
    assert out["lo"] == out["hi"] == 0.5 and out["half_width"] == 0


@pytest.mark.parametrize("n", [2, 3, 5, 9])
def test_bootstrap_below_ten_seeds_is_the_t_interval(n: int) -> None:
    """BCa at n = 3 covers about 71 % for a nominal 95 %: below 10 values the t interval is used."""
    x = np.random.default_rng(n).normal(size=n)
    boot, t = A.interval(x, method="bootstrap"), A.interval(x, method="t")
    assert boot["method"] == "t" and (boot["lo"], boot["hi"]) == (t["lo"], t["hi"])


def test_bca_undercovers_at_three_seeds_and_t_does_not() -> None:
    """The reason for the rule above, measured: coverage of the true mean 0 of N(0, 1) samples."""
    rng = np.random.default_rng(0)
    hits = {"bca": 0, "t": 0}
    trials = 300
    for _ in range(trials):
        x = rng.normal(size=3)
        lo, hi = A._bootstrap(x, "bca", 0.95, 999, int(rng.integers(1 << 30)))
        hits["bca"] += lo <= 0 <= hi
        t = A.interval(x, method="t")
        hits["t"] += t["lo"] <= 0 <= t["hi"]
    assert hits["bca"] / trials < 0.85 < 0.9 < hits["t"] / trials


def test_welch_matches_scipy_on_raw_samples() -> None:
    a, b = np.array([1.0, 1.5, 2.2, 1.8]), np.array([0.2, 0.9, 0.4])
    w = A.welch(a.mean(), a.std(ddof=1), len(a), b.mean(), b.std(ddof=1), len(b))
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert w["lo"] == pytest.approx(ci.low) and w["hi"] == pytest.approx(ci.high)


# ---------------------------------------------------------------- aggregation

def test_aggregate_known_means_intervals_and_counts() -> None:
    frame = results(
        [{"train_seed": s, "precision": p} for s, p in enumerate([0.80, 0.82, 0.84])]
        + [{"train_seed": 3, "status": "failed", "precision": np.nan}]
        + [{"train_seed": s, "sampler": "drs", "gamma": 2.0, "precision": 0.9}
           for s in range(3)]
        + [{"train_seed": 3, "sampler": "drs", "gamma": 2.0, "status": "diverged"}]
    )
    agg = A.aggregate(frame, metrics=["precision"])
    plain = A.lookup(agg, "precision", sampler="none")
    assert plain["mean"] == pytest.approx(0.82) and plain["n"] == 3
    assert plain["half_width"] == pytest.approx(0.049683, abs=1e-6)
    assert (plain["n_failed"], plain["n_diverged"], plain["method"]) == (1, 0, "t")
    drs = A.lookup(agg, "precision", sampler="drs", gamma=2.0)
    assert drs["n"] == 3 and drs["half_width"] == pytest.approx(0) and drs["n_diverged"] == 1
    assert A.lookup(agg, "precision", sampler="obrs") is None


def test_repeated_eval_seeds_count_once_per_trained_model() -> None:
    frame = results([{"train_seed": 0, "eval_seed": e, "recall": r}
                     for e, r in [(0, 0.6), (1, 0.8)]] + [{"train_seed": 1, "recall": 0.9}])
    row = A.lookup(A.aggregate(frame, metrics=["recall"]), "recall")
    assert row["n"] == 2 and row["mean"] == pytest.approx((0.7 + 0.9) / 2)


def test_all_failed_configuration_is_kept_with_n_zero() -> None:
    frame = results([{"train_seed": s, "status": "failed", "fid": np.nan} for s in range(2)])
    agg = A.aggregate(frame, metrics=["fid"])
    assert len(agg) == 1 and agg["n"].iloc[0] == 0 and agg["n_failed"].iloc[0] == 2
    assert A.lookup(agg, "fid") is None


def test_paired_differences_share_the_trained_model() -> None:
    base = [0.80, 0.85, 0.90]
    gain = [0.02, 0.03, 0.04]  # per-seed DRS − plain; the seeds' spread cancels out
    frame = results(
        [{"train_seed": s, "precision": b} for s, b in enumerate(base)]
        + [{"train_seed": s, "sampler": "drs", "gamma": 1.0, "precision": b + g}
           for s, (b, g) in enumerate(zip(base, gain))]
    )
    paired = A.paired_differences(frame, metrics=["precision"])
    assert len(paired) == 1
    row = paired.iloc[0]
    assert row["sampler"] == "drs" and row["gamma"] == 1.0 and row["n"] == 3
    assert row["mean"] == pytest.approx(0.03)
    ref = A.interval(gain)
    assert row["half_width"] == pytest.approx(ref["half_width"])
    # unpaired, the same data would be far less certain
    agg = A.aggregate(frame, metrics=["precision"])
    assert A.lookup(agg, "precision", sampler="drs")["half_width"] > 3 * row["half_width"]


def test_schema_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="results.csv"):
        A.load_results(tmp_path)
    with pytest.raises(DataError, match="missing columns"):
        R.tidy(pd.DataFrame({"study": ["x"]}))
    bad = results([{"train_seed": 0}])
    bad["status"] = "exploded"
    with pytest.raises(DataError, match="status"):
        R.tidy(bad)


def test_aggregate_study_on_the_synthetic_study(tmp_path: Path) -> None:
    study = make_synthetic_study(tmp_path, seeds=3, grids=False)
    frame, agg, paired = A.aggregate_study(study)
    assert (study / "aggregate.csv").is_file() and (study / "paired.csv").is_file()
    again = A.read_aggregate(study / "aggregate.csv")
    assert len(again) == len(agg)
    # the failed RKL cell at σ = 2 leaves two seeds; the diverged λ = 10 run leaves two
    rkl = A.lookup(again, "precision", objective="rkl", sampler="none", sigma=2.0)
    assert rkl["n"] == 2 and rkl["n_failed"] == 1
    pr = A.lookup(again, "recall", objective="pr", lam=10.0)
    assert pr["n"] == 2 and pr["n_diverged"] == 1
    # a cell listed but not run is counted, not used
    bce = A.lookup(again, "fid", objective="bce", sampler="drs", gamma=-2.0)
    assert bce["n"] == 2 and bce["n_missing"] == 1 and bce["n_failed"] == 0
    # the missing configuration is absent, not an error
    assert A.lookup(again, "precision", objective="js", sampler="obrs", budget=10.0) is None
    assert A.lookup(again, "precision", objective="kl", sampler="obrs", budget=10.0)["n"] == 3
    # every DRS and OBRS setting is paired with the plain sampler of the same models
    drs = paired[(paired["sampler"] == "drs") & (paired["metric"] == "acceptance_rate")]
    assert len(drs) == 4 * 5 and (drs["mean"] < 0).all()


def test_harness_statuses_and_init_from_are_keys() -> None:
    frame = results(
        [{"train_seed": s, "objective": "pr", "lam": 1.0, "init_from": "", "precision": 0.8}
         for s in range(2)]
        + [{"train_seed": s, "objective": "pr", "lam": 1.0, "init_from": "bce",
            "precision": 0.9} for s in range(2)]
        + [{"train_seed": 2, "objective": "pr", "lam": 1.0, "init_from": "bce",
            "status": "stale", "precision": np.nan}]
    )
    agg = A.aggregate(frame, metrics=["precision"])
    scratch = A.lookup(agg, "precision", init_from="")
    tuned = A.lookup(agg, "precision", init_from="bce")
    assert scratch["mean"] == pytest.approx(0.8) and tuned["mean"] == pytest.approx(0.9)
    assert tuned["n_missing"] == 1
    # a results table without the optional column still loads
    assert (R.tidy(frame.drop(columns="init_from"))["init_from"] == "").all()


def test_refit_is_paired_with_raw_on_the_same_model() -> None:
    rows = []
    for s in range(3):
        for disc, p in (("refit", 0.7 + 0.01 * s), ("raw", 0.6 + 0.01 * s)):
            rows.append({"train_seed": s, "sampler": "drs", "target_acceptance": 0.88, "discriminator": disc,
                         "gamma_convention": "acceptance", "precision": p, "cell_id": f"{s}-{disc}"})
        rows.append({"train_seed": s, "precision": 0.5, "cell_id": f"{s}-plain"})
    paired = A.paired_all(results(rows))
    d = paired[(paired["pairing"] == "discriminator") & (paired["metric"] == "precision")]
    assert len(d) == 1 and d.iloc[0]["mean"] == pytest.approx(0.1) and d.iloc[0]["std"] == pytest.approx(0)
    assert d.iloc[0]["discriminator"] == "refit" and "discriminator=raw" in d.iloc[0]["baseline"]
    vs_plain = paired[(paired["pairing"] == "model") & (paired["metric"] == "precision")]
    assert sorted(vs_plain["discriminator"]) == ["raw", "refit"]


@pytest.mark.parametrize("content", [b"\x00\x9f\x92 random bytes \xff" * 50, b"a,b\n1,2,3,4\n\x00"])
def test_a_damaged_results_table_is_one_clear_error(tmp_path, content: bytes) -> None:
    (tmp_path / "results.csv").write_bytes(content)
    with pytest.raises(DataError, match="results.csv"):
        A.load_results(tmp_path)


def test_a_protocol_view_holds_one_model_per_objective_and_seed() -> None:
    rows = [{"objective": o, "train_seed": s, "init_from": init, "lam": lam}
            for s in range(2) for o, init, lam in (("bce", "", np.nan), ("kl", "", np.nan), ("bce", "bce", np.nan),
                                                   ("kl", "bce", np.nan), ("pr", "bce", 1.0), (CEILING, "", np.nan))]
    frame = results(rows)
    scratch, tuned = A.protocol_view(frame), A.protocol_view(frame, "bce")
    assert sorted(set(zip(scratch["objective"], scratch["init_from"]))) == [
        ("bce", ""), ("kl", ""), ("pr", "bce"), (CEILING, "")]  # λ-PR is always a fine-tune: it stays here
    assert sorted(set(zip(tuned["objective"], tuned["init_from"]))) == [("bce", "bce"), ("kl", "bce"), (CEILING, "")]
    assert A.fine_tuned_from(frame) == ["bce"] and A.fine_tuned_from(scratch) == []
    # the fine-tunes of one seed are compared with each other, paired by seed, at each setting
    comparisons = A.objective_comparisons(frame)
    assert sorted((t["objective"], b["objective"]) for t, b in comparisons) == [("bce", "kl"), ("kl", "bce")]
    assert all(t["init_from"] == "bce" for t, _ in comparisons)


def test_objective_comparisons_pair_the_class_kl_by_seed() -> None:
    """The mode-collapse claims compare class KL: it is paired by seed like the other metrics."""
    rows = [{"objective": o, "train_seed": s, "init_from": "bce", "class_kl": kl + 0.01 * s}
            for s in range(3) for o, kl in (("kl", 0.02), ("rkl", 0.05))]
    paired = A.paired_all(results(rows))
    d = paired[(paired["pairing"] == "objective") & (paired["metric"] == "class_kl") & (paired["objective"] == "rkl")]
    assert len(d) == 1 and d.iloc[0]["mean"] == pytest.approx(0.03) and d.iloc[0]["std"] == pytest.approx(0)


@pytest.mark.parametrize("column, value", [("precision", 1.7), ("fid", -50.0), ("recall", float("nan")),
                                           ("fid", float("inf")), ("inception_score", 0.2)])
def test_impossible_values_in_a_results_table_are_refused_naming_the_row(tmp_path, column: str, value: float) -> None:
    """A hand-edited or damaged results.csv never reaches a table: the line and cell are named."""
    frame = results([{"train_seed": s} for s in range(3)])
    frame.loc[1, column] = value
    frame.to_csv(tmp_path / "results.csv", index=False)
    with pytest.raises(DataError, match=rf"results.csv: line 3 \(cell {frame.loc[1, 'cell_id']}\): {column} = "):
        A.load_results(tmp_path)
    frame.loc[1, column] = 0.5 if column != "inception_score" else 2.0
    frame.to_csv(tmp_path / "results.csv", index=False)
    assert len(A.load_results(tmp_path)) == 3
