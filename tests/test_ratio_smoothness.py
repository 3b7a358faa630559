"""scripts/ratio_smoothness.py on a real (tiny) trained model laid out as a study's train cell:
one row per ratio estimate, the raw discriminator first, appended as measured, not measured twice."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("ratio_smoothness", ROOT / "scripts" / "ratio_smoothness.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_curve_is_measured_once_per_ratio_estimate(tmp_path: Path) -> None:
    from repro.gan import train

    cell = tmp_path / "study" / "cells" / "abc"
    cfg = train.TrainConfig(train_size=2000, epochs=2, eval_every=0, g_widths=(64, 128), d_widths=(128, 64),
                            z_dim=16, batch_size=64, ema=0.0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert train.train(cfg, cell, progress=False)["status"] == "ok"
    finally:
        torch.set_num_threads(threads)
    (cell / "cell.json").write_text(json.dumps({"id": "abc", "stage": "train",
                                                "labels": {"objective": "bce", "train_seed": 0}}))
    (cell / "status.json").write_text(json.dumps({"state": "done"}))
    rs = _script()
    out = tmp_path / "study" / "ratio_smoothness.csv"
    args = [str(tmp_path / "study"), "--objectives", "bce", "--steps", "20", "-n", "400",
            "--plot", str(tmp_path / "curve.png")]
    assert rs.main(args) == 0
    rows = list(csv.DictReader(open(out)))
    assert [(r["discriminator"], r["refit_steps"]) for r in rows] == [("raw", "0"), ("refit", "20")]
    for r in rows:
        assert float(r["ratio_class_gap"]) >= 0 and 0 < float(r["heldout_logloss"]) < 1
        assert abs(float(r["acceptance_rate"]) - 0.06) < 0.03 and math.isfinite(float(r["fid_rebalanced"]))
    assert (tmp_path / "curve.png").stat().st_size > 0
    from repro.analysis.results import ratio_smoothness

    means = ratio_smoothness(tmp_path / "study")  # what the paper draws and quotes
    assert list(means["discriminator"]) == ["raw", "refit"] and (means["seeds"] == 1).all()
    import pandas as pd

    from repro.report import macros

    got: dict[str, object] = {}
    macros._ratio_curve_macros(got.__setitem__, tmp_path / "study", pd.DataFrame({"refit_steps": [20.0]}))
    assert got["HasRatioCurve"] == 1 and got["RatioCurvePoints"] == "raw, 20 steps"
    gap = float(rows[0]["ratio_class_gap"])
    assert str(got["RatioCurveSummary"]).startswith("BCE: held-out log-loss") and f"class gap {gap:.2f} / " in str(
        got["RatioCurveSummary"])
    assert rs.main(args) == 0 and len(list(csv.DictReader(open(out)))) == 2  # measured points are kept, not redone
