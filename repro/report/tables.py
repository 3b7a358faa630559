"""LaTeX tables from the aggregate (Jinja2 templates in ``templates/``, booktabs).

``build_*`` are pure: aggregate frame → ``Table`` (formatted cells, caption). ``render`` fills
a template; ``write_tables`` writes ``tables/*.tex``. A configuration with no ``ok`` seed is a
``--`` cell, never an error; a table with no rows at all says so in one spanning row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from repro.analysis.aggregate import fine_tuned_from, lookup, pr_groups, pr_reference, protocol_view, values_of
from repro.analysis.claims import Verdict, drs_selector, published_selector, soft_truncation_sigma, table1_configs
from repro.analysis.claims.beyond import equal_cost_configs
from repro.analysis.claims.core import SHORT_NAMES, compared_in_spaces, describe, sign, welch_test
from repro.analysis.claims.published import PUBLISHED
from repro.analysis.results import CLASS_METRICS
from repro.core.atomic import atomic_write_bytes
from repro.core.vocab import CEILING, DISCRIMINATORS, F_GAN_OBJECTIVES
from repro.report import DATASET_LABELS, LOWER_IS_BETTER, METRIC_LABELS, OBJECTIVE_LABELS, latex_escape, objective_label
from repro.samplers import registry

TEMPLATES = Path(__file__).with_name("templates")
MISSING = "--"
T1_METRICS = ("fid", "precision", "recall", "density", "coverage", "acceptance_rate")
SWEEP_METRICS = ("fid", "precision", "recall", "density", "coverage")
SAMPLER_METRICS = ("fid", "precision", "recall", "coverage", "acceptance_rate")
REJECTION_METRICS = ("fid", "precision", "recall", "acceptance_rate", "d_heldout_logloss")
# beside every ratio-sampler result: its class mix, the FID at the real class mix, the ratio's
# calibration by class (docs/maths.md §6.9); shown where the study measured them
CLASS_DIAGNOSTIC_METRICS = ("class_kl", "fid_rebalanced", "ratio_class_gap")
F_GAN = F_GAN_OBJECTIVES


@dataclasses.dataclass
class Table:
    name: str                       # file stem under tables/, and the \label suffix
    caption: str                    # LaTeX
    header: list[str]               # LaTeX, one per column
    align: str                      # tabular column spec
    rows: list[dict[str, Any]]      # {"cells": [LaTeX], "rule": bool}
    note: str = ""                  # LaTeX, printed under the table

    @property
    def label(self) -> str:
        return f"tab:{self.name}"


def _env() -> jinja2.Environment:
    # LaTeX-friendly delimiters: braces and % stay LaTeX's own.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        block_start_string="<%", block_end_string="%>",
        variable_start_string="<<", variable_end_string=">>",
        comment_start_string="<#", comment_end_string="#>",
        trim_blocks=True, lstrip_blocks=True, autoescape=False,
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
    )


def render(table: Table, template: str = "table.tex.j2") -> str:
    return _env().get_template(template).render(table=table, ncols=len(table.header))


# ---------------------------------------------------------------- formatting

def digits_of(metric: str) -> int:
    return 1 if metric in ("fid", "acceptance_rate", "inception_score", "train_seconds", "classes_covered",
                           "cost_per_sample", "fid_rebalanced") else 3


def scale_of(metric: str) -> float:
    return {"acceptance_rate": 100.0, "train_seconds": 1 / 60}.get(metric, 1.0)


def fmt_number(x: float, digits: int) -> str:
    return f"{x:.{digits}f}"


def fmt_cell(row: dict[str, Any] | None, metric: str, bold: bool = False) -> str:
    """``$m \\pm h$`` (``$\\mathbf{…}$`` when best), ``m`` alone for n = 1, ``--`` when missing."""
    if row is None or not np.isfinite(row.get("mean", np.nan)):
        return MISSING
    d, s = digits_of(metric), scale_of(metric)
    body = fmt_number(row["mean"] * s, d)
    hw = row.get("half_width", np.nan)
    if np.isfinite(hw):
        body += r" \pm " + fmt_number(hw * s, d)
    if bold:
        body = r"\mathbf{" + body + "}"
    mark = r"^{\dagger}" if _incomplete(row) else ""
    return f"${body}{mark}$"


def _incomplete(row: dict[str, Any]) -> bool:
    """Whether some seed of the configuration failed, diverged or has not run."""
    return any((row.get(k, 0) or 0) > 0 for k in ("n_failed", "n_diverged", "n_missing"))


def best_flags(rows: Sequence[dict[str, Any] | None], metric: str) -> list[bool]:
    """Which rows hold the best mean of the column (after rounding to the printed digits)."""
    if metric == "train_seconds":  # a cost, not a result to rank
        return [False] * len(rows)
    d, s = digits_of(metric), scale_of(metric)
    vals = [round(r["mean"] * s, d) if r is not None and np.isfinite(r["mean"]) else None
            for r in rows]
    present = [v for v in vals if v is not None]
    if len(present) < 2:
        return [False] * len(rows)
    best = min(present) if metric in LOWER_IS_BETTER else max(present)
    return [v == best for v in vals]


def metric_header(metric: str) -> str:
    arrow = r"$\downarrow$" if metric in LOWER_IS_BETTER else r"$\uparrow$"
    unit = r" (\%)" if metric == "acceptance_rate" else ""
    return f"{latex_escape(METRIC_LABELS[metric])}{unit} {arrow}"


def describe_ci(cells: Iterable[dict[str, Any] | None]) -> str:
    """Caption text: the CI method(s) actually used, the confidence and the range of n."""
    cells = [c for c in cells if c is not None]
    if not cells:
        return "No configuration of this table has results."
    ns = sorted({int(c["n"]) for c in cells})
    methods = sorted({str(c["method"]) for c in cells})
    conf = float(cells[0].get("confidence", 0.95))
    names = {"t": "Student-$t$", "bca": "bootstrap BCa", "percentile": "bootstrap percentile",
             "single": "no interval (one seed)"}
    meth = ", ".join(names.get(m, latex_escape(m)) for m in methods)
    n = f"$n = {ns[0]}$" if len(ns) == 1 else f"$n = {ns[0]}$--${ns[-1]}$"
    res = {int(c.get("resamples", 0) or 0) for c in cells} - {0}
    res_txt = f", {max(res)} resamples" if res else ""
    return (f"Mean $\\pm$ half-width of the {conf:.0%} confidence interval over {n} training "
            f"seeds ({meth}{res_txt})").replace("%", r"\%")


DAGGER_NOTE = (r"$^{\dagger}$: at least one seed of this configuration failed, diverged or "
               r"has not run; it is left out of the mean.")


def _metric_rows(agg: pd.DataFrame, specs: list[tuple[list[str], dict[str, Any], bool]],
                 metrics: Sequence[str]) -> tuple[list[dict[str, Any]], list]:
    """specs: (label cells, selector, rule before) → formatted rows, bold best per column."""
    looked = [[lookup(agg, m, **sel) for m in metrics] for _, sel, _ in specs]
    flags = [best_flags([r[j] for r in looked], m) for j, m in enumerate(metrics)]
    rows = []
    for i, (labels, _, rule) in enumerate(specs):
        cells = [fmt_cell(looked[i][j], m, flags[j][i]) for j, m in enumerate(metrics)]
        rows.append({"cells": labels + cells, "rule": rule and i > 0})
    return rows, [c for r in looked for c in r]


CEILING_SELECTOR = {"objective": CEILING, "sampler": "none", "sigma": 1.0}
CEILING_NOTE = ("Real (held out): held-out real images in place of a model's, scored by the same protocol "
                "(the ceiling of each metric here).")


def _ceiling_row(agg: pd.DataFrame, metrics: Sequence[str], labels: list[str]) -> dict[str, Any] | None:
    """The real-versus-real row (never bold: it is the reference, not a contender), or None when
    the study has no ceiling cells; metrics it has no value for (acceptance, training) are --."""
    looked = [lookup(agg, m, **CEILING_SELECTOR) for m in metrics]
    if all(c is None for c in looked):
        return None
    return {"cells": labels + [fmt_cell(c, m) for c, m in zip(looked, metrics)], "rule": True}


def _note(cells: list) -> str:
    return DAGGER_NOTE if any(c is not None and _incomplete(c) for c in cells) else ""


def _obj(o: str, frame: pd.DataFrame | None = None) -> str:
    return latex_escape(objective_label(o, frame))


# ---------------------------------------------------------------- the tables

def build_objective_sampler(agg: pd.DataFrame, budget: float | None = None) -> Table:
    """(1) objective × sampler at σ = 1: the shape of the student report's Table 1."""
    specs = []
    last = None
    for obj, sampler, sel in table1_configs(agg, budget):
        label = registry.phrase({**sel, "sampler": sampler})
        specs.append(([_obj(obj, agg) if obj != last else "", latex_escape(label)],
                      {"objective": obj, **sel}, obj != last))
        last = obj
    rows, cells = _metric_rows(agg, specs, T1_METRICS)
    caption = ("Training objective $\\times$ post-hoc sampler at $\\sigma = 1$. "
               + describe_ci(cells) + "; best per column in bold.")
    return Table("objective_sampler", caption, ["Objective", "Sampler"]
                 + [metric_header(m) for m in T1_METRICS], "ll" + "r" * len(T1_METRICS),
                 rows, _note(cells))


