"""The evaluation protocol, one for the training curve and the evaluation cells (docs/maths.md §7).

An evaluation compares n generated images with n real reference images in the feature
classifier's space. The rules, in one place:

- **the real reference subset** is n images of the reference split drawn with the evaluation
  seed (``reference_subset``): its sampling variance is part of an evaluation's, so two
  evaluation seeds of one model differ in both their generated and their real sample;
- **the metrics** are those of ``score``: FID, improved precision/recall (k = 3), density and
  coverage (k = 5) always; the PRD curve with F₈ / F₁/₈, the Inception-style score and the
  classifier's mode coverage where the caller asks (the training curve skips them: they cost
  more than the rest together and the curve only tracks progress);
- **the ceiling** of each metric is the same protocol with held-out real images in place of
  the generated ones (``held_out_split``): what a perfect generator would score here.

The training curve evaluates against the validation split (the test split stays untouched
during training); the study's cells against ``EvalSettings.reference_split`` (test by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from repro.core import seeds
from repro.core.config import MAX_SAMPLES, check_choices, check_minimum, option
from repro.core.errors import ConfigError
from repro.core.vocab import SPLITS
from repro.maths import metrics, prd

REAL_SUBSET_SEED = seeds.REAL_SUBSET  # with the evaluation seed, seeds the real reference subset
HELD_OUT_SEED = seeds.HELD_OUT  # with the evaluation seed, seeds the held-out real images of the ceiling
CURVE_METRICS = ("fid", "precision", "recall", "density", "coverage")


@dataclass(frozen=True)
class EvalSettings:
    """How an evaluation cell measures (a spec's ``[evaluate]`` table)."""

    n_samples: int = 5000
    reference_split: str = option("test", choices=SPLITS)
    k_precision_recall: int = 3
    k_density_coverage: int = 5
    prd_clusters: int = 20
    prd_angles: int = 1001
    prd_runs: int = 10
    grid_images: int = 64
    eval_seeds: int = 1  # evaluations per trained model, each with its own generated and real subsets
    refit_steps: int = 1000  # D updates of the refit against the sampled generator (repro.gan.refit)

    def __post_init__(self) -> None:
        check_choices(self)
        check_minimum(self, {"n_samples": 10, "k_precision_recall": 1, "k_density_coverage": 1, "prd_clusters": 2,
                             "prd_angles": 3, "prd_runs": 1, "grid_images": 0, "eval_seeds": 1, "refit_steps": 0},
                      maximum={"n_samples": MAX_SAMPLES})
        # neighbours and clusters are counted among the n samples: past n every cell would fail
        for name in ("k_precision_recall", "k_density_coverage", "prd_clusters"):
            if getattr(self, name) >= self.n_samples:
                raise ConfigError(f"{getattr(self, name)} is not allowed; expected fewer than n_samples = "
                                  f"{self.n_samples}", field=name)


def subset(n_total: int, n: int, seed: int, stream: int = REAL_SUBSET_SEED) -> np.ndarray:
    """Sorted indices of n of n_total items, drawn by ``default_rng([stream, seed])``."""
    return np.sort(seeds.real_subset(seed, stream).permutation(n_total)[:n])


def reference_subset(real_all: np.ndarray, n: int, eval_seed: int) -> np.ndarray:
    """The real reference features (n, d) of evaluation seed ``eval_seed`` (the one policy)."""
    return real_all[subset(len(real_all), n, eval_seed)]


def held_out_split(reference_split: str) -> str:
    """The real split that plays the generator in the ceiling: the one not used as reference."""
    return "val" if reference_split == "test" else "test"


def score(real: np.ndarray, fake: np.ndarray, settings: EvalSettings, seed: int, *, full: bool = True,
          probs: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[dict[str, float], tuple[Any, Any] | None]:
    """The metrics of generated features ``fake`` (M, d) against real ``real`` (N, d).

    Always FID, precision, recall, density, coverage; with ``full`` also F₈ and F₁/₈ of the PRD
    curve (seeded by ``seed``); with ``probs`` = (classifier probabilities of fake (M, C), of
    real (N, C)) the Inception-style score and the mode coverage. Returns (metrics, PRD curve
    (α, β) or None).
    """
    pr = metrics.prdc(real, fake, k_pr=settings.k_precision_recall, k_dc=settings.k_density_coverage)
    out = {"fid": metrics.frechet_distance(real, fake),
           **{k: pr[k] for k in ("precision", "recall", "density", "coverage")}}
    curve = None
    if full:
        curve = prd.prd_curve(real, fake, num_clusters=settings.prd_clusters, num_angles=settings.prd_angles,
                                  num_runs=settings.prd_runs, seed=seed)
        out["f8"], out["f1_8"] = prd.f_beta_max(*curve, beta=8)
    if probs is not None:
        probs_fake, probs_real = probs
        out["inception_score"] = metrics.inception_score(probs_fake)
        out.update(metrics.class_coverage(probs_fake, probs_real))
    return {k: float(v) for k, v in out.items()}, curve


def class_diagnostics(real: np.ndarray, fake: np.ndarray, probs_real: np.ndarray, probs_fake: np.ndarray,
                      seed: int, proposals: tuple[np.ndarray, np.ndarray] | None = None
                      ) -> tuple[dict[str, float], dict[str, Any]]:
    """What a sample's class mix does to its scores, and where a ratio-based sampler's class mix
    comes from (docs/maths.md §6.9). ``fid_rebalanced``: the FID of the generated features
    resampled to the real class mix (``metrics.rebalance_indices``). With ``proposals`` = (log r̂
    of fresh proposals, their class probabilities): ``ratio_class_gap`` and the per-class
    calibration of the ratio (``metrics.class_ratio_calibration``). Returns (metrics, per-class
    record: the real and the sample's class shares, and the calibration arrays)."""
    labels_real, labels_fake = probs_real.argmax(axis=1), probs_fake.argmax(axis=1)
    idx = metrics.rebalance_indices(labels_fake, labels_real, len(fake), seed)
    out = {"fid_rebalanced": float(metrics.frechet_distance(real, fake[idx]))}
    classes = probs_real.shape[1]
    record: dict[str, Any] = {
        "h_real": (np.bincount(labels_real, minlength=classes) / len(labels_real)).tolist(),
        "h_sample": (np.bincount(labels_fake, minlength=classes) / len(labels_fake)).tolist()}
    if proposals is not None:
        log_r, probs_prop = proposals
        cal = metrics.class_ratio_calibration(log_r, probs_prop.argmax(axis=1), labels_real)
        out["ratio_class_gap"] = float(cal["class_gap"])
        record.update({k: [None if not np.isfinite(x) else float(x) for x in v]
                       for k, v in cal.items() if k not in ("class_gap", "h_real")})
    return out, record
