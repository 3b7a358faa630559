"""Every number the paper's text quotes, as LaTeX macros (``paper/generated/macros.tex``).

``build_macros`` is pure: the aggregate, the tidy results, the claims' verdicts and the
provenance → an ordered ``{name: LaTeX value}``. Names are letters only (LaTeX command names
cannot hold digits): ``macro_name("kl", "drs", "fid")`` → ``KlDrsFid``; digits are spelt out.
The paper uses ``\\KlDrsFid{}`` and never types a number by hand.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from repro.analysis import quality
from repro.analysis.aggregate import fine_tuned_from, lookup, pr_reference, protocol_view, status_counts, values_of
from repro.analysis.claims import HIGH_ACCEPTANCE, RECALL_TOLERANCE, VERDICTS, Verdict, table1_configs
from repro.analysis.claims.core import CONTRADICTED, COUNTED, SUPPORTED, compared_in_spaces
from repro.analysis.claims.published import REPORT_BEST_FID, REPORT_TABLE_1
from repro.analysis.results import BOOTSTRAP_MIN_N, load_ceiling, ratio_smoothness, space_info
from repro.core.atomic import atomic_write_bytes
from repro.core.errors import ConfigError
from repro.core.vocab import CEILING, F_GAN_OBJECTIVES, OBJECTIVES
from repro.report import ARCH_LABELS, DATASET_LABELS, latex_escape, objective_label
from repro.report.tables import digits_of, scale_of
from repro.samplers import registry

_DIGITS = ("Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine")

# The student report's Table 1 (DRS, "γ = 2"): FID, P, R, acceptance (repro.analysis.claims.published).
SEED_REPORT = {r.objective: (r.fid, r.precision, r.recall, r.acceptance) for r in REPORT_TABLE_1 if not r.soft_truncation}
SEED_BEST_FID_GAMMA = REPORT_BEST_FID


def macro_name(*parts: object) -> str:
    """Letters-only CamelCase name from parts; digits spelt out, other characters dropped."""
    words = []
    for part in parts:
        text = "".join(f" {_DIGITS[int(c)]} " if c.isdigit() else c for c in str(part))
        for w in re.split(r"[^A-Za-z]+", text):
            if w:  # "kl" / "DRS" → "Kl" / "Drs"; CamelCase words are kept as they are
                words.append(w.capitalize() if w.islower() or w.isupper() else w)
    name = "".join(words)
    if not name or not name.isalpha():
        raise ConfigError(f"cannot build a letters-only macro name from {parts!r}")
    return name


def fmt_value(x: float, metric: str) -> str:
    if x is None or not np.isfinite(x):
        return "--"
    return f"{x * scale_of(metric):.{digits_of(metric)}f}"


Put = Callable[..., None]  # put(name, value, escape=True): one macro, defined once


def _grid(values: Iterable[float]) -> str:
    vals = [f"{v:g}" for v in values]
    return ", ".join(vals) if vals else "--"


def build_macros(agg: pd.DataFrame, frame: pd.DataFrame, verdicts: list[Verdict],
                 provenance: dict[str, Any], context: dict[str, Any],
                 judged: pd.DataFrame | None = None) -> dict[str, str]:
    """All macros, name → LaTeX (already escaped). ``context``: study, study_dir, spec,
    method, confidence, resamples, paper_commit, paper_dirty, rebuild command; ``judged``: the
    trained models against the training bar (``repro.analysis.quality``)."""
    m: dict[str, str] = {}

    def put(name: str, value: Any, escape: bool = True) -> None:
        if name in m:
            raise ConfigError(f"macro {name} defined twice")
        # a missing value is a dash that works in text and in math mode
        m[name] = r"\mbox{--}" if value == "--" else (
            latex_escape(value) if escape else str(value))

    _study_macros(put, agg, frame, context)
    _statistics_macros(put, frame, context)
    scratch = protocol_view(agg)  # the text's numbers are the from-scratch protocol's (docs/maths.md §9.4)
    _table1_section_macros(put, scratch)
    _lambda_macros(put, scratch)
    _ceiling_macros(put, scratch)
    _claim_macros(put, verdicts)
    _protocol_macros(put, frame, verdicts)
    _class_bias_macros(put, scratch)
    _ratio_curve_macros(put, context.get("study_dir"), frame)
    _quality_macros(put, judged)
    _space_macros(put, verdicts, context.get("study_dir"))
    _seed_macros(put)
    _provenance_macros(put, provenance, context)
    return m


def _study_macros(put: Put, agg: pd.DataFrame, frame: pd.DataFrame, context: dict[str, Any]) -> None:
    """The study and its grid: names, counts, the grids of each knob, the forms trained."""
    ok = frame[frame["status"] == "ok"]
    counts = status_counts(frame)
    put("StudyName", context.get("study", ""))
    put("DatasetName", ", ".join(DATASET_LABELS.get(d, d) for d in sorted(set(frame["dataset"]))))
    put("Arch", arch_label(frame))
    seeds = sorted(int(s) for s in ok["train_seed"].dropna().unique())
    put("NumSeeds", len(seeds))
    put("SeedList", ", ".join(str(s) for s in seeds) or "--")
    put("NumCells", len(frame))
    put("NumCellsOk", counts["ok"])
    put("NumCellsFailed", counts["failed"])
    put("NumCellsDiverged", counts["diverged"])
    put("NumCellsDamaged", counts["damaged"])
    put("NumCellsNotRun", counts["missing"] + counts["stale"] + counts["outdated"])
    put("NumTrainRuns", frame["train_id"].nunique())
    put("NumConfigs", agg[(agg["metric"] == "precision") & (agg["objective"] != CEILING)].shape[0])
    put("ShowAblation", int(any(v for v in values_of(frame, "variant") if isinstance(v, str))))
    objs = [o for o in OBJECTIVES if o in set(frame["objective"])]
    put("ObjectiveList", ", ".join(objective_label(o, frame) for o in objs))
    put("NumObjectives", len(objs))
    put("SigmaGrid", _grid(values_of(frame, "sigma", sampler="none")))
    put("GammaGrid", _grid(values_of(frame, "gamma", sampler="drs")))
    put("BudgetGrid", _grid(values_of(frame, "budget", sampler="obrs")))
    put("LambdaGrid", _grid(values_of(frame, "lam", objective="pr")))
    conv = [c for c in values_of(frame, "gamma_convention", sampler="drs") if c]
    put("GammaConvention", ", ".join(conv) or "not recorded")
    targets = values_of(frame, "target_acceptance", sampler="drs")
    gammas = values_of(frame, "gamma", sampler="drs")
    drs_grid = ([f"target acceptances {', '.join(f'{100 * t:g}' for t in targets)}\\,\\%"] if targets else []) + \
        ([f"$\\gamma \\in \\{{{_grid(gammas)}\\}}$ ({latex_escape(', '.join(c for c in conv if c != 'acceptance'))})"]
         if gammas else [])
    put("DRSGrid", " and ".join(drs_grid) or "--", escape=False)
    forms = {o: values_of(frame, "gen_form", objective=o) for o in ("kl", "pr")}
    put("KLForm", {"minimax": "min--max", "nonsaturating": "non-saturating"}.get(
        (forms["kl"] or ["--"])[0], "--"), escape=False)
    critics = {o: values_of(frame, "critic", objective=o) if "critic" in frame.columns else [] for o in ("kl", "rkl")}
    for o in ("kl", "rkl"):  # which critic the generator's loss reads its ratio from (docs/maths.md §3.4)
        put(f"{o.upper()}Critic", {"logistic": "a ratio estimator fitted with the logistic loss",
                                               "dual": "its own $f$-GAN critic"}.get(
            next((c for c in critics[o] if isinstance(c, str) and c), "--"), "--"), escape=False)
    pr_form = (forms["pr"] or ["primal"])[0]
    put("PRGeneratorLoss", r"$\max_G \E_{Q}[\min(\lambda r(G(z)), 1)]$, the loss of Verine et al.'s code"
        if pr_form == "primal" else r"the surrogate $\min_G -\E_Q[\min(\log \lambda r(G(z)), 0)]$",
        escape=False)
    refit_steps = sorted({int(x) for x in pd.to_numeric(frame.get("refit_steps", pd.Series(dtype=float)),
                                                           errors="coerce").dropna()})
    put("RefitSteps", ", ".join(str(x) for x in refit_steps) or "--")
    discs = set(values_of(frame, "discriminator"))
    put("RejectionTableNote", "compares it with the raw discriminator at the same operating points"
        if {"refit", "raw"} <= discs else "lists its held-out loss at each operating point; this study has no "
        "cells with the raw discriminator to compare (the full grid, study/paper.toml, has them)")
    n_eval = int(frame.groupby("train_id")["eval_seed"].nunique().max()) if len(frame) else 0
    put("VarianceSource", "the variation between independently trained models together with the evaluation "
        "noise of one evaluation per model (one generated sample and one real reference subset, redrawn per "
        "model)" if n_eval <= 1 else f"the variation between independently trained models; each model's value "
        f"is the mean of {n_eval} evaluations, each with its own generated sample and real reference subset")
    aux = [a for a in values_of(frame, "aux", objective="pr") if a]
    put("AuxDivergence", ", ".join(aux) or "--")
    n_samples = sorted({int(x) for x in pd.to_numeric(frame.get("n_samples", pd.Series(
        dtype=float)), errors="coerce").dropna()})
    put("NumSamples", ", ".join(f"{x:,}".replace(",", "{,}") for x in n_samples) or "--",
        escape=False)


def _statistics_macros(put: Put, frame: pd.DataFrame, context: dict[str, Any]) -> None:
    """How the intervals were computed, and the thresholds the claims quote."""
    method = context.get("method", "t")
    n_seeds = int(frame["train_seed"].nunique())
    put("CIMethod", "Student-$t$ with $n - 1$ degrees of freedom" if method == "t" or n_seeds < BOOTSTRAP_MIN_N else
        f"bootstrap BCa with {int(context.get('resamples', 0))} resamples; percentile where the "
        "sample is degenerate (all values equal)", escape=False)
    put("CIRule", f"the bootstrap is used from {BOOTSTRAP_MIN_N} seeds up only: at 3 seeds a nominal 95 \\% BCa "
        "interval covers about 71 \\% of the time", escape=False)
    put("CILevel", f"{context.get('confidence', 0.95):.0%}")
    put("BootResamples", context.get("resamples", 0) if method == "bootstrap" else "--")
    put("HighAcceptance", f"{HIGH_ACCEPTANCE:.0%}")
    put("RecallTolerance", f"{RECALL_TOLERANCE:g}")


def _table1_section_macros(put: Put, agg: pd.DataFrame) -> None:
    """Table 1's cells (every objective × sampler, "--" when absent), the reference γ and K, the best FID."""
    configs = table1_configs(agg)
    gammas = {sel.get("gamma") for _, s, sel in configs if s == "drs"}
    targets = {sel.get("target_acceptance") for _, s, sel in configs if s == "drs"}
    put("DRSRef", (f"a target acceptance of {100 * min(t for t in targets if t is not None):.0f}\\,\\%"
                   if any(t is not None for t in targets) else
                   "$\\gamma = " + _grid(sorted(g for g in gammas if g is not None)) + "$"), escape=False)
    budgets = {sel.get("budget") for _, s, sel in configs if s == "obrs"}
    put("GammaRef", _grid(sorted(g for g in gammas if g is not None)))
    put("BudgetRef", _grid(sorted(b for b in budgets if b is not None)))
    best = None
    # every objective × sampler of Table 1 gets its macros, "--" when the study lacks it, so
    # that the paper builds from any study
    found = {(obj, sampler): sel for obj, sampler, sel in configs}
    for obj in F_GAN_OBJECTIVES:
        for sampler in registry.names("rejection"):  # Table 1's samplers (the others: _beyond_macros)
            _table1_macros(put, agg, obj, sampler, found.get((obj, sampler)))
    for obj, sampler, sel in configs:
        row = lookup(agg, "fid", objective=obj, **sel)
        if row is not None and (best is None or row["mean"] < best[2]):
            best = (obj, sampler, row["mean"])
    put("BestFidConfig", f"{objective_label(best[0], agg)} + {registry.label(best[1])}"
        if best else "--")
    put("BestFidValue", fmt_value(best[2], "fid") if best else "--")