MODEL_METRICS = ("fid", "precision", "recall", "inception_score", "classes_covered", "class_kl", "train_fid_ratio",
                 "train_seconds")


def _bar_cell(judged: pd.DataFrame | None, objective: str, lam: float | None, variant: str = "") -> str:
    """How many of a configuration's seeds pass the training bar ("3/3"), "--" when not judged."""
    if judged is None or judged.empty:
        return "--"
    rows = judged[(judged["objective"] == objective) & (judged["variant"].fillna("") == variant)]
    if lam is not None:
        rows = rows[np.isclose(rows["lam"].astype(float), lam)]
    return f"{int(rows['passes'].astype(bool).sum())}/{len(rows)}" if len(rows) else "--"


def build_models(agg: pd.DataFrame, judged: pd.DataFrame | None = None, parent: str = "") -> Table:
    """(0) every trained model at the plain sampler, σ = 1, with what its training cost and how
    many of its seeds pass the training bar (``judged``: ``repro.analysis.quality.assess``). ``parent``:
    the table of the paired protocol, the f-GAN objectives fine-tuned from ``parent``'s models
    (``agg`` and ``judged``: that protocol's view, ``aggregate.protocol_view``)."""
    specs = []
    for obj in [o for o in (*F_GAN, "pr") if o in set(agg["objective"]) and not (parent and o == "pr")]:
        lams = [lam for lam in values_of(agg, "lam", objective=obj) if np.isfinite(lam)] if obj == "pr" else [None]
        for lam in lams:
            sel = {"objective": obj, "sampler": "none", "sigma": 1.0}
            label = _obj(obj, agg)
            if lam is not None:
                sel["lam"] = lam
                label = f"{_obj(obj, agg)}, $\\lambda = {lam:g}$"
            specs.append(([label], sel, False))
    # mode coverage only where the study measured it (older studies lack it)
    metrics = [m for m in MODEL_METRICS if m not in CLASS_METRICS
               or any(lookup(agg, m, **sel) is not None for _, sel, _ in specs)]
    rows, cells = _metric_rows(agg, specs, metrics)
    for row, (_, sel, _) in zip(rows, specs, strict=True):
        row["cells"].append(_bar_cell(judged, sel["objective"], sel.get("lam")))
    ceiling = _ceiling_row(agg, metrics, [latex_escape(OBJECTIVE_LABELS[CEILING])])
    if ceiling:
        ceiling["cells"].append("--")
    rows += [ceiling] if ceiling else []
    coverage = ("mode coverage read from the feature classifier (Classes: classes holding at least 1\\% of the "
                "generated samples; Class KL: KL of the real reference subset's predicted-class histogram to the "
                "generated one's, 0 when equal); " if "class_kl" in metrics else "")
    lead = (f"The paired protocol: each seed's {_obj(parent)} model fine-tuned with each objective "
            f"({_obj(parent)} itself the control), at the plain sampler, $\\sigma = 1$; differences between these "
            "objectives are paired by seed in the claims. Columns: " if parent else
            "Each objective's models at their default settings (plain sampler, $\\sigma = 1$): ")
    caption = (lead + "quality (IS: the Inception-style score in the feature classifier, exp of the mean KL of "
               "the predicted class distribution to its marginal; 10 at most); " + coverage + "the last over the first validation FID of the "
               "training curve (the "
               "untrained generator, or the BCE model a $\\lambda$-PR model fine-tunes), and "
               "the training time of the run alone; Bar: the seeds whose model passes the training bar "
               "(Section~\\ref{sec:setup}). " + describe_ci(cells) + "."
               + (" " + CEILING_NOTE if ceiling else ""))
    return Table("models_finetuned" if parent else "models", caption,
                 ["Objective"] + [metric_header(m) for m in metrics] + ["Bar"],
                 "l" + "r" * len(metrics) + "c", rows, _note(cells))


