"""What every claim shares: verdicts, the record of a statement and its source, and the tests.

A claim's check takes the aggregate frame and the paired-difference frame (both from
``repro.analysis.aggregate``) and returns an ``Outcome``: a verdict with its evidence in numbers. The
tests are on confidence intervals of *differences*: paired (per-seed differences over the same
trained models) where the two sides share seeds — samplers and σ against the plain sampler of
the same generator, λ-PR fine-tunes of one parent — and Welch intervals from the aggregate's
mean, std and n where they do not (different objectives are different models).

A claim made about several comparisons ("units") is decided on all of them: contradicted if any
is significant the other way, supported if every one is significant the stated way, inconclusive
otherwise. The two rules are symmetric in their error (``significant_signs``, docs/maths.md
§8.1): "every unit the stated way" is an intersection–union test, each unit at 5 % and no
correction; "some unit the other way" is a union, decided with the family-wise error controlled
by Holm's procedure (``repro.analysis.aggregate.holm``) at 5 %. The intervals shown are the unadjusted 95 %
intervals. A claim that something *never* happens has no equivalence margin here, so the best it
can get is ``not contradicted``. A claim whose cells are absent, or whose cells do not test what
it states (a "KL" trained in a form that descends the reverse KL), is ``untestable``, with the
reason. docs/maths.md §9 lists the statements and how each is tested.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from repro.analysis.aggregate import holm, lookup, prefer_refit, select, welch
from repro.analysis.quality import model_name
from repro.analysis.results import DEFAULT_KEYS
from repro.core.vocab import F_GAN_OBJECTIVES
from repro.samplers import registry

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"
NOT_CONTRADICTED, UNTESTABLE = "not contradicted", "untestable"
# a check of a source against itself (its own rule against its own table): it flags the source,
# it tests nothing the study ran, so it stays out of the verdict counts
SOURCE_INCONSISTENT = "source inconsistent"
VERDICTS = (SUPPORTED, CONTRADICTED, INCONCLUSIVE, NOT_CONTRADICTED, UNTESTABLE, SOURCE_INCONSISTENT)
COUNTED = VERDICTS[:5]  # the verdicts about the study's results
ALPHA = 0.05                  # family-wise error of one claim's tests (Holm)

# The documents the statements come from, with where to find them. The four course documents are
# unpublished: each statement quotes its sentence, and docs/maths.md §9 summarises what they say.
UNPUBLISHED = "unpublished course material, quoted here"
DOCUMENTS = {
    "report": ("student report, Roques, Dakhlaoui, Court", UNPUBLISHED),
    "lecture2023": ("lecture, Vérine, 2023", UNPUBLISHED),
    "slides": ("student slides, Court, Dakhlaoui, Roques", UNPUBLISHED),
    "lecture2025": ("lecture, Vérine, 2025", UNPUBLISHED),
    # beyond the seeds: the papers of the samplers the study adds (their own claims, tested alike)
    "turner2019": ("Turner et al., Metropolis-Hastings Generative Adversarial Networks, ICML 2019", "arXiv:1811.11357"),
    "che2020": ("Che et al., Your GAN is Secretly an Energy-based Model and You Should Use Discriminator Driven "
                "Latent Sampling, NeurIPS 2020", "arXiv:2003.06060"),
}
SHORT_NAMES = {"report": "report", "lecture2023": "lecture 2023", "slides": "slides", "lecture2025": "lecture 2025",
               "turner2019": "Turner et al. 2019", "che2020": "Che et al. 2020"}


@dataclasses.dataclass(frozen=True)
class Source:
    """Where a statement stands: the document (a key of ``DOCUMENTS``), the section or slide, and
    the sentence quoted verbatim."""

    document: str
    where: str
    quote: str

    def __post_init__(self) -> None:
        if self.document not in DOCUMENTS:
            raise ValueError(f"unknown document {self.document!r}; expected one of {', '.join(DOCUMENTS)}")

    @property
    def short(self) -> str:
        return f"{SHORT_NAMES[self.document]} {self.where}"

    def as_dict(self) -> dict[str, str]:
        title, reference = DOCUMENTS[self.document]
        return {"document": title, "reference": reference, "where": self.where, "quote": self.quote}


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What a check finds: the verdict, the numbers behind it in words, and per-unit details."""

    verdict: str
    evidence: str
    units: tuple[dict[str, Any], ...] = ()