def arch_label(frame: pd.DataFrame) -> str:
    """The networks the study trained, in words ("--" for a store from before the column)."""
    archs = sorted(set(frame["train_arch"].dropna().astype(str))) if "train_arch" in frame else []
    return " and ".join(ARCH_LABELS.get(a, a) for a in archs) or "--"


def companion_macros(second: tuple[str, pd.DataFrame, pd.DataFrame, list[Verdict]] | None) -> dict[str, str]:
    """The companion study's section (``ShowCompanion`` 0 without one): its name, data set, seeds,
    verdict counts, and the verdicts of the λ-PR trade-off and of the objectives' statements."""
    m: dict[str, str] = {}

    def put(name: str, value: Any) -> None:
        m[name] = r"\mbox{--}" if value == "--" else latex_escape(value)

    put("ShowCompanion", int(second is not None))
    name, frame, agg, verdicts = second if second is not None else ("--", None, None, [])
    put("CompanionStudy", name)
    datasets = sorted(set(frame["dataset"].astype(str))) if frame is not None else []
    put("CompanionDataset", ", ".join(DATASET_LABELS.get(d, d) for d in datasets) or "--")
    put("CompanionNumSeeds", int(frame["train_seed"].nunique()) if frame is not None else "--")
    put("CompanionArch", arch_label(frame) if frame is not None else "--")
    for verdict in VERDICTS:
        put(macro_name("CompanionNumClaims", verdict), sum(v.verdict == verdict for v in verdicts))
    by_key = {v.key: v for v in verdicts}
    for key in ("LambdaTradeoff", "BCERealistic", "FGANTheory", "SoftTruncation"):
        v = by_key.get(key)
        put(macro_name("Companion", key, "Verdict"), v.verdict if v else "--")
        put(macro_name("Companion", key, "Evidence"), v.evidence if v else "--")
    return m


