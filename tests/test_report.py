"""repro.report: escaping, tables with missing cells, macros, and the synthetic study end to end."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from repro.analysis import aggregate as A, claims as C
from repro.cli.paper import resolve_study
from repro.core.errors import ConfigError
from repro.report import cell_figures, latex_escape, macros as M, paper, tables as T

sys.path.insert(0, str(Path(__file__).parent))
from synthetic_study import add_second_space, make_synthetic_study  # noqa: E402
from test_aggregate import results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def balanced(tex: str) -> bool:
    """Braces balance once escaped ones are removed (a cheap check of valid LaTeX)."""
    depth = 0
    for ch in re.sub(r"\\[{}]", "", tex):
        depth += ch == "{"
        depth -= ch == "}"
        if depth < 0:
            return False
    return depth == 0


def test_latex_escape_specials_and_unicode() -> None:
    assert latex_escape("a_b & 50% #1 $x$") == r"a\_b \& 50\% \#1 \$x\$"
    assert latex_escape("{~^\\}") == r"\{\textasciitilde{}\textasciicircum{}\textbackslash{}\}"
    assert latex_escape("Δ σ=2 ≥ 0") == r"$\Delta$ $\sigma$=2 $\ge$ 0"
    assert latex_escape("σ ≠ 1, Kynkäänniemi ☃") == r"$\sigma$ $\ne$ 1, Kynkaanniemi ?"
    assert latex_escape("a < b > c | d") == r"a \textless{} b \textgreater{} c \textbar{} d"


def test_fmt_cell_missing_single_and_best() -> None:
    assert T.fmt_cell(None, "fid") == "--"
    assert T.fmt_cell({"mean": np.nan}, "fid") == "--"
    assert T.fmt_cell({"mean": 0.5, "half_width": np.nan, "n": 1}, "precision") == "$0.500$"
    cell = T.fmt_cell({"mean": 0.9, "half_width": 0.01, "n_failed": 1}, "acceptance_rate", True)
    assert cell == r"$\mathbf{90.0 \pm 1.0}^{\dagger}$"


def test_best_flags_direction_and_ties() -> None:
    rows = [{"mean": 30.0}, None, {"mean": 20.0}, {"mean": 20.04}]
    assert T.best_flags(rows, "fid") == [False, False, True, True]  # 20.0 == 20.0 printed
    assert T.best_flags(rows, "precision") == [True, False, False, False]


def test_tables_render_missing_cells_as_blank_not_crash() -> None:
    # one objective, no DRS cells, an all-failed OBRS cell, an odd aux name
    frame = results(
        [{"train_seed": s, "objective": "kl", "precision": 0.8 + s / 100} for s in range(3)]
        + [{"train_seed": s, "objective": "rkl", "sampler": "obrs", "budget": 5.0,
            "status": "failed", "precision": np.nan} for s in range(3)]
        + [{"train_seed": 0, "objective": "pr", "lam": 1.0, "aux": "chi_2&co"}]
    )
    agg = A.aggregate(frame)
    verdicts = C.check_all(agg, A.paired_differences(frame))
    for table in T.build_all(agg, verdicts):
        tex = T.render(table, "claims.tex.j2" if table.name == "claims" else "table.tex.j2")
        assert balanced(tex), table.name
        assert (r"\begin{tabular}" in tex or r"\begin{longtable}" in tex) and r"\bottomrule" in tex
        assert "nan" not in tex.lower().replace("\\nan", "")
    t1 = T.render(T.build_objective_sampler(agg))
    assert "--" in t1 and "RKL" in t1 and r"\mathbf" not in t1.split("RKL")[1]
    lam = T.render(T.build_lambda(agg))
    assert "single" not in lam and "no interval (one seed)" in lam
    empty = T.render(T.build_gamma(agg))
    assert "no results for this table" in empty


def test_models_table_shows_mode_coverage_only_where_measured() -> None:
    rows = [{"train_seed": s, "objective": "bce"} for s in range(3)]
    without = T.render(T.build_models(A.aggregate(results(rows))))
    with_ = T.render(T.build_models(A.aggregate(results([{**r, "classes_covered": 10.0, "class_kl": 0.01}
                                                          for r in rows]))))
    assert "Class KL" not in without and "Class KL" in with_ and "10.0" in with_


def test_direction_agreement_counts_only_differences_this_study_can_tell() -> None:
    # rows 0 and 1 ordered alike on both metrics, row 2 reversed against both on the first metric;
    # the second metric's 0.1 vs 0.2 is within noise (std 0.2, n = 3), so it is compared, not counted
    def row(mean: float, std: float = 0.5) -> dict:
        return {"mean": mean, "std": std, "n": 3}
    theirs = [[1.0, 0.5], [2.0, 0.6], [3.0, None]]
    ours = [[row(10.0), row(0.1, 0.2)], [row(20.0), row(0.2, 0.2)], [row(5.0), row(0.9)]]
    assert T.direction_agreement(theirs, ours) == [(1, 2, 3), (1, 2, 3), (0, 2, 2)]
    assert T.direction_agreement([[1.0]], [[None]]) == [(0, 0, 0)]


def test_published_table_sets_the_seeds_beside_the_study() -> None:
    drs = {"sampler": "drs", "gamma_convention": "acceptance", "target_acceptance": 0.88, "discriminator": "refit"}
    frame = results([{"train_seed": s, "objective": o, "fid": f + s, "precision": 0.8, "recall": r,
                      "acceptance_rate": 0.88, **drs}
                     for s in range(3) for o, f, r in (("kl", 30.0, 0.8), ("js", 50.0, 0.7), ("rkl", 60.0, 0.6))])
    table = T.build_published(A.aggregate(frame))
    tex = T.render(table)
    assert balanced(tex) and "88\\% target acceptance" in tex
    kl = next(r for r in table.rows if "KL" in r["cells"][1] and "RKL" not in r["cells"][1])
    assert kl["cells"][3].startswith("24.0 / $3")  # published FID / this study's mean ± interval
    bce = next(r for r in table.rows if "BCE" in r["cells"][1])
    assert bce["cells"][3].endswith("/ --")  # no BCE cells in this study
    # JS, KL, RKL: published FIDs 50.8, 24.0, 58.3 and ours 51, 31, 61 are ordered alike
    js_row = next(r for r in table.rows if r["cells"][2] == "DRS" and "JS" in r["cells"][1])
    agree, rest = js_row["cells"][-1].split("/")
    counted, total = (int(x) for x in rest.strip(")").split(" ("))
    # FID and recall differ significantly here, precision not at all (0.8 everywhere): against KL
    # and RKL, FID and recall are counted and precision only compared; the report has JS's recall
    # above KL's, this study below: 3 of 4 agree
    assert (int(agree), counted, total) == (3, 4, 6)
    assert "88 (set)" in js_row["cells"][6] and "(set)" in tex


def test_table_of_an_empty_aggregate() -> None:
    agg = A.aggregate(results([{"train_seed": 0}]).iloc[0:0])
    tex = T.render(T.build_objective_sampler(agg))
    assert "no results for this table" in tex and balanced(tex)


def test_macro_names_are_letters_only() -> None:
    assert M.macro_name("kl", "DRS", "Fid") == "KlDrsFid"
    assert M.macro_name("Claim", "SoftTruncation", "Verdict") == "ClaimSoftTruncationVerdict"
    assert M.macro_name("gamma", 2.5) == "GammaTwoFive"
    with pytest.raises(ConfigError):
        M.macro_name("--")
    with pytest.raises(ConfigError):
        M.render_macros({"Bad1": "x"})
    assert M.render_macros({"Ok": "1.0"}).endswith("\\newcommand{\\Ok}{1.0}\n")


def test_check_log_finds_undefined_references_and_pages() -> None:
    log = ("LaTeX Warning: Reference `tab:x' on page 2 undefined on input line 5.\n"
           "LaTeX Warning: Citation `foo' on page 1 undefined on input line 9.\n"
           "Output written on build/main.pdf (7 pages, 12345 bytes).\n")
    out = paper.check_log(log)
    assert out["undefined"] == ["foo", "tab:x"] and out["pages"] == 7
    assert paper.check_log("Output written on main.pdf (1 page, 1 bytes).")["undefined"] == []


def test_resolve_study_accepts_a_spec_or_a_folder(tmp_path: Path) -> None:
    (tmp_path / "runs" / "smoke").mkdir(parents=True)
    assert resolve_study("study/smoke.toml", tmp_path / "runs") == tmp_path / "runs" / "smoke"
    assert resolve_study(str(tmp_path / "runs" / "smoke"), "runs") == tmp_path / "runs" / "smoke"
    with pytest.raises(ConfigError, match="make study"):
        resolve_study("study/other.toml", tmp_path / "runs")


# ---------------------------------------------------------------- end to end

@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The synthetic study rendered into a tmp project: tables/, figures/, paper/generated/."""
    root = tmp_path_factory.mktemp("report")
    study = make_synthetic_study(root / "runs", seeds=3)
    add_second_space(study)  # scored again in a second feature space
    # a companion study on another data set: its section of the paper
    fashion = make_synthetic_study(root / "runs", seeds=3, study="fashion", rng_seed=1, dataset="fashion-mnist")
    out = root / "project"
    (out / "paper").mkdir(parents=True)
    shutil.copy(ROOT / "paper" / "main.tex", out / "paper" / "main.tex")
    summary = paper.build(study, out, pdf=False, git={"commit": "f" * 40, "dirty": True},
                          rebuild="make paper STUDY=study/synthetic.toml", companion=fashion)
    return {"study": study, "out": out, "summary": summary}