def build_lambda(agg: pd.DataFrame) -> Table:
    """(2) the λ-PR sweep (plain sampler, σ = 1), one row per (auxiliary divergence,
    initialisation, λ); the family columns appear only when the study has several."""
    groups = pr_groups(agg)
    several = len(groups) > 1
    specs = []
    for g in groups:
        family = (g["aux"] or "--") + (f", from {OBJECTIVE_LABELS.get(g['init_from'], g['init_from'])}"
                                       if g["init_from"] else "")
        for i, lam in enumerate(values_of(agg, "lam", **g)):
            labels = ([latex_escape(family) if i == 0 else ""] if several else []) + [f"${lam:g}$"]
            specs.append((labels, {**g, "lam": lam, "sampler": "none", "sigma": 1.0}, i == 0))
    rows, cells = _metric_rows(agg, specs, SWEEP_METRICS)
    lead = (["Aux., init."] if several else []) + [r"$\lambda$"]
    caption = ("The $\\lambda$-PR objective for each trade-off $\\lambda$ (plain sampler, "
               "$\\sigma = 1$). " + describe_ci(cells) + "; best per column in bold.")
    return Table("lambda_sweep", caption, lead + [metric_header(m) for m in SWEEP_METRICS],
                 "l" * len(lead) + "r" * len(SWEEP_METRICS), rows, _note(cells))