def _ceiling_macros(put: Put, agg: pd.DataFrame) -> None:
    """The real-versus-real ceiling (mean over evaluation seeds), "--" for a study without it."""
    for metric in ("fid", "precision", "recall", "density", "coverage"):
        row = lookup(agg, metric, objective=CEILING, sampler="none", sigma=1.0)
        put(macro_name("Ceiling", METRIC_LABELS_SHORT[metric]),
            fmt_value(row["mean"] if row else np.nan, metric))


def _lambda_macros(put: Put, agg: pd.DataFrame) -> None:
    """The two ends of the λ-PR sweep."""
    ref = {**pr_reference(agg), "sampler": "none", "sigma": 1.0}
    lams = values_of(agg, "lam", **ref)
    put("LambdaMin", f"{min(lams):g}" if lams else "--")
    put("LambdaMax", f"{max(lams):g}" if lams else "--")
    for end, lam in (("Min", min(lams) if lams else None), ("Max", max(lams) if lams else None)):
        for metric in ("precision", "recall", "fid"):
            row = lookup(agg, metric, **ref, lam=lam) \
                if lam is not None else None
            put(macro_name("Lambda", end, METRIC_LABELS_SHORT[metric]),
                fmt_value(row["mean"] if row else np.nan, metric))


def _claim_macros(put: Put, verdicts: list[Verdict]) -> None:
    """Each claim's verdict and evidence, and the counts per verdict."""
    for v in verdicts:
        put(macro_name("Claim", v.key, "Verdict"), v.verdict)
        put(macro_name("Claim", v.key, "Evidence"), v.evidence)
    # the counts are over the claims the training bar let through; the gated ones apart
    for verdict in VERDICTS:
        put(macro_name("NumClaims", verdict), sum(v.verdict == verdict and not v.gated for v in verdicts))
    put("NumClaims", len(verdicts))
    put("NumClaimsGated", sum(v.gated for v in verdicts))
    # the tallies: the checks the bar lets through that test the study (not a source against itself)
    put("NumClaimsThrough", sum(not v.gated and v.verdict in COUNTED for v in verdicts))