Check = Callable[[pd.DataFrame, pd.DataFrame], Outcome]


@dataclasses.dataclass(frozen=True)
class Statement:
    """One testable statement of the seeds: ``claim`` says it in the study's terms, ``test`` says
    which cells, metric and comparison decide it, ``check`` decides it."""

    key: str            # letters only: used in macro names
    claim: str
    source: Source
    test: str
    check: Check
    needs: tuple[str, ...] = ()  # the objectives whose models the claim is about (the training bar's gate)
    by_protocol: bool = False  # a claim about the objectives: tested in each protocol (docs/maths.md §9.4)


@dataclasses.dataclass(frozen=True)
class Verdict:
    key: str
    claim: str
    source: Source
    test: str
    verdict: str        # one of VERDICTS
    evidence: str
    units: tuple[dict[str, Any], ...] = ()
    gated: bool = False  # untestable because a model it needs is below the training bar
    protocol: str = ""  # "from scratch" / "fine-tuned from BCE" for a claim tested in each protocol
    # the same check with every metric measured in another feature space (docs/maths.md §7.2):
    # (space, verdict, evidence) per other space of the study (``with_spaces``)
    spaces: tuple[tuple[str, str, str], ...] = ()

    @property
    def depends_on_space(self) -> bool:
        """Whether the verdict is another in some other feature space."""
        return any(verdict != self.verdict for _, verdict, _ in self.spaces)

    @property
    def same_evidence(self) -> bool:
        """Whether the evidence is the same to the letter in every space: the check read only the
        classifier's class metrics (``evaluation.CLASS_BASED``), which no embedding changes, or
        reports no number (a count of counter-examples, say)."""
        return bool(self.spaces) and all(evidence == self.evidence for _, _, evidence in self.spaces)

    def as_dict(self) -> dict[str, Any]:
        """The record of ``claims.json``: key, claim, source (document, file, where, quote), test,
        verdict, evidence, units, gated, protocol, and per other feature space its verdict and
        evidence and whether the verdict is the same (``spaces``)."""
        out = dataclasses.asdict(self)
        out["source"] = self.source.as_dict()
        out["spaces"] = {space: {"verdict": verdict, "evidence": evidence, "same": verdict == self.verdict}
                         for space, verdict, evidence in self.spaces}
        return out


def compared_in_spaces(verdicts: list[Verdict]) -> list[Verdict]:
    """The checks whose verdict another feature space could change: those the training bar lets
    through that the study's cells decide (not untestable, not a source against itself)."""
    return [v for v in verdicts if v.spaces and not v.gated and v.verdict not in (UNTESTABLE, SOURCE_INCONSISTENT)]


def with_spaces(primary: list[Verdict], others: dict[str, list[Verdict]]) -> list[Verdict]:
    """The primary space's verdicts, each with its check's verdict and evidence in every other
    space (``others``: space → the verdicts of the same checks there, matched by key)."""
    by_key = {space: {v.key: v for v in verdicts} for space, verdicts in others.items()}
    return [dataclasses.replace(v, spaces=tuple((space, found[v.key].verdict, found[v.key].evidence)
                                                for space, found in by_key.items() if v.key in found))
            for v in primary]


def untestable(reason: str) -> Check:
    """The check of a statement this setting cannot decide whatever the cells hold (an input of
    the study rather than an outcome, no reference for a vague word, data the study does not
    have): always ``untestable`` with the reason, so the statement stays in the ledger."""
    def check(agg: pd.DataFrame, paired: pd.DataFrame) -> Outcome:
        return Outcome(UNTESTABLE, reason)
    return check


def gate(quality: pd.DataFrame | None, needs: tuple[str, ...], variant: str = "") -> str | None:
    """Why a claim about the models of ``needs`` (the ``variant`` recipe) cannot be tested: the
    models among them below the training bar (``repro.analysis.quality``), each with the figures that
    failed ("kl seed 1: recall 0.000 < 0.35"); None when every one passes or nothing is known."""
    if quality is None or quality.empty or not needs:
        return None
    variants = quality["variant"].fillna("").astype(str)
    failed = quality[quality["objective"].isin(needs) & (variants == variant) & ~quality["passes"].astype(bool)]
    if failed.empty:
        return None
    return "below the training bar (" + "; ".join(f"{model_name(r)}: {r['reason']}" for _, r in failed.iterrows()) + ")"