def _sweep(agg: pd.DataFrame, name: str, sampler: str, column: str, symbol: str,
           what: str) -> Table:
    specs = []
    # the f-GAN objectives only: a λ-PR study has one model per λ, shown in the λ table
    for obj in [o for o in F_GAN if o in set(agg["objective"])]:
        if obj not in set(agg.loc[agg["sampler"] == sampler, "objective"]):
            continue
        # the union over objectives, so that a configuration missing for one shows as --
        vals = values_of(agg, column, sampler=sampler)
        for i, v in enumerate(vals):
            specs.append(([_obj(obj, agg) if i == 0 else "", f"${v:g}$"],
                          {"objective": obj, "sampler": sampler, "sigma": 1.0, column: v},
                          i == 0))
    rows, cells = _metric_rows(agg, specs, SAMPLER_METRICS)
    caption = (f"{what} at $\\sigma = 1$. " + describe_ci(cells)
               + "; best per column in bold.")
    return Table(name, caption, ["Objective", symbol] + [metric_header(m) for m in
                 SAMPLER_METRICS], "ll" + "r" * len(SAMPLER_METRICS), rows, _note(cells))


def build_gamma(agg: pd.DataFrame) -> Table:
    """(3) the DRS γ sweep per objective (γ conventions absolute and percentile)."""
    conv = [c for c in values_of(agg, "gamma_convention", sampler="drs") if c and c != "acceptance"]
    what = "DRS for each offset $\\gamma$" + (
        f" (convention: {latex_escape(', '.join(conv))})" if conv else "")
    return _sweep(agg, "gamma_sweep", "drs", "gamma", r"$\gamma$", what)