def _protocol_macros(put: Put, frame: pd.DataFrame, verdicts: list[Verdict]) -> None:
    """The paired protocol: its parent and budget beside the from-scratch budget, how many
    statements are tested in both protocols, and in how many the two verdicts agree."""
    parents = fine_tuned_from(frame)
    put("HasPairedProtocol", int(bool(parents)))
    put("PairedParent", objective_label(parents[0]) if parents else "--")
    fgan = frame["objective"].isin(F_GAN_OBJECTIVES)
    tuned = fgan & (frame["init_from"].fillna("") != "") if "init_from" in frame else fgan & False
    epochs = frame["epochs"] if "epochs" in frame else pd.Series(np.nan, index=frame.index)
    put("PairedEpochs", _grid(sorted(epochs[tuned].dropna().unique())))
    put("ScratchEpochs", _grid(sorted(epochs[fgan & ~tuned].dropna().unique())))
    pairs = [(a, b) for a, b in zip(verdicts, verdicts[1:]) if a.claim == b.claim and a.protocol and b.protocol]
    put("NumStatements", len(verdicts) - len(pairs))
    put("NumClaimsByProtocol", len(pairs))
    put("NumProtocolAgree", sum(a.verdict == b.verdict for a, b in pairs))


def _class_bias_macros(put: Put, agg: pd.DataFrame) -> None:
    """Class KL, FID at the real class mix and the ratio's class gap, averaged over the f-GAN
    objectives, for the plain sampler and the ratio samplers (docs/maths.md §6.9)."""
    configs = [("Plain", {"sampler": "none", "sigma": 1.0})]
    for target, name in ((0.88, "DrsTableOne"), (0.06, "DrsSelective")):
        if np.isclose(values_of(agg, "target_acceptance", sampler="drs", sigma=1.0), target).any():
            configs.append((name, {"sampler": "drs", "sigma": 1.0, "target_acceptance": target,
                                   "discriminator": "refit"}))
        else:
            configs.append((name, None))
    budgets = values_of(agg, "budget", sampler="obrs", sigma=1.0)
    configs.append(("Obrs", {"sampler": "obrs", "sigma": 1.0, "budget": max(budgets), "discriminator": "refit"}
                    if budgets else None))
    put("ClassBiasObrsBudget", f"{max(budgets):g}" if budgets else "--")
    for name, sel in configs:
        for metric, label, digits in (("class_kl", "ClassKl", 3), ("fid_rebalanced", "FidRealMix", 0),
                                      ("fid", "FidAt", 0), ("ratio_class_gap", "ClassGap", 2)):
            rows = [lookup(agg, metric, objective=o, **sel) for o in F_GAN_OBJECTIVES] if sel else []
            vals = [r["mean"] for r in rows if r is not None and np.isfinite(r["mean"])]
            put(label + name, f"{np.mean(vals):.{digits}f}" if vals else "--")


