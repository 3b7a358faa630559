"""Rendering a study: tables (Jinja → LaTeX), figures (matplotlib), macros, the paper.

Rendering reads the aggregated results and the cells' stored curves and images; it never
recomputes a result. ``repro.report.paper.build`` runs the whole chain.
"""

from __future__ import annotations

import re
import unicodedata

from repro.core.vocab import CEILING

# LaTeX special characters and their escapes, applied to every text value a template prints.
_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    # OT1 text mode prints < > | as ¡ ¿ —
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
}
_LATEX_RE = re.compile("|".join(re.escape(k) for k in _LATEX_SPECIALS))
# Unicode the evidence strings use, mapped to LaTeX that pdflatex understands.
_UNICODE = {
    "σ": r"$\sigma$", "γ": r"$\gamma$", "λ": r"$\lambda$", "Δ": r"$\Delta$", "−": "-",
    "≤": r"$\le$", "≥": r"$\ge$", "×": r"$\times$", "±": r"$\pm$", "→": r"$\to$", "…": "...",
    "§": r"\S{}", "≠": r"$\ne$", "≈": r"$\approx$", "·": r"$\cdot$", "∞": r"$\infty$",
    "α": r"$\alpha$", "β": r"$\beta$", "ψ": r"$\psi$", "χ": r"$\chi$", "²": r"\textsuperscript{2}", "η": r"$\eta$",
    "–": "--", "—": "---", "‖": r"$\|$", "“": "``", "”": "''", "’": "'",
    "ℓ": r"$\ell$", "↑": r"$\uparrow$", "↓": r"$\downarrow$", "∈": r"$\in$", "′": r"$'$",
    "P̂": r"$\widehat{P}$", "P̃": r"$\widetilde{P}$",
}


def latex_escape(text: object) -> str:
    """Escape LaTeX specials in ``text`` (and map a few Unicode symbols) for pdflatex."""
    s = _LATEX_RE.sub(lambda m: _LATEX_SPECIALS[m.group()], str(text))
    for k, v in _UNICODE.items():
        s = s.replace(k, v)
    # anything else outside ASCII: its ASCII decomposition (é → e), or "?" — never a
    # character pdflatex cannot typeset
    return "".join(c if ord(c) < 128 else (
        unicodedata.normalize("NFKD", c).encode("ascii", "ignore").decode() or "?") for c in s)


# Display names, one place for tables, figures and macros.
DATASET_LABELS = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
ARCH_LABELS = {"mlp": "the seed report's MLP", "dcgan": "a small DCGAN"}  # repro.gan.nets.ARCHS
OBJECTIVE_LABELS = {"bce": "BCE", "js": "JS", "kl": "KL", "rkl": "RKL", "pr": "λ-PR", CEILING: "Real (held out)"}
# A label is a claim: an objective trained with a generator form that descends another divergence
# than its name says is named for what it descends (docs/maths.md §3.3).
FORM_LABELS = {
    ("kl", "nonsaturating"): "KL critic, reverse-KL generator",
    ("rkl", "nonsaturating"): "RKL critic, χ²(Q‖P) generator",
    ("js", "nonsaturating"): "JS (non-saturating = BCE)",
    ("pr", "log"): "λ-PR (log surrogate)",
}


def objective_label(objective: str, frame=None) -> str:
    """The display name of ``objective`` as trained in ``frame`` (a results or aggregate frame
    with a ``gen_form`` column): ``FORM_LABELS`` where its generator form changes what it means."""
    if frame is not None and "gen_form" in getattr(frame, "columns", ()):
        forms = sorted(set(frame.loc[frame["objective"] == objective, "gen_form"].astype(str)))
        for form in forms:
            if (objective, form) in FORM_LABELS:
                return FORM_LABELS[(objective, form)]
    return OBJECTIVE_LABELS.get(objective, objective)


METRIC_LABELS = {
    "fid": "FID", "precision": "Precision", "recall": "Recall", "density": "Density",
    "coverage": "Coverage", "acceptance_rate": "Acceptance", "f8": "F8", "f1_8": "F1/8",
    "inception_score": "IS", "train_seconds": "Training (min)", "train_fid_ratio": "FID last/first",
    "d_heldout_logloss": "D loss", "classes_covered": "Classes", "class_kl": "Class KL",
    "cost_per_sample": "Cost", "fid_rebalanced": "FID (real mix)", "ratio_class_gap": "Class gap",
}
LOWER_IS_BETTER = {"fid", "train_seconds", "train_fid_ratio", "d_heldout_logloss", "class_kl", "cost_per_sample",
                   "fid_rebalanced", "ratio_class_gap"}