def build_rejection(agg: pd.DataFrame) -> Table:
    """(3b) DRS at each target acceptance and OBRS at each budget, with the discriminator refitted
    against the sampled generator and with the raw one (docs/maths.md §6.4), per objective."""
    settings = [("drs", "target_acceptance", v) for v in values_of(agg, "target_acceptance", sampler="drs")]
    settings += [("obrs", "budget", v) for v in values_of(agg, "budget", sampler="obrs")]
    discs = [d for d in DISCRIMINATORS if d in set(agg["discriminator"])]
    specs = []
    for obj in [o for o in (*F_GAN, "pr") if o in set(agg["objective"])]:
        extra = {}
        if obj == "pr":  # the reference λ-PR family at its largest λ
            lam = max(values_of(agg, "lam", **pr_reference(agg)), default=None)
            if lam is None:
                continue
            extra = {**pr_reference(agg), "lam": lam}
        first = True
        for sampler, col, v in settings:
            for d in discs:
                sel = {"objective": obj, **extra, "sampler": sampler, "sigma": 1.0, col: v, "discriminator": d}
                if lookup(agg, "precision", **sel) is None:
                    continue  # a setting this study ran with the other discriminator only
                name = _obj(obj, agg) + (f", $\\lambda = {extra['lam']:g}$" if extra else "")
                what = f"DRS, acc. {100 * v:.0f}\\%" if col == "target_acceptance" else f"OBRS, $K = {v:g}$"
                specs.append(([name if first else "", what, d], sel, first))
                first = False
    metrics = [*REJECTION_METRICS, *(m for m in CLASS_DIAGNOSTIC_METRICS
                                     if any(lookup(agg, m, **sel) is not None for _, sel, _ in specs))]
    rows, cells = _metric_rows(agg, specs, metrics)
    diagnostics = (" Class KL: the accepted sample's class mix against the real one; FID (real mix): the FID of "
                   "the accepted sample resampled to the real class mix; Class gap: how far the ratio's class means "
                   "are from the classes' real-to-generated shares (0 for the exact ratio; Section~\\ref{sec:classbias})."
                   if len(metrics) > len(REJECTION_METRICS) else "")
    caption = ("Rejection sampling at $\\sigma = 1$ with the discriminator refitted against the sampled "
               "(EMA) generator and calibrated (refit), and with the training run's discriminator, fitted "
               "against the raw generator (raw). DRS: $\\gamma$ chosen per model so that the expected "
               "acceptance on the burn-in set is the target. D loss: held-out log-loss of the ratio "
               "(log 2 = 0.693 is no skill)." + diagnostics + " " + describe_ci(cells) + ".")
    return Table("rejection", caption, ["Objective", "Sampler", "D"] + [metric_header(m) for m in metrics],
                 "lll" + "r" * len(metrics), rows, _note(cells))


PUBLISHED_METRICS = ("fid", "precision", "recall", "acceptance_rate")


def direction_agreement(theirs: list[list[float | None]], ours: list[list[dict[str, Any] | None]]
                        ) -> list[tuple[int, int, int]]:
    """For each row, (agreeing, counted, compared): over every other row and every metric with
    values on both sides, whether the published difference between the two rows has the sign of
    ours; counted only where our difference is significant (its Welch 95 % interval excludes 0):
    a sign of a difference this study cannot tell from 0 is not agreement or disagreement."""
    out = []
    for i in range(len(theirs)):
        agree = counted = total = 0
        for j in range(len(theirs)):
            for m in range(len(theirs[i])):
                a_i, a_j, b_i, b_j = theirs[i][m], theirs[j][m], ours[i][m], ours[j][m]
                if j == i or None in (a_i, a_j, b_i, b_j) or a_i == a_j:
                    continue
                total += 1
                t = welch_test(b_i, b_j)
                if sign(t["lo"], t["hi"]) == 0:
                    continue
                counted += 1
                agree += (a_i > a_j) == (t["mean"] > 0)
        out.append((agree, counted, total))
    return out