RATIO_CURVE_MACROS = ("RatioCurveSteps", "RatioCurveObjectives", "RatioCurveSeeds", "RatioCurvePoints",
                      "RatioCurveSummary")


def _ratio_curve_macros(put: Put, study_dir: Path | None, frame: pd.DataFrame) -> None:
    """The ratio-sharpness curve, where the study measured it (``aggregate.ratio_smoothness``),
    for its first sampler: per objective, the raw training D, the study's own refit and the
    longest refit, as one sentence (docs/maths.md §6.9)."""
    mean = ratio_smoothness(study_dir) if study_dir is not None else None
    put("HasRatioCurve", int(mean is not None))
    study_steps = (frame["refit_steps"].dropna().max() if "refit_steps" in frame and frame["refit_steps"].notna().any()
                   else np.nan)
    put("RatioCurveStudySteps", f"{int(study_steps):,}" if np.isfinite(study_steps) else "--")
    if mean is None:
        for name in RATIO_CURVE_MACROS:
            put(name, "--")
        return
    sub = mean[mean["sampler"] == mean["sampler"].iloc[0]]
    refits = sorted(sub.loc[sub["discriminator"] == "refit", "refit_steps"].unique())
    put("RatioCurveSteps", ", ".join(f"{int(k):,}" for k in refits) or "--")
    put("RatioCurveObjectives", " and ".join(objective_label(o, sub) for o in dict.fromkeys(sub["objective"])))
    put("RatioCurveSeeds", int(sub["seeds"].min()))
    points = [("raw", None)] + [("refit", k) for k in dict.fromkeys(
        [k for k in (study_steps, max(refits, default=np.nan)) if k in refits])]
    put("RatioCurvePoints", ", ".join("raw" if d == "raw" else f"{int(k):,} steps" for d, k in points))
    parts = []
    for obj, g in sub.groupby("objective", sort=False):
        rows = [g[g["discriminator"] == "raw"] if d == "raw" else g[(g["discriminator"] == d) & (g["refit_steps"] == k)]
                for d, k in points]
        figures = []
        for metric, label, digits in (("heldout_logloss", "held-out log-loss", 2), ("ratio_class_gap", "class gap", 2),
                                      ("class_kl", "class KL", 3), ("precision", "precision", 3),
                                      ("recall", "recall", 3), ("fid", "FID", 0), ("fid_rebalanced", "FID at the real mix", 0)):
            vals = [f"{r[metric].iloc[0]:.{digits}f}" if len(r) else "--" for r in rows]
            figures.append(f"{label} {' / '.join(vals)}")
        parts.append(f"{objective_label(obj, sub)}: " + ", ".join(figures))
    put("RatioCurveSummary", "; ".join(parts))