def test_end_to_end_render(rendered: dict) -> None:
    out, study, summary = rendered["out"], rendered["study"], rendered["summary"]
    # the synthetic study sets DRS by γ and writes no class records, and its ratio-sharpness curve is
    # not measured: those two figures are the placeholders
    assert summary["pdf_status"] == "skipped" and summary["empty_figures"] == ["ratio_smoothness", "class_bias"]
    for name in ("models", "objective_sampler", "lambda_sweep", "gamma_sweep", "budget_sweep", "beyond", "claims"):
        tex = (out / "tables" / f"{name}.tex").read_text()
        assert balanced(tex) and r"\toprule" in tex and f"tab:{name}" in tex
    # training minutes and the FID ratio, one row per objective and per λ
    models = (out / "tables" / "models.tex").read_text()
    assert "Training (min)" in models and r"\lambda = 10" in models and "--" not in models.split("midrule")[1]
    for name in ("prd_curves", "truncation", "gamma_sweep", "budget_sweep", "lambda_sweep",
                 "training_curves", "samples", "equal_cost"):
        for ext in ("pdf", "png"):
            assert (out / "figures" / f"{name}.{ext}").stat().st_size > 1000
    # the missing JS × OBRS(K = 10) configuration is a blank cell; failed seeds are marked
    budget = (out / "tables" / "budget_sweep.tex").read_text()
    js_block = budget.split("JS &")[1].split(r"\midrule")[0]
    assert "$10$ & -- & -- &" in js_block
    assert r"^{\dagger}" in (out / "tables" / "lambda_sweep.tex").read_text()
    assert (study / "claims.json").is_file() and (study / "aggregate.csv").is_file()
    # the ceiling: a last row of the models and published tables, never bold, in aggregate.csv
    for name in ("models", "published"):
        row = next(line for line in (out / "tables" / f"{name}.tex").read_text().splitlines()
                   if line.startswith(("Real (held out)", "Ceiling & Real (held out)")))
        assert r"\mathbf" not in row and re.search(r"0\.7[5-7]\d", row), row
    # the ablation: KL's default recipe and its variant; the other tables hold the default only
    ablation = (out / "tables" / "ablation.tex").read_text()
    assert "default recipe" in ablation and "no clamp" in ablation
    assert "no clamp" not in (out / "tables" / "models.tex").read_text()
    # the equal-cost table: every sampler family of the two objectives that have them, by cost
    beyond = (out / "tables" / "beyond.tex").read_text()
    assert beyond.count("MH K = ") == 4 and "Langevin 20 $\\times$ $\\eta$ = 0.01" in beyond
    claims = {c["key"]: c["verdict"] for c in json.loads((study / "claims.json").read_text())}
    assert claims["MHImproves"] == claims["LangevinImproves"] == "supported"
    agg = pd.read_csv(study / "aggregate.csv")
    assert set(agg.loc[agg["objective"] == "real", "n"]) == {3}


