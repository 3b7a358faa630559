"""The GPU path checked against the CPU: ``scripts/gpu-check.sh [--device cuda]``.

Each stage runs on ``--device`` and, as the reference, on the CPU, from the same inputs; the
script prints the device's images per second and exits 1 on a mismatch beyond float tolerance:

1. training: two seeds of the default MLP as one stack, 32 steps; the generators' images on
   fixed latents must agree within ``TOL_TRAIN`` (a few Adam steps of float32 on another device);
2. the refit discriminator and DRS at 50 % acceptance on the device-trained model: the
   acceptance rates must agree within ``TOL_ACCEPT``;
3. evaluation: the feature classifier's embedding of the same images, and the FID and precision
   computed from it, must agree within ``TOL_FEATURES``;
4. a tiny study end to end on the device (``study.run``: train, refit, DRS, evaluate) and its
   paper tables (``repro.report.tables``), compared with the same study on the CPU within
   ``TOL_STUDY`` (whole runs: differences grow with every step, so this tolerance is loose).

With ``--device cpu`` both sides are the CPU and must agree exactly (how the script is tested on
a machine without a GPU). Needs torch, numpy, scipy, pandas, jinja2, matplotlib, seaborn,
scikit-learn and the MNIST file (data/raw) or its decoded cache (data/cache).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from repro import evaluation, samplers  # noqa: E402
from repro.data import features  # noqa: E402
from repro.gan import checkpoint, sampling, train  # noqa: E402
from repro.harness import spec, study  # noqa: E402
from repro.maths import metrics  # noqa: E402
from repro.report import tables  # noqa: E402

TOL_TRAIN = 1e-3      # max |Δ| of generated pixels in [-1, 1] after 32 steps
TOL_ACCEPT = 0.02     # |Δ| of the DRS acceptance rate
TOL_FEATURES = 1e-3   # relative |Δ| of embeddings, FID and precision
TOL_STUDY = 0.25      # relative |Δ| of a whole tiny study's mean FID, and |Δ| of its mean precision / recall

TINY_STUDY = """
[study]
name = "gpucheck"
seeds = [0, 1]
executor = "inprocess"
stack_seeds = "always"
[train]
train_size = 2048
epochs = 1
eval_every = 0
[[objectives]]
loss = "bce"
[[objectives]]
loss = "kl"
[evaluate]
n_samples = 500
refit_steps = 50
prd_runs = 1
grid_images = 0
[[evaluate.blocks]]
sampler = "none"
[[evaluate.blocks]]
sampler = "drs"
acceptance = [0.5]
burn_in = 1000
"""


EXACT = False  # --device cpu: both sides are the CPU, and must agree exactly


def check(name: str, diff: float, tol: float, failures: list[str]) -> None:
    tol = 0.0 if EXACT else tol
    ok = diff <= tol
    print(f"  {'ok ' if ok else 'BAD'} {name}: {diff:.3g} (tolerance {tol:g})")
    if not ok:
        failures.append(name)


def train_stage(dev: torch.device, out: Path) -> tuple[list[checkpoint.TrainedModel], float]:
    cfg = train.TrainConfig(train_size=2048, epochs=1, eval_every=0, check_every=8)
    cfgs = [dataclasses.replace(cfg, seed=s) for s in (0, 1)]
    start = time.perf_counter()
    train.train_group(cfgs, [out / f"s{s}" for s in (0, 1)], progress=False, device=dev)
    rate = 2 * (2048 // cfg.batch_size) * cfg.batch_size / (time.perf_counter() - start)
    return [checkpoint.load_trained(out / f"s{s}", device=dev) for s in (0, 1)], rate


def images(model: checkpoint.TrainedModel) -> torch.Tensor:
    return model.sample(256, torch.Generator().manual_seed(7))


def study_means(dev_name: str, root: Path) -> dict[str, float]:
    """Run the tiny study (CUDA hidden for the CPU side) and render its tables; mean metrics."""
    if dev_name == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the study picks CUDA when present: hide it
    path = root / "gpucheck.toml"
    path.write_text(TINY_STUDY)
    s = spec.load_spec(path)
    report = study.run(s, root / "runs", progress=False)
    if not report.ok:
        raise SystemExit(f"the tiny study on {dev_name} failed: {report.failed}")
    from repro.analysis.aggregate import aggregate_study  # noqa: PLC0415
    frame, agg, _ = aggregate_study(report.study_dir)
    tables.write_tables([tables.build_models(agg), tables.build_objective_sampler(agg)], root / "tables")
    ok = frame[frame["status"] == "ok"]
    return {m: float(ok[m].mean()) for m in ("fid", "precision", "recall", "acceptance_rate")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="the device to check against the CPU (default cuda)")
    parser.add_argument("--study-side", choices=("device", "cpu"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.study_side:  # a child process: one side of stage 4
        with tempfile.TemporaryDirectory() as tmp:
            print(study_means(args.study_side, Path(tmp)))
        return 0
    dev, cpu = torch.device(args.device), torch.device("cpu")
    if dev.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA device here; run with --device cpu to check the script itself", file=sys.stderr)
        return 2
    global EXACT
    EXACT = dev.type == "cpu"
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print(f"1. training (2 seeds stacked, 32 steps) on {dev} and on the CPU")
        train_stage(dev, tmp / "warm-up")  # the first run pays the device's start-up
        on_dev, rate = train_stage(dev, tmp / "dev")
        on_cpu, cpu_rate = train_stage(cpu, tmp / "cpu")
        print(f"  images/s: {rate:,.0f} on {dev}, {cpu_rate:,.0f} on the CPU")
        for s in (0, 1):
            check(f"seed {s} generated images", float((images(on_dev[s]) - images(on_cpu[s])).abs().max()),
                  TOL_TRAIN, failures)

        print("2. refit discriminator and DRS at 50 % acceptance")
        params = samplers.SamplingParams.of(method="drs", gamma_convention="acceptance", acceptance=0.5, burn_in=2000)
        from repro.gan.refit import RefitConfig  # noqa: PLC0415
        rates = [sampling.sample_trained(m, 1000, params, 3, device=d, refit_cfg=RefitConfig(steps=50))[1]
                 ["acceptance_rate"] for m, d in ((on_dev[0], dev), (on_cpu[0], cpu))]
        check("DRS acceptance", abs(rates[0] - rates[1]), TOL_ACCEPT, failures)

        print("3. evaluation in the feature space")
        x = images(on_cpu[0])
        f_dev = features.load_or_train("mnist", device=dev, progress=False).embed(x, value_range=(-1.0, 1.0))
        fs = features.load_or_train("mnist", device=cpu, progress=False)
        f_cpu = fs.embed(x, value_range=(-1.0, 1.0))
        check("embeddings", float(np.abs(f_dev - f_cpu).max() / np.abs(f_cpu).max()), TOL_FEATURES, failures)
        from repro.data import datasets  # noqa: PLC0415
        real = evaluation.reference_subset(fs.real_features(datasets.load("mnist"), "test"), 256, 0)
        fid = [metrics.frechet_distance(real, f) for f in (f_dev, f_cpu)]
        prec = [metrics.prdc(real, f)["precision"] for f in (f_dev, f_cpu)]
        check("FID", abs(fid[0] - fid[1]) / fid[1], TOL_FEATURES, failures)
        check("precision", abs(prec[0] - prec[1]), TOL_FEATURES, failures)

    print("4. a tiny study end to end and its tables, on each side")
    import ast  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    sides = {}
    for side in ("device", "cpu"):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--study-side", "cpu" if side == "cpu" or dev.type == "cpu"
                              else "device"], capture_output=True, text=True, check=False)
        if out.returncode != 0:
            print(out.stderr[-2000:], file=sys.stderr)
            return 1
        sides[side] = ast.literal_eval(out.stdout.strip().splitlines()[-1])
        print(f"  {side}: {sides[side]} in {time.perf_counter() - start:.0f} s")
    check("study FID", abs(sides["device"]["fid"] - sides["cpu"]["fid"]) / sides["cpu"]["fid"], TOL_STUDY, failures)
    for m in ("precision", "recall", "acceptance_rate"):
        check(f"study {m}", abs(sides["device"][m] - sides["cpu"][m]), TOL_STUDY, failures)
    print("mismatches: " + (", ".join(failures) if failures else "none"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