def build_published(agg: pd.DataFrame) -> Table:
    """(6) the seeds' DRS tables beside this study: the report's Table 1 and the slides' DRS table,
    each row with this study's mean ± interval for the same objective and sampler at the matched
    acceptance (``claims.published_selector``), and how often the direction of a difference
    between two rows agrees where ours is significant."""
    rows, cells = [], []
    acc = drs_selector(agg)
    acceptance_set = bool(acc and "target_acceptance" in acc)
    for doc in dict.fromkeys(r.document for r in PUBLISHED):
        block = [r for r in PUBLISHED if r.document == doc]
        sels = [published_selector(agg, r) for r in block]
        looked = [[lookup(agg, m, **sel) if sel else None for m in PUBLISHED_METRICS] for sel in sels]
        theirs = [[r.fid, r.precision, r.recall, r.acceptance] for r in block]
        agreement = direction_agreement([t[:3] for t in theirs], [o[:3] for o in looked])
        for k, (r, found, (agree, counted, total)) in enumerate(zip(block, looked, agreement)):
            pub = [fmt_number(v * scale_of(m), digits_of(m)) if v is not None else MISSING
                   for v, m in zip(theirs[k], PUBLISHED_METRICS)]
            mine = [fmt_cell(c, m) for c, m in zip(found, PUBLISHED_METRICS)]
            if acceptance_set and found[-1] is not None:  # an input of this study, not a result
                mine[-1] = f"{fmt_number(100 * acc['target_acceptance'], 0)} (set)"
            method = latex_escape(r.method) + ("$^\\dagger$" if r.soft_truncation and doc == "report" else "")
            rows.append({"cells": [latex_escape(SHORT_NAMES[doc]) if k == 0 else "", _obj(r.objective, agg), method]
                                  + [f"{p} / {q}" for p, q in zip(pub, mine)]
                                  + [f"{agree}/{counted} ({total})" if total else MISSING], "rule": k == 0})
            cells += [c for c in found if c is not None]
    ceiling = _ceiling_row(agg, PUBLISHED_METRICS, ["Ceiling", latex_escape(OBJECTIVE_LABELS[CEILING]),
                                                    "held-out images"])
    if ceiling:  # the real-versus-real row: published values do not exist, ours are the ceiling
        ceiling["cells"] = ceiling["cells"][:3] + [f"{MISSING} / {c}" for c in ceiling["cells"][3:]] + [MISSING]
        rows.append(ceiling)
    matched = (f"DRS at {100 * acc['target_acceptance']:.0f}\\% target acceptance, which sets our acceptance "
               "column (``set'')" if acceptance_set else "DRS as the study ran it")
    sigma = soft_truncation_sigma(agg)
    ceiling_p = lookup(agg, "precision", objective=CEILING)
    scale = (f"The report's precision (0.93--0.96) is above this study's own real-versus-real ceiling "
             f"({ceiling_p['mean']:.3f}): the scales differ. " if ceiling_p else "")
    caption = ("The seeds' DRS tables (published / this study). This study: " + matched
               + ", refit discriminator, $\\sigma = 1$; ``soft trunc.'': "
               + (f"$z \\sim \\mathcal{{N}}(0, \\sigma^2 I)$ at $\\sigma = {sigma:g}$ (the slides' soft truncation)"
                  if sigma is not None else "no cells")
               + "; $^\\dagger$the report's variant rescales $z$ by the discriminator's score, which this study does not "
               "reproduce. Agrees: of the differences between this row and the others of its table (FID, P, R), "
               "how many published signs agree with ours, counted only where our difference is significant (Welch "
               "95\\% interval excludes 0): agreeing/counted (compared). " + scale + describe_ci(cells)
               + ". What else differs: each work trains its own MNIST classifier for the feature space; sample sizes "
               "(the report: 10k generated; the slides: 1k real against 10k generated; this study: see the setup); "
               "training budgets; and this study tests a claim only on models that pass its training bar "
               "(Table~\\ref{tab:models})." + (" " + CEILING_NOTE if ceiling else ""))
    return Table("published", caption, ["Source", "Objective", "Method"]
                 + [metric_header(m) for m in PUBLISHED_METRICS] + ["Agrees"], "lll" + "r" * 5, rows, _note(cells))


BEYOND_METRICS = ("cost_per_sample", "precision", "recall", "fid", "inception_score")


def build_beyond(agg: pd.DataFrame) -> Table:
    """(7) every sampler at σ = 1 on the models that have the samplers beyond rejection, ordered
    by family and cost per sample: the equal-cost comparison (docs/maths.md §6.8)."""
    specs = []
    objs = [o for o in F_GAN if any(s["sampler"] in registry.names("beyond") for s in equal_cost_configs(agg, o))]
    for obj in objs:
        for k, sel in enumerate(equal_cost_configs(agg, obj)):
            specs.append(([_obj(obj, agg) if k == 0 else "", latex_escape(describe(sel).replace(", σ = 1", ""))],
                          sel, k == 0))
    rows, cells = [], []
    for obj in objs:  # bold the best per objective, not across objectives
        block = [spec for spec in specs if spec[1]["objective"] == obj]
        r, c = _metric_rows(agg, block, BEYOND_METRICS)
        r[0]["rule"] = bool(rows)
        rows += r
        cells += c
    caption = ("Every sampler on the same trained models at $\\sigma = 1$, refit discriminator: cost per returned "
               "sample in forward passes of $G$ or $D$ (a gradient step on the latent counts 6; the burn-in and "
               "the mixture's fit, paid once per run, are not included), and quality. " + describe_ci(cells)
               + "; best per objective in bold.")
    return Table("beyond", caption, ["Objective", "Sampler"] + [metric_header(m) for m in BEYOND_METRICS],
                 "ll" + "r" * len(BEYOND_METRICS), rows, _note(cells))