def test_every_verdict_is_checked_again_in_the_second_feature_space(rendered: dict) -> None:
    """The synthetic second space swaps precision and recall: claims about them change verdict
    there; the ledger records both, the spaces table lists the differing checks first, the
    macros count them, and the figure sets each cell's metrics in the two spaces side by side."""
    out, study = rendered["out"], rendered["study"]
    records = json.loads((study / "claims.json").read_text())
    assert all(set(r["spaces"]) == {"autoencoder"} for r in records)
    assert all(r["spaces"]["autoencoder"]["same"] == (r["spaces"]["autoencoder"]["verdict"] == r["verdict"])
               for r in records)
    changed = {r["key"] for r in records if not r["spaces"]["autoencoder"]["same"]}
    assert "RKLvsKL" in changed  # precision and recall swapped: RKL's precision edge becomes a recall edge
    # the Inception-style score is the classifier's in both: its claims agree (the FID beside it does not)
    mh = next(r for r in records if r["key"] == "MHImproves")
    other = mh["spaces"]["autoencoder"]
    assert other["same"] and other["evidence"].split("ΔFID")[0] == mh["evidence"].split("ΔFID")[0]
    assert other["evidence"] != mh["evidence"]
    assert (study / "aggregate-autoencoder.csv").is_file() and (study / "paired-autoencoder.csv").is_file()
    table = (out / "tables" / "spaces.tex").read_text()
    assert balanced(table) and "tab:spaces" in table and "Autoencoder" in table
    rows = table.split(r"\endfoot")[1].splitlines()  # a longtable: the rows follow its head and foot
    notes = [line.rsplit("&", 1)[1].strip(" \\") for line in rows if "&" in line]
    assert notes[0] == "differs" and notes == sorted(notes, key=lambda n: n != "differs")  # differing first
    macros = dict(re.findall(r"\\newcommand\{\\(Space[A-Za-z]+)\}\{([^}]*)\}",
                             (out / "paper" / "generated" / "macros.tex").read_text()))
    assert int(macros["SpaceNumDiffer"]) == len(changed - {r["key"] for r in records if r["gated"] or r["verdict"] in
                                                          ("untestable", "source inconsistent")}) > 0
    assert int(macros["SpaceNumSame"]) + int(macros["SpaceNumDiffer"]) == int(macros["SpaceNumCompared"])
    decided = {"supported", "contradicted"}
    differing = [r for r in records if r["key"] in changed and not r["gated"] and r["verdict"] in C.VERDICTS[:4]]
    assert int(macros["SpaceNumReversed"]) == sum({r["verdict"], r["spaces"]["autoencoder"]["verdict"]} == decided
                                                  for r in differing)
    assert int(macros["SpaceNumDecidedOnce"]) == sum((r["verdict"] in decided) != (r["spaces"]["autoencoder"][
        "verdict"] in decided) for r in differing)
    assert "autoencoder: same" in (out / "tables" / "claims.tex").read_text()
    assert (out / "figures" / "spaces.png").stat().st_size > 1000


