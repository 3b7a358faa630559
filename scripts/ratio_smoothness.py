"""How smooth a ratio estimate must be for rejection not to select by class (docs/maths.md §6.9).

For trained models of a study's store, one ratio-based sampler setting is evaluated with ratio
estimates of increasing sharpness: the training discriminator as it is (``raw``), then the
discriminator refitted against the sampled generator for more and more steps. Each point gets
the refit's held-out log-loss (how well it separates), the class gap of its ratio (how far its
class means are from the classes' real-to-generated shares; 0 for the exact ratio), the class
KL of the accepted sample, and precision, recall, FID and the class-rebalanced FID. The curve is
measured for every setting listed and for the study's own (read from its results.csv), and
none is chosen from it: the study's refit setting is fixed in its spec.

    python scripts/ratio_smoothness.py runs/default --objectives js kl

One row per (model, ratio estimate) is appended to ``runs/<study>/ratio_smoothness.csv`` as it
is measured, so a stopped run keeps what it measured and a rerun skips it; ``make paper`` then
draws the curve (``repro.report.figures.fig_ratio_smoothness``) and ``--plot`` draws it alone.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COLUMNS = ("objective", "train_seed", "train_id", "sampler", "discriminator", "refit_steps", "heldout_logloss",
           "ratio_class_gap", "class_kl", "precision", "recall", "fid", "fid_rebalanced", "acceptance_rate")
STEPS = (100, 300, 1000, 3000)
SAMPLERS = {"drs6": {"method": "drs", "gamma_convention": "acceptance", "acceptance": 0.06, "burn_in": 5000},
            "obrs4": {"method": "obrs", "budget": 4.0, "burn_in": 5000}}


def trained_models(study_dir: Path, objectives: list[str]) -> list[dict[str, Any]]:
    """The finished from-scratch train cells of ``objectives`` in a study's store."""
    out = []
    for meta in sorted((study_dir / "cells").glob("*/cell.json")):
        cell = json.loads(meta.read_text())
        labels = cell["labels"]
        status = meta.parent / "status.json"
        if (cell["stage"] == "train" and labels.get("objective") in objectives and not labels.get("init_from")
                and status.is_file() and json.loads(status.read_text()).get("state") == "done"):
            out.append({"objective": labels["objective"], "train_seed": labels["train_seed"],
                        "train_id": cell["id"], "dir": meta.parent})
    return sorted(out, key=lambda m: (objectives.index(m["objective"]), m["train_seed"]))


def study_refit_steps(study_dir: Path) -> set[int]:
    """The refit steps the study itself used (results.csv), so that its own setting is a point."""
    path = study_dir / "results.csv"
    if not path.is_file():
        return set()
    with open(path) as fh:
        return {int(float(r["refit_steps"])) for r in csv.DictReader(fh) if r.get("refit_steps")}


def measure(run_dir: Path, sampler: dict[str, Any], discriminator: str, steps: int, n: int, seed: int
            ) -> dict[str, float]:
    """One point of the curve, scored by the study's evaluation protocol (repro.evaluation)."""
    from repro import evaluation, samplers
    from repro.data import datasets, features
    from repro.gan import checkpoint, refit, sampling

    settings = evaluation.EvalSettings(n_samples=n)
    model = checkpoint.load_trained(run_dir)
    params = samplers.SamplingParams.of(**sampler, discriminator=discriminator)
    cfg = refit.RefitConfig(steps=steps)
    images, stats = sampling.sample_trained(model, n, params, seed, refit_cfg=cfg)
    ds = datasets.load(model.config.dataset)
    fs = features.load_or_train(ds, progress=False)
    fake = fs.embed(images, value_range=(-1.0, 1.0))
    real = evaluation.reference_subset(fs.real_features(ds, settings.reference_split), n, seed)
    probs_fake, probs_real = fs.probs_from_features(fake), fs.probs_from_features(real)
    scores, _ = evaluation.score(real, fake, settings, seed, probs=(probs_fake, probs_real))
    prop, log_r = sampling.proposals_with_log_ratio(model, n, params, seed, refit_cfg=cfg)
    extra, _ = evaluation.class_diagnostics(real, fake, probs_real, probs_fake, seed,
                                            (log_r, fs.probs_from_features(fs.embed(prop, value_range=(-1.0, 1.0)))))
    if discriminator == "raw":  # the training D's own separation, calibrated as a refit's is
        _, info = refit.refitted(model, params.sigma, params.psi, refit.RefitConfig(steps=STEPS[0]))
        heldout = info["raw_heldout_logloss"]
    else:
        heldout = stats["refit"]["heldout_logloss"]
    return {"heldout_logloss": heldout,
            **{k: scores[k] for k in ("class_kl", "precision", "recall", "fid")}, **extra,
            "acceptance_rate": stats["acceptance_rate"]}


