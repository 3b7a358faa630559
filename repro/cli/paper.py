"""``repro paper --study SPEC_OR_DIR``: aggregate a study, render tables/figures/macros, build the PDF.

``--study`` is either a study folder (the one holding ``results.csv``) or a spec
``study/<name>.toml``, whose results live in ``<root>/<name>/`` (``--root``, default ``runs``).

Exit codes: 0 — done (including when LaTeX is not installed: tables, figures and macros are
written and a message says how to install LaTeX); 2 — bad input (no such study, bad results);
3 — latexmk failed or the PDF has undefined references (the message names the log).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from repro.analysis.results import METHODS
from repro.cli import emit
from repro.core.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("paper", help="aggregate a study and build the paper (tables, figures, PDF)")
    p.add_argument("--study", required=True,
                   help="a study folder holding results.csv, or a spec study/<name>.toml")
    p.add_argument("--root", default="runs", help="folder of study results (default: runs)")
    p.add_argument("--out", default=None,
                   help="where tables/, figures/ and paper/ live (default: the project root)")
    p.add_argument("--ci", choices=METHODS, default="t",
                   help="confidence interval over seeds: Student t (default) or BCa bootstrap; the bootstrap "
                        "is used from 10 seeds up only (at 3 seeds a nominal 95 %% BCa interval covers about "
                        "71 %%), below that the t interval is used and the tables say so")
    p.add_argument("--confidence", type=float, default=0.95)
    p.add_argument("--resamples", type=int, default=9999, help="bootstrap resamples")
    p.add_argument("--companion", default=None, metavar="SPEC_OR_DIR",
                   help="a second study, on another data set (e.g. study/fashion.toml): the paper gets a section "
                        "with its models table and its ledger's verdicts")
    p.add_argument("--no-pdf", action="store_true", help="render only; do not run latexmk")
    p.add_argument("--force", action="store_true",
                   help="read the store even though another spec file with the same [study].name wrote it")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _writable_folder(folder: Path) -> Path:
    """The paper writes aggregate.csv, paired.csv and claims.json beside results.csv."""
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{folder} is read-only, and the paper writes aggregate.csv, paired.csv and claims.json "
                          "beside its results.csv; copy the study folder somewhere writable and pass that as --study")
    return folder


def resolve_study(study: str, root: str | Path, force: bool = False) -> Path:
    """A study folder as given, or ``<root>/<name>`` for a spec ``…/x.toml`` whose ``[study].name``
    is ``name``; for a spec, results.csv is first rebuilt from the store's verified cells, so the
    paper never reports a cell whose files are damaged or gone."""
    path = Path(study)
    if path.suffix == ".toml" and not path.is_file():
        folder = Path(root) / path.stem
        if not folder.is_dir():
            raise ConfigError(f"no results for spec {study}: neither the spec nor {folder} exists; run "
                              f"`make study STUDY={study}` first, or pass --root")
        print(f"warning: {study} not found; {folder}/results.csv is used as written, without checking "
              "the store", file=sys.stderr)
        return _writable_folder(folder)
    if path.suffix == ".toml":
        from repro.harness import study as study_mod
        from repro.harness.spec import load_spec
        from repro.harness.store import Store

        spec = load_spec(path)
        folder = Path(root) / spec.name
        if not folder.is_dir():
            raise ConfigError(f"no results for spec {study}: {folder} does not exist; run "
                              f"`make study STUDY={study}` first, or pass --root")
        study_mod.check_owner(spec, folder, force)  # another spec's store is not this paper's
        _writable_folder(folder)
        study_mod.write_tables(spec, Store(root, spec.name), study_mod.plan(spec, root))
        return folder
    if path.is_dir():
        return _writable_folder(path)
    if (Path(root) / study).is_dir():
        return _writable_folder(Path(root) / study)
    raise ConfigError(f"--study {study!r} is neither a study folder nor a spec study/<name>.toml")


def run(args: argparse.Namespace) -> int:
    from repro.report import paper

    if not 0 < args.confidence < 1:
        raise ConfigError(f"--confidence must lie in (0, 1), got {args.confidence}")
    study_dir = resolve_study(args.study, args.root, args.force)
    companion = resolve_study(args.companion, args.root, args.force) if args.companion else None
    out = Path(args.out) if args.out else paper.PROJECT_ROOT
    rebuild = f"make paper STUDY={args.study}" + (f" COMPANION={args.companion}" if companion else "")
    try:
        summary = paper.build(study_dir, out, pdf=not args.no_pdf, method=args.ci,
                              confidence=args.confidence, n_resamples=args.resamples,
                              rebuild=rebuild, companion=companion)
    except paper.LatexError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    hint = summary.pop("hint", None)
    if not args.json:
        summary["tables"] = ", ".join(Path(p).name for p in summary["tables"])
        summary["figures"] = ", ".join(Path(p).name for p in summary["figures"])
    emit(summary, args.json)
    if hint:  # a PDF was asked for and could not be built: no product, no exit 0
        print(hint, file=sys.stderr)
        return 4
    return 0