ABLATION_METRICS = ("train_fid_ratio", "fid", "precision", "recall", "class_kl")


def build_ablation(agg: pd.DataFrame) -> Table:
    """(8) the recipes of the objectives a study trains in several variants (the stabilisers of
    the seed report's §3.2), plain sampler at σ = 1, the default recipe first."""
    specs = []
    for obj in F_GAN:
        variants = values_of(agg, "variant", objective=obj)
        if variants == [""] or not variants:
            continue
        for k, v in enumerate(sorted(variants, key=lambda x: (x != "", x))):
            specs.append(([_obj(obj, agg) if k == 0 else "", latex_escape(v or "default recipe")],
                          {"objective": obj, "variant": v, "sampler": "none", "sigma": 1.0}, k == 0))
    metrics = [m for m in ABLATION_METRICS if any(lookup(agg, m, **sel) is not None for _, sel, _ in specs)]
    rows, cells = _metric_rows(agg, specs, metrics)
    caption = ("The seed report's stabilisers (its \\S3.2: clamping the critic's output, two generator steps "
               "per discriminator step, a smaller discriminator learning rate) one at a time against each "
               "objective's default recipe (Section~\\ref{sec:setup}), plain sampler, $\\sigma = 1$; FID last/first: "
               "of the training curve. " + describe_ci(cells) + "; best per column in bold.")
    return Table("ablation", caption, ["Objective", "Recipe"] + [metric_header(m) for m in metrics],
                 "ll" + "r" * len(metrics), rows, _note(cells))


def build_companion(agg: pd.DataFrame) -> Table:
    """(9) the models table of a companion study (another data set), for its section."""
    t = build_models(agg)
    dataset = ", ".join(DATASET_LABELS.get(d, d) for d in sorted({d for d in agg["dataset"].astype(str) if d}))
    return dataclasses.replace(t, name="companion_models", caption=f"{latex_escape(dataset)}: " + t.caption)


def build_budget(agg: pd.DataFrame) -> Table:
    """(4) the OBRS budget sweep per objective."""
    return _sweep(agg, "budget_sweep", "obrs", "budget", "$K$",
                  "OBRS for each budget $K$ (acceptance $1/K$ by construction)")


VERDICT_STYLE = {"supported": r"\textbf{supported}", "contradicted": r"\textbf{contradicted}",
                 "inconclusive": r"\textit{inconclusive}", "not contradicted": r"\textit{not contradicted}",
                 "untestable": r"\textit{untestable}", "source inconsistent": r"\textit{source inconsistent}"}


def build_claims(verdicts: list[Verdict]) -> Table:
    """(5) the reproduction ledger: each statement (in the study's words, then the quoted sentence
    and where it stands), its verdict, and the test with its evidence."""
    rows = []
    for i, v in enumerate(verdicts):
        again = i > 0 and verdicts[i - 1].claim == v.claim and bool(v.protocol)  # the same claim, another protocol
        protocol = f"\\emph{{{latex_escape(v.protocol[:1].upper() + v.protocol[1:])}:}} " if v.protocol else ""
        statement = (f"{protocol}the same statement" if again else
                     f"{protocol}\\textbf{{{latex_escape(v.claim)}}}\\newline ``{latex_escape(v.source.quote)}'' "
                     f"--- {latex_escape(v.source.short)}")
        evidence = f"\\emph{{Test:}} {latex_escape(v.test)}.\\newline {latex_escape(v.evidence)}"
        verdict = VERDICT_STYLE[v.verdict] + "".join(  # the same check in each other feature space
            f"\\newline{{\\footnotesize {latex_escape(space)}: "
            f"{'same' if other == v.verdict else VERDICT_STYLE[other]}}}" for space, other, _ in v.spaces)
        rows.append({"cells": [statement, verdict, evidence], "rule": i > 0 and not again})
    caption = ("The reproduction ledger: every testable statement of the seed documents, checked against this "
               "study. Differences are treatment minus baseline with 95\\% confidence intervals in brackets: "
               "paired over seeds when both sides share the trained models or a parent model, Welch otherwise. "
               "Supported: every unit of a claim significant the stated way at 5\\% (an intersection--union test, "
               "uncorrected); contradicted: some unit significant the other way after Holm's correction over the "
               "claim's units. Inconclusive: no "
               "significant difference; a statement about the objectives is tested in each protocol the study "
               "has (from scratch, and fine-tuned from a shared parent), a row each; not contradicted: a claim that something never happens, with no "
               "counter-example (no equivalence margin is tested); untestable: the study has no cells that test "
               "what the statement says, or they cannot (the reason is given)."
               + (" Under each verdict, the verdict of the same check with every embedding metric measured in "
                  "the other feature space (same: the same verdict)." if any(v.spaces for v in verdicts) else ""))
    return Table("claims", caption, ["Statement and source", "Verdict", "Test and evidence"],
                 r"p{0.36\linewidth}p{0.11\linewidth}p{0.45\linewidth}", rows)