def combine(unit_verdicts: list[str]) -> str:
    """Contradicted if any unit is, supported if all units with data are (≥ 1), else inconclusive."""
    if CONTRADICTED in unit_verdicts:
        return CONTRADICTED
    if unit_verdicts and all(v == SUPPORTED for v in unit_verdicts):
        return SUPPORTED
    return INCONCLUSIVE


def sign(lo: float, hi: float) -> int:
    """+1 if the interval lies above zero, −1 if below, 0 if it includes zero or is undefined."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return 0
    return 1 if lo > 0 else (-1 if hi < 0 else 0)


def fmt_ci(mean: float, lo: float, hi: float, digits: int = 3) -> str:
    if not np.isfinite(mean):
        return "n/a"
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return f"{mean:+.{digits}f} (no CI)"
    return f"{mean:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"


def fmt_rho(rho: float) -> str:
    return f"{rho:+.2f}" if np.isfinite(rho) else "n/a"


def fmt(t: dict[str, Any], digits: int = 3) -> str:
    return fmt_ci(t["mean"], t["lo"], t["hi"], digits)


def pick(values: list[float], preferred: float) -> float | None:
    """``preferred`` if present, else the value nearest to it; None for no values."""
    if not values:
        return None
    return min(values, key=lambda v: (abs(v - preferred), v))


def paired_row(paired: pd.DataFrame, metric: str, **keys: Any) -> dict[str, Any] | None:
    """The paired row of ``metric`` matching ``keys``; by default a comparison with the plain
    sampler of the same model (``pairing = "model"``)."""
    keys = {**DEFAULT_KEYS, **keys}
    if "pairing" in paired.columns:
        keys.setdefault("pairing", "model")
    sub = paired[paired["metric"] == metric]
    sub = prefer_refit(sub[select(sub, keys)], keys)
    if sub.empty:
        return None
    row = sub.iloc[0].to_dict()
    return row if row["n"] > 0 else None


def paired_test(paired: pd.DataFrame, metric: str, **keys: Any) -> dict[str, Any] | None:
    """{mean, lo, hi, p} of the paired difference (treatment − plain sampler of the same model)."""
    row = paired_row(paired, metric, **keys)
    if row is None:
        return None
    return {"mean": row["mean"], "lo": row["lo"], "hi": row["hi"], "p": row.get("p_value", math.nan)}


def welch_test(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """{mean, lo, hi, p} of a − b from two aggregated rows (Welch)."""
    w = welch(a["mean"], a["std"], a["n"], b["mean"], b["std"], b["n"])
    return {"mean": w["diff"], "lo": w["lo"], "hi": w["hi"], "p": w["p"]}


def significant_signs(tests: list[dict[str, Any]], expected: list[int] | None = None,
                      alpha: float = ALPHA) -> list[int]:
    """+1 / −1 for each significant test (dicts with ``mean`` and ``p``), by the sign of its
    mean; 0 for the others. With ``expected`` (the direction a claim states for each unit) the
    rule is the ledger's (docs/maths.md §8.1): a unit that goes the stated way counts at ``alpha``
    on its own, since a claim of "every unit" is an intersection–union test that needs no
    multiplicity correction; a unit that goes the other way counts only if Holm rejects it over
    the family, since "any unit against" is a union that does. Without ``expected``: Holm for all."""
    p = [t.get("p", math.nan) for t in tests]
    reject = holm(p, alpha)
    signs = [int(np.sign(t["mean"])) if r else 0 for t, r in zip(tests, reject)]
    if expected is None:
        return signs
    alone = [int(np.sign(t["mean"])) if np.isfinite(q) and q < alpha else 0 for t, q in zip(tests, p)]
    return [a if a == e else (s if s == -e else 0) for a, s, e in zip(alone, signs, expected, strict=True)]


def directional(tests: list[dict[str, Any]], expected: list[int]) -> str:
    """The verdict of a family of tests each expected to go one way (+1: above zero, −1: below):
    supported if every one is significant that way at ``ALPHA`` (intersection–union), contradicted
    if Holm finds any significant the other way, inconclusive otherwise (``significant_signs``)."""
    signs = significant_signs(tests, expected)
    if any(s == -e for s, e in zip(signs, expected)):
        return CONTRADICTED
    if signs and all(s == e for s, e in zip(signs, expected)):
        return SUPPORTED
    return INCONCLUSIVE


def spearman(points: list[tuple[float, float]]) -> float:
    if len(points) < 3:
        return float("nan")
    from scipy.stats import spearmanr

    x, y = zip(*points)
    if np.ptp(y) == 0:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def objectives_present(agg: pd.DataFrame) -> list[str]:
    """The f-GAN objectives (BCE, JS, KL, RKL) the study has, in the vocabulary's order."""
    present = set(agg["objective"])
    return [o for o in F_GAN_OBJECTIVES if o in present]