def _quality_macros(put: Put, judged: pd.DataFrame | None) -> None:
    """The training bar, and how many trained models fail it (which, and why)."""
    judged = judged if judged is not None else pd.DataFrame(columns=quality.QUALITY_COLUMNS)
    bar = quality.bar_of(judged) if {"min_recall"} <= set(judged.columns) else None
    put("QualityBar", bar.describe() if bar is not None else "--")
    put("QualityMinRecall", f"{bar.min_recall:g}" if bar is not None else "--")
    put("NumModels", len(judged))
    failed = judged[~judged["passes"].astype(bool)] if len(judged) else judged
    put("NumModelsFailed", len(failed))
    put("ModelsFailed", "; ".join(f"{quality.model_name(r)} ({r['reason']})" for _, r in failed.iterrows()) or "none")


def _space_macros(put: Put, verdicts: list[Verdict], study_dir: Path | None) -> None:
    """The second feature space (docs/maths.md §7.2): what it is, its real-versus-real ceiling,
    and how many verdicts are the same when every metric is measured in it."""
    others = list(dict.fromkeys(space for v in verdicts for space, _, _ in v.spaces))
    space = others[0] if others else None
    put("HasSecondSpace", int(space is not None))
    put("SecondSpace", space or "--")
    info = space_info(study_dir).get(space, {}) if space and study_dir else {}
    put("SecondSpaceDim", info.get("feature_dim", "--"))
    knn, mse = info.get("knn_accuracy_test"), info.get("test_mse")
    put("SecondSpaceKnnAccuracy", f"{100 * knn:.1f}" if knn is not None else "--")
    put("SecondSpaceMSE", f"{mse:.4f}" if mse is not None else "--")
    ceiling = load_ceiling(study_dir, space) if space and study_dir else pd.DataFrame()
    for metric in ("fid", "precision", "recall"):
        value = ceiling.loc[ceiling["status"] == "ok", metric].mean() if metric in ceiling else np.nan
        put(macro_name("SecondSpaceCeiling", METRIC_LABELS_SHORT[metric]), fmt_value(value, metric))
    compared = compared_in_spaces(verdicts)
    same = [v for v in compared if not v.depends_on_space]
    put("SpaceNumCompared", len(compared))
    put("SpaceNumSame", len(same))
    put("SpaceNumDiffer", len(compared) - len(same))
    put("SpaceNumSameEvidence", sum(v.same_evidence for v in same))
    # a reversal: supported in one space, contradicted in another; or decided in one space only
    decided = {SUPPORTED, CONTRADICTED}
    put("SpaceNumReversed", sum(any({v.verdict, other} == decided for _, other, _ in v.spaces) for v in compared))
    put("SpaceNumDecidedOnce", sum(any((v.verdict in decided) != (other in decided) for _, other, _ in v.spaces)
                                   for v in compared))


