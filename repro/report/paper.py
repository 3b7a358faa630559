"""The paper, end to end: aggregate → claims → tables, figures, macros → latexmk.

``build`` writes, under ``out_root`` (the project root by default):
- ``<study>/aggregate.csv``, ``paired.csv``, ``claims.json`` (in the study folder),
- ``tables/*.tex``, ``figures/*.{pdf,png}``, ``paper/generated/macros.tex``,
- ``paper/main.pdf`` (latexmk + pdflatex in ``paper/``, auxiliary files in ``paper/build/``).

Without LaTeX on the machine everything but the PDF is written and the result says how to
install it (``pdf_status = "no-latex"``); the CLI then exits 4, since the PDF it was asked for
is missing (``--no-pdf`` asks for everything but the PDF and exits 0).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from repro.analysis.aggregate import aggregate_study, protocol_view, status_counts
from repro.analysis.claims import check_all, with_spaces
from repro.analysis.results import load_quality, spaces_of
from repro.core.atomic import atomic_path, atomic_write_json
from repro.core.errors import ReproError
from repro.core.runtime import PROJECT_ROOT, git_state
from repro.report import figures, macros, tables

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "LaTeX is not installed, so paper/main.pdf was not built (tables, figures and macros were).\n"
    "On Debian/Ubuntu: sudo apt-get install --no-install-recommends texlive-latex-recommended "
    "latexmk\nthen run `make paper` again."
)


class LatexError(ReproError):
    """latexmk failed, or the PDF has undefined references; the message names the log."""

def latex_available() -> bool:
    return shutil.which("latexmk") is not None and shutil.which("pdflatex") is not None


def check_log(text: str) -> dict[str, Any]:
    """Undefined references/citations, missing files and the page count, from a pdflatex log."""
    undefined = sorted(set(re.findall(
        r"LaTeX Warning: (?:Reference|Citation) [`'](.+?)' on page \d+ undefined", text)))
    if "There were undefined references" in text and not undefined:
        undefined = ["(unnamed)"]
    missing = sorted(set(re.findall(r"File [`'](.+?)' not found", text)))
    pages = re.findall(r"Output written on .*? \((\d+) pages?", text)
    return {"undefined": undefined, "missing_files": missing,
            "pages": int(pages[-1]) if pages else None}


def run_latexmk(paper_dir: Path, timeout: float = 300) -> dict[str, Any]:
    """Build ``paper_dir/main.tex`` → ``paper_dir/main.pdf``; returns the log check."""
    build = paper_dir / "build"
    cmd = ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error",
           f"-outdir={build.name}", "main.tex"]
    proc = subprocess.run(cmd, cwd=paper_dir, capture_output=True, text=True, timeout=timeout)
    log_path = build / "main.log"
    text = log_path.read_text(errors="replace") if log_path.is_file() else ""
    result = check_log(text)
    result["log"] = str(log_path)
    if proc.returncode != 0 or not (build / "main.pdf").is_file():
        tail = "\n".join((text or proc.stdout + proc.stderr).splitlines()[-25:])
        raise LatexError(f"latexmk failed (exit {proc.returncode}); see {log_path}\n{tail}")
    with atomic_path(paper_dir / "main.pdf") as tmp:
        shutil.copyfile(build / "main.pdf", tmp)
    result["pdf"] = str(paper_dir / "main.pdf")
    return result


def build(
    study_dir: str | Path,
    out_root: str | Path = PROJECT_ROOT,
    *,
    pdf: bool = True,
    method: str = "t",
    confidence: float = 0.95,
    n_resamples: int = 9999,
    seed: int = 0,
    rebuild: str | None = None,
    git: dict[str, Any] | None = None,
    companion: str | Path | None = None,
) -> dict[str, Any]:
    """Aggregate the study, render everything, build the PDF; returns a summary. ``companion``:
    a second study (another data set) whose models table and verdicts get a section."""
    study_dir, out_root = Path(study_dir), Path(out_root)
    frame, agg, verdicts, judged = _checked(study_dir, method, confidence, n_resamples, seed)
    second = None
    if companion is not None:
        second = (Path(companion).name, *_checked(Path(companion), method, confidence, n_resamples, seed)[:3])

    built = tables.build_all(agg, verdicts, judged)
    if second is not None:
        built.append(tables.build_companion(protocol_view(second[2])))
    table_paths = tables.write_tables(built, out_root / "tables")
    # the figures show the models trained from scratch (and every model below the bar)
    figs = figures.write_figures(protocol_view(agg), protocol_view(frame), study_dir, out_root / "figures",
                                 judged=judged)

    prov_path = study_dir / "provenance.json"
    provenance = json.loads(prov_path.read_text()) if prov_path.is_file() else {}
    if git is None:
        git = git_state()
    context = {
        "study": study_dir.name, "study_dir": study_dir, "method": method, "confidence": confidence,
        "resamples": n_resamples, "paper_commit": git.get("commit"),
        "paper_dirty": git.get("dirty"),
        "rebuild": rebuild or f"make paper STUDY={study_dir}",
    }
    all_macros = macros.build_macros(agg, frame, verdicts, provenance, context, judged)
    all_macros.update(macros.companion_macros(second))
    macro_path = macros.write_macros(
        all_macros,
        out_root / "paper" / "generated" / "macros.tex")

    summary: dict[str, Any] = {
        "study": str(study_dir),
        "cells": int(len(frame)),
        "cell_states": {k: v for k, v in status_counts(frame).items() if v},
        "aggregate": str(study_dir / "aggregate.csv"),
        "paired": str(study_dir / "paired.csv"),
        "claims": {v.key: v.verdict for v in verdicts},
        "tables": [str(p) for p in table_paths],
        "figures": [str(p) for f in figs.values() for p in f["paths"] if p.suffix == ".pdf"],
        "empty_figures": [name for name, f in figs.items() if f["empty"]],
        "macros": str(macro_path),
        "pdf_status": "skipped",
    }
    return _compile(summary, out_root / "paper") if pdf else summary


def _checked(study_dir: Path, method: str, confidence: float, n_resamples: int, seed: int
             ) -> tuple[Any, Any, list[Any], Any]:
    """(results, aggregate, verdicts, models against the training bar) of a study; aggregate.csv,
    paired.csv and claims.json written (quality.csv too where the study run did not write it).
    Each check runs again in every other feature space the study was scored in, with the same
    training bar (judged in the primary space), and its verdict there joins the primary one."""
    frame, agg, paired = aggregate_study(study_dir, method, confidence, n_resamples, seed)
    judged = load_quality(study_dir, frame)
    others = {}
    for space in spaces_of(study_dir)[1:]:
        _, agg_s, paired_s = aggregate_study(study_dir, method, confidence, n_resamples, seed, space=space)
        others[space] = check_all(agg_s, paired_s, judged)
    verdicts = with_spaces(check_all(agg, paired, judged), others)
    atomic_write_json(study_dir / "claims.json", [v.as_dict() for v in verdicts])
    return frame, agg, verdicts, judged


def _compile(summary: dict[str, Any], paper_dir: Path) -> dict[str, Any]:
    """latexmk on paper/main.tex; the summary says why not when LaTeX is missing, and a PDF with
    undefined references or missing files raises ``LatexError``."""
    if not latex_available():
        summary["pdf_status"] = "no-latex"
        summary["hint"] = INSTALL_HINT
        return summary
    if not (paper_dir / "main.tex").is_file():
        raise ReproError(f"{paper_dir / 'main.tex'} not found: the paper source lives in paper/")
    result = run_latexmk(paper_dir)
    summary.update(pdf_status="built", pdf=result["pdf"], pages=result["pages"],
                   log=result["log"], undefined=result["undefined"],
                   missing_files=result["missing_files"])
    if result["undefined"] or result["missing_files"]:
        raise LatexError(f"paper built with undefined references {result['undefined']} or "
                         f"missing files {result['missing_files']}; see {result['log']}")
    return summary