def objective_pair_test(paired: pd.DataFrame | None, metric: str, a: str, b: str,
                        **selector: Any) -> dict[str, Any] | None:
    """{mean, lo, hi, p} of a − b paired by seed, for two objectives fine-tuned from one parent
    (``aggregate.objective_comparisons``); None where the study has no such pair."""
    if paired is None or paired.empty or "pairing" not in paired.columns:
        return None
    sub = paired[(paired["pairing"] == "objective") & (paired["metric"] == metric) & (paired["objective"] == a)]
    sub = sub[select(sub, {k: v for k, v in selector.items() if k in sub.columns})]
    if "psi" not in selector:
        sub = sub[sub["psi"].isna()]
    sub = prefer_refit(sub, selector)
    sub = sub[sub["baseline"].str.contains(f"objective={b},", regex=False)]
    if sub.empty or sub.iloc[0]["n"] < 1:
        return None
    row = sub.iloc[0]
    return {"mean": row["mean"], "lo": row["lo"], "hi": row["hi"], "p": row.get("p_value", math.nan)}


def ordering(agg: pd.DataFrame, comparisons: list[tuple[str, str, str]], paired: pd.DataFrame | None = None,
             **selector: Any) -> Outcome:
    """Claims that order objectives: each comparison (metric, a, b) states a > b for the
    configuration ``selector``, Holm over all. Objectives fine-tuned from one parent are compared
    paired by seed (``objective_pair_test``, from ``paired``); objectives trained from scratch are
    different models, compared by Welch intervals. For FID, where lower is better, state it as
    (``"fid"``, worse, better). Untestable when a side is missing."""
    tests, parts, kinds = [], [], set()
    for metric, a, b in comparisons:
        t = objective_pair_test(paired, metric, a, b, **selector)
        kinds.add("Welch" if t is None else "paired by seed")
        if t is None:
            ra, rb = lookup(agg, metric, objective=a, **selector), lookup(agg, metric, objective=b, **selector)
            if ra is None or rb is None:
                return Outcome(UNTESTABLE, f"no {metric} for {a if ra is None else b} at {describe(selector)}")
            t = welch_test(ra, rb)
        tests.append(t)
        parts.append(f"{metric} {a} − {b}: {fmt(t, 1 if metric == 'fid' else 3)}")
    verdict = directional(tests, [1] * len(tests))
    units = tuple({"metric": m, "a": a, "b": b, **t} for (m, a, b), t in zip(comparisons, tests))
    how = " and ".join(sorted(kinds))
    return Outcome(verdict, "; ".join(parts) + f" ({how}, Holm over {len(tests)} tests; {describe(selector)})", units)


def describe(selector: dict[str, Any]) -> str:
    """A sampler configuration in words: "plain sampler, σ = 1", "DRS at 88 % acceptance", …"""
    sampler = selector.get("sampler", "none")
    sigma = selector.get("sigma")
    tail = f", σ = {sigma:g}" if sigma is not None and sigma != 1.0 else ""
    if sampler == "none":
        return f"plain sampler, σ = {sigma:g}" if sigma is not None else "plain sampler"
    entry = registry.REGISTRY.get(sampler)
    if entry is None:
        return f"{sampler}{tail}"
    # a ratio sampler's verdict is about the ratio it read: the refit estimate, not the exact ratio
    ratio = {"refit": ", refit ratio estimate", "raw": ", raw discriminator"}.get(selector.get("discriminator"), "")
    return f"{entry.phrase(selector)}{tail}{ratio if entry.scored else ''}"