def build_spaces(verdicts: list[Verdict]) -> Table:
    """(6) each check the study decides, its verdict in the classifier's space and in each other
    feature space (docs/maths.md §7.2); the checks whose verdict differs first."""
    compared = compared_in_spaces(verdicts)
    compared.sort(key=lambda v: not v.depends_on_space)  # stable: ledger order within each group
    others = [space for space, _, _ in compared[0].spaces] if compared else []
    rows = []
    for v in compared:
        protocol = f" \\emph{{({latex_escape(v.protocol)})}}" if v.protocol else ""
        cells = [latex_escape(v.claim) + protocol, VERDICT_STYLE[v.verdict]]
        cells += [VERDICT_STYLE[other] for _, other, _ in v.spaces]
        note = "differs" if v.depends_on_space else ("same evidence" if v.same_evidence else "same")
        rows.append({"cells": [*cells, note], "rule": False})
    caption = ("The verdicts in two feature spaces: each check the study's cells decide (the training bar lets it "
               "through), with FID, precision, recall, density, coverage and the PRD summaries measured in the "
               "classifier's space and again in " + " and ".join(latex_escape(s) for s in others) + "'s, the same "
               "models, samples, reference images and tests. The class metrics (Inception-style score, class "
               "histogram) are the classifier's in both: a check that reads only them (or reports no number) has the "
               "same evidence in both. The checks whose verdict differs come first.")
    return Table("spaces", caption, ["Statement", "Classifier", *[latex_escape(s.capitalize()) for s in others], ""],
                 "p{0.46\\linewidth}" + "l" * (len(others) + 2), rows)


def build_all(agg: pd.DataFrame, verdicts: list[Verdict], judged: pd.DataFrame | None = None) -> list[Table]:
    """Every table of the paper from the whole study's aggregate: the from-scratch protocol's view
    (``aggregate.protocol_view``) for all but the paired protocol's models table."""
    scratch, scratch_judged = protocol_view(agg), protocol_view(judged) if judged is not None else None
    parents = fine_tuned_from(agg)  # the first parent's (a study normally has one: BCE); none: an empty table
    parent = parents[0] if parents else "bce"
    tuned = ((protocol_view(agg, parent), protocol_view(judged, parent) if judged is not None else None)
             if parents else (agg.iloc[0:0], None))
    return [build_models(scratch, scratch_judged), build_models(*tuned, parent=parent),
            build_objective_sampler(scratch), build_lambda(scratch), build_gamma(scratch),
            build_rejection(scratch), build_budget(scratch), build_published(scratch), build_beyond(scratch),
            build_ablation(scratch), build_claims(verdicts), build_spaces(verdicts)]


LONG_TABLES = ("claims", "spaces")  # a row per claim: longtables, which break across pages


def write_tables(tables: list[Table], out_dir: str | Path) -> list[Path]:
    out_dir = Path(out_dir)
    paths = []
    for t in tables:
        template = "claims.tex.j2" if t.name in LONG_TABLES else "table.tex.j2"
        path = out_dir / f"{t.name}.tex"
        # a table the study has no cells for (e.g. a γ sweep in a study that sets DRS by
        # acceptance) becomes one line saying so, under its label, instead of an empty grid
        text = render(t, template) if t.rows else (
            f"% {t.name}: this study has no cells for this table\n"
            f"\\begin{{table}}[htbp]\\centering\\small\\refstepcounter{{table}}\\label{{{t.label}}}"
            f"Table~\\thetable: this study has no cells for {latex_escape(t.name.replace('_', ' '))}.\\end{{table}}\n")
        atomic_write_bytes(path, text.encode())
        paths.append(path)
    return paths