def _seed_macros(put: Put) -> None:
    """The seed report's numbers, for the comparison in the text."""
    for obj, (fid, p, r, acc) in SEED_REPORT.items():
        put(macro_name("Seed", obj, "Fid"), f"{fid:.1f}")
        put(macro_name("Seed", obj, "Prec"), f"{p:.3f}")
        put(macro_name("Seed", obj, "Rec"), f"{r:.3f}")
        put(macro_name("Seed", obj, "Acc"), f"{acc * 100:.1f}")
    put("SeedBestFid", f"{SEED_BEST_FID_GAMMA[0]:.2f}")
    put("SeedBestFidGamma", f"{SEED_BEST_FID_GAMMA[1]:g}")


def _provenance_macros(put: Put, provenance: dict[str, Any], context: dict[str, Any]) -> None:
    """The study's and the paper build's provenance."""
    git = provenance.get("git", {}) or {}
    commit = str(git.get("commit") or "unknown")
    put("StudyCommit", commit[:12])
    put("StudyDirty", {True: "with uncommitted changes", False: "clean"}.get(
        git.get("dirty"), "unknown state"))
    put("StudyCommand", command_of(provenance))
    versions = provenance.get("versions", {}) or {}
    put("StudyVersions", ", ".join(f"{k} {v}" for k, v in sorted(versions.items())) or
        "not recorded")
    put("StudyDevice", provenance.get("device", "not recorded"))
    put("PaperCommit", str(context.get("paper_commit") or "unknown")[:12])
    put("PaperDirty", {True: "with uncommitted changes", False: "clean"}.get(
        context.get("paper_dirty"), "unknown state"))
    put("RebuildCommand", context.get("rebuild", "make paper"))


def _table1_macros(put, agg: pd.DataFrame, obj: str, sampler: str,
                   sel: dict[str, Any] | None) -> None:
    for metric in ("fid", "precision", "recall", "density", "coverage", "acceptance_rate"):
        row = lookup(agg, metric, objective=obj, **sel) if sel is not None else None
        base = macro_name(obj, registry.label(sampler), METRIC_LABELS_SHORT[metric])
        put(base, fmt_value(row["mean"] if row else np.nan, metric))
        put(base + "Hw", fmt_value(row["half_width"] if row else np.nan, metric))


def command_of(provenance: dict[str, Any]) -> str:
    """The command that ran the study: ``command`` if recorded, else rebuilt from ``argv``."""
    if provenance.get("command"):
        return str(provenance["command"])
    argv = [str(a) for a in provenance.get("argv", []) or []]
    if not argv:
        return "not recorded"
    if argv[0].endswith(("__main__.py", "/repro", "repro")):
        argv = ["python -m repro", *argv[1:]]
    return " ".join(argv)


METRIC_LABELS_SHORT = {"fid": "Fid", "precision": "Prec", "recall": "Rec", "density": "Dens",
                       "coverage": "Cov", "acceptance_rate": "Acc"}


def render_macros(macros: dict[str, str]) -> str:
    lines = ["% Generated by `python -m repro paper`; every number the text quotes. Do not edit."]
    for name, value in macros.items():
        if not name.isalpha():
            raise ConfigError(f"macro name {name!r} must be letters only")
        lines.append(f"\\newcommand{{\\{name}}}{{{value}}}")
    return "\n".join(lines) + "\n"


def write_macros(macros: dict[str, str], path: str | Path) -> Path:
    path = Path(path)
    atomic_write_bytes(path, render_macros(macros).encode())
    return path