def test_macros_cover_the_paper(rendered: dict) -> None:
    out = rendered["out"]
    text = (out / "paper" / "generated" / "macros.tex").read_text()
    defined = set(re.findall(r"\\newcommand\{\\([A-Za-z]+)\}", text))
    assert len(defined) == text.count("\\newcommand")
    assert "nan" not in text.lower()
    assert "\\newcommand{\\PaperDirty}{with uncommitted changes}" in text
    assert "\\newcommand{\\NumSeeds}{3}" in text
    assert re.search(r"\\newcommand{\\CeilingPrec}{0\.7[5-7]\d}", text)
    assert "\\newcommand{\\ShowAblation}{1}" in text
    assert "\\newcommand{\\ShowCompanion}{1}" in text and "\\newcommand{\\CompanionDataset}{Fashion-MNIST}" in text
    companion = (out / "tables" / "companion_models.tex").read_text()
    assert companion.count("Fashion-MNIST: Each objective") == 1 and "tab:companion_models" in companion
    # every macro the paper uses is defined (or is LaTeX's own / defined in main.tex)
    main = (out / "paper" / "main.tex").read_text()
    used = set(re.findall(r"\\([A-Z][A-Za-z]+)", main))
    own = {"PR", "E"} | set(re.findall(r"\\newcommand\{\\([A-Za-z]+)\}", main))
    assert used - defined - own == set()
    # the paper types no result: its body has no decimal numbers outside the bibliography
    body = main.split(r"\begin{document}")[1].split(r"\begin{thebibliography}")[0]
    body = re.sub(r"[\d.]+\\linewidth", "", body)  # layout (widths), not a result
    assert re.findall(r"\d+\.\d+", body) == []