def run(study_dir: Path, out: Path, objectives: list[str], samplers: list[str], steps: tuple[int, ...], n: int
        ) -> None:
    """Measure every missing point; the evaluation seed is the model's training seed, as in the
    study's cells, so the study's own setting reproduces its DRS cell exactly."""
    done = set()
    if out.is_file():
        with open(out) as fh:
            done = {(r["train_id"], r["sampler"], r["discriminator"], r["refit_steps"]) for r in csv.DictReader(fh)}
    models = trained_models(study_dir, objectives)
    if not models:
        raise SystemExit(f"{study_dir}: no finished from-scratch train cell of {objectives}")
    points = [("raw", 0), *(("refit", s) for s in sorted(set(steps) | study_refit_steps(study_dir)))]
    for m in models:
        for name in samplers:
            for disc, k in points:
                if (m["train_id"], name, disc, str(k)) in done:
                    continue
                row = {"objective": m["objective"], "train_seed": m["train_seed"], "train_id": m["train_id"],
                       "sampler": name, "discriminator": disc, "refit_steps": k,
                       **measure(m["dir"], SAMPLERS[name], disc, max(k, 1), n, int(m["train_seed"]))}
                new = not out.is_file()
                with open(out, "a", newline="") as fh:  # one line per point: a stopped run keeps it
                    w = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
                    if new:
                        w.writeheader()
                    w.writerow(row)
                print(" ".join(f"{c}={row[c]:.4g}" if isinstance(row[c], float) else f"{c}={row[c]}"
                               for c in COLUMNS if c != "train_id"), flush=True)


def plot(study_dir: Path, png: Path) -> None:
    """The paper's figure of the curve (``repro.report.cell_figures.fig_ratio_smoothness``) as a PNG."""
    from repro.analysis.results import RATIO_SMOOTHNESS_CSV
    from repro.report import cell_figures, plotting

    plotting.style()
    fig = cell_figures.fig_ratio_smoothness(study_dir=study_dir)
    if fig is None:
        raise SystemExit(f"{study_dir}: no {RATIO_SMOOTHNESS_CSV} to plot")
    fig.savefig(png, dpi=150)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("study_dir", type=Path, help="a study's store, runs/<name>")
    p.add_argument("--objectives", nargs="+", default=["js", "kl"])
    p.add_argument("--samplers", nargs="+", default=["drs6"], choices=sorted(SAMPLERS))
    p.add_argument("--steps", nargs="+", type=int, default=list(STEPS))
    p.add_argument("-n", type=int, default=5000, help="samples per point (the study's n_samples)")
    p.add_argument("--plot", type=Path, default=None, help="also draw the study's curve into this PNG")
    args = p.parse_args(argv)
    from repro.analysis.results import RATIO_SMOOTHNESS_CSV

    run(args.study_dir, args.study_dir / RATIO_SMOOTHNESS_CSV, args.objectives, args.samplers, tuple(args.steps),
        args.n)
    if args.plot:
        plot(args.study_dir, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