@pytest.mark.skipif(not paper.latex_available(),
                    reason="latexmk/pdflatex not installed (apt-get install "
                           "texlive-latex-recommended latexmk)")
def test_pdf_builds_without_undefined_references(rendered: dict) -> None:
    result = paper.run_latexmk(rendered["out"] / "paper")
    assert result["undefined"] == [] and result["missing_files"] == []
    assert result["pages"] and result["pages"] >= 4
    assert Path(result["pdf"]).stat().st_size > 10_000


def test_without_latex_the_cli_renders_and_says_how_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from repro.cli import main

    study = tmp_path / "runs" / "tiny"
    study.mkdir(parents=True)
    results([{"train_seed": s, "objective": o} for s in range(2) for o in ("kl", "rkl")]
            ).to_csv(study / "results.csv", index=False)
    (tmp_path / "paper").mkdir()
    shutil.copy(ROOT / "paper" / "main.tex", tmp_path / "paper" / "main.tex")
    has_latex = paper.latex_available()
    monkeypatch.setattr(paper, "latex_available", lambda: False)
    rc = main(["paper", "--study", "study/tiny.toml", "--root", str(tmp_path / "runs"),
               "--out", str(tmp_path), "--json"])
    captured = capsys.readouterr()
    assert rc == 4 and '"pdf_status": "no-latex"' in captured.out  # no PDF, no exit 0
    assert "texlive-latex-recommended latexmk" in captured.err
    assert (tmp_path / "tables" / "objective_sampler.tex").is_file()
    macros = (tmp_path / "paper" / "generated" / "macros.tex").read_text()
    # a study without BCE, DRS or λ-PR still defines every macro the paper uses
    assert "\\newcommand{\\BceDrsFid}{\\mbox{--}}" in macros
    assert main(["paper", "--study", "study/none.toml", "--root", str(tmp_path)]) == 2
    if has_latex:  # and the paper builds from it
        result = paper.run_latexmk(tmp_path / "paper")
        assert result["undefined"] == [] and result["pages"] >= 3


def test_the_class_figure_reads_each_cells_class_record(tmp_path: Path) -> None:
    """Per (objective, class): relative acceptance against over-production, from classes.json."""
    rows, rng = [], np.random.default_rng(0)
    for s in range(2):
        for sampler, extra in (("none", {}), ("drs", {"target_acceptance": 0.06, "discriminator": "refit",
                                                      "gamma_convention": "acceptance"})):
            cid = f"kl-{sampler}-{s}"
            rows.append({"objective": "kl", "train_seed": s, "sampler": sampler, "cell_id": cid, **extra})
            h_fake = rng.dirichlet(np.ones(10))
            record = {"h_real": [0.1] * 10, "h_sample": h_fake.tolist()}
            if sampler == "drs":
                record.update({"h_fake": h_fake.tolist(), "log_mean_r": np.log(0.1 / h_fake).tolist(),
                               "h_sample": (np.ones(10) / 10).tolist()})
            (tmp_path / "cells" / cid).mkdir(parents=True)
            (tmp_path / "cells" / cid / "classes.json").write_text(json.dumps(record))
    frame = results(rows)
    fig = cell_figures.fig_class_bias(A.aggregate(frame), frame, tmp_path)
    top, bottom = fig.axes[0], fig.axes[1]
    x, y = top.collections[0].get_offsets().T
    assert len(x) == 10 and np.allclose(y, -x)  # the exact ratio restores the real mix: on y = −x
    assert cell_figures.fig_class_bias(A.aggregate(frame), frame, tmp_path / "empty") is None  # no records: no figure
