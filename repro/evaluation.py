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

**Feature spaces** (docs/maths.md §7.2): ``measure`` scores in the primary space, the
classifier's; ``measure_in`` scores the same images in another space (``repro.data.spaces``,
``EvalSettings.feature_spaces``) with the same reference subset and seeds. The class metrics
(``CLASS_BASED``) read the classifier's probabilities, so they are the classifier's in every space.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from repro.core import seeds
from repro.core.config import MAX_SAMPLES, check_choices, check_minimum, option
from repro.core.errors import ConfigError
from repro.core.vocab import FEATURE_SPACES, PRIMARY_SPACE, SPLITS
from repro.data import datasets, features, spaces
from repro.maths import metrics, prd

REAL_SUBSET_SEED = seeds.REAL_SUBSET  # with the evaluation seed, seeds the real reference subset
HELD_OUT_SEED = seeds.HELD_OUT  # with the evaluation seed, seeds the held-out real images of the ceiling
CURVE_METRICS = ("fid", "precision", "recall", "density", "coverage")
# measured on the classifier's class probabilities, not on an embedding: the same in every space
CLASS_BASED = ("inception_score", "classes_covered", "class_kl", "ratio_class_gap")


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
    # the embeddings every evaluation is scored in (repro.data.spaces): the first is the primary one,
    # the classifier's; each other space adds its metrics to the cell (docs/maths.md §7.2)
    feature_spaces: tuple[str, ...] = (PRIMARY_SPACE,)

    def __post_init__(self) -> None:
        check_choices(self)
        spaces = self.feature_spaces
        if not spaces or spaces[0] != PRIMARY_SPACE or len(set(spaces)) != len(spaces) or \
                any(not isinstance(s, str) or s not in FEATURE_SPACES for s in spaces):
            raise ConfigError(f"{list(spaces)!r} is not allowed; expected distinct names of "
                              f"{', '.join(FEATURE_SPACES)}, the first {PRIMARY_SPACE!r} (the primary space: "
                              f"tables, training bar and class metrics)", field="feature_spaces")
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


def measure(fs: Any, ds: Any, fake: np.ndarray, settings: EvalSettings, seed: int, *, diagnostics: bool = True,
            proposals: tuple[np.ndarray, np.ndarray] | None = None
            ) -> tuple[dict[str, float], tuple[Any, Any] | None, dict[str, Any] | None]:
    """The whole protocol of one evaluation: generated features ``fake`` (n, d) of the feature space
    ``fs`` (``repro.data.features``) against the reference subset of evaluation seed ``seed``
    (``reference_subset``, n images of ``settings.reference_split`` of ``ds``), scored by ``score``
    with the classifier's probabilities and, with ``diagnostics``, ``class_diagnostics``
    (``proposals`` as there). Returns (metrics, PRD curve, per-class record or None). The study's
    evaluation cells, ``evaluate`` and ``repro evaluate`` all measure through here."""
    real = reference_subset(fs.real_features(ds, settings.reference_split), len(fake), seed)
    probs_fake, probs_real = fs.probs_from_features(fake), fs.probs_from_features(real)
    out, curve = score(real, fake, settings, seed, probs=(probs_fake, probs_real))
    record = None
    if diagnostics:
        extra, record = class_diagnostics(real, fake, probs_real, probs_fake, seed, proposals)
        out.update(extra)
    return out, curve, record


def measure_in(fs: Any, ds: Any, fake: np.ndarray, settings: EvalSettings, seed: int
               ) -> tuple[dict[str, float], tuple[Any, Any] | None]:
    """``measure``'s embedding metrics in another feature space ``fs``: FID, precision, recall,
    density, coverage, F₈ and F₁/₈ of generated features ``fake`` (n, d) of ``fs`` against the same
    reference subset (evaluation seed ``seed``) embedded in ``fs``. Returns (metrics, PRD curve)."""
    real = reference_subset(fs.real_features(ds, settings.reference_split), len(fake), seed)
    return score(real, fake, settings, seed)


def check_images(images: Any, value_range: tuple[float, float] | None = None) -> tuple[np.ndarray, tuple[float, float]]:
    """Images a user hands over, as a numpy array and the value range they are in: uint8 in
    [0, 255], or floats in ``value_range`` (default [−1, 1], the generators' and ``repro
    sample``'s range). Shape (N, 28, 28), (N, 1, 28, 28) or (N, 784). Anything else is one
    ``ConfigError`` that says what was found and what is expected."""
    try:
        x = np.asarray(images.detach().cpu().numpy() if hasattr(images, "detach") else images)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"images: not an array ({exc})") from None
    if x.ndim == 2 and x.shape[1:] == (784,):
        x = x.reshape(-1, 28, 28)
    if x.ndim == 4 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise ConfigError(f"images of shape {x.shape}; expected (N, 28, 28), (N, 1, 28, 28) or (N, 784) "
                          "single-channel 28 × 28 images")
    if x.dtype == np.uint8:
        return x, (0.0, 255.0)
    if not np.issubdtype(x.dtype, np.floating):
        raise ConfigError(f"images of dtype {x.dtype}; expected uint8 in [0, 255] or floats in [-1, 1]")
    if not np.isfinite(x).all():
        raise ConfigError(f"images: {int((~np.isfinite(x)).sum())} values are NaN or infinite")
    lo, hi = value_range or (-1.0, 1.0)
    tol = 1e-3 * (hi - lo)
    if x.size and (x.min() < lo - tol or x.max() > hi + tol):
        raise ConfigError(f"images hold values in [{x.min():.3g}, {x.max():.3g}], outside [{lo:g}, {hi:g}]; "
                          "floats are read in [-1, 1] (what repro sample writes): give value_range for another "
                          "range, or uint8 images in [0, 255]")
    return x.astype(np.float32, copy=False), (lo, hi)


def evaluate(images: Any, dataset: str = "mnist", *, reference: str = "test", seed: int = 0,
             value_range: tuple[float, float] | None = None, settings: EvalSettings | None = None,
             feature_spaces: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The metric suite of any samples against a data set's real images, by the study's protocol.

    ``images``: (N, 28, 28), (N, 1, 28, 28) or (N, 784), uint8 in [0, 255] or floats in [−1, 1]
    (``value_range`` for another). Up to as many images as the reference split holds are scored
    (the first ones); the reference is a subset of the same size drawn with ``seed``. Returns one
    flat dict: the data set, the reference split, the sample sizes, and FID, precision, recall,
    density, coverage, F₈, F₁/₈, the Inception-style score, the classes covered, the class KL and
    the FID at the real class mix (docs/maths.md §7); with ``feature_spaces`` (default: the
    settings', the classifier's alone) the embedding metrics in each other space too, as
    ``<space>_<metric>`` (``autoencoder_fid``, …; docs/maths.md §7.2).

    >>> import repro                                                    # doctest: +SKIP
    >>> repro.evaluate(images, dataset="mnist")["fid"]                 # doctest: +SKIP
    """
    x, rng = check_images(images, value_range)
    if reference not in SPLITS:
        raise ConfigError(f"reference {reference!r} is not allowed; expected one of {', '.join(SPLITS)}")
    fs = features.load_or_train(dataset, progress=False)
    ds = datasets.load(dataset)
    n_reference = len(getattr(ds, reference).images)
    n = min(len(x), n_reference)
    base = settings or EvalSettings()
    if feature_spaces is not None:
        base = dataclasses.replace(base, feature_spaces=tuple(feature_spaces))  # checked there
    if n <= max(base.k_precision_recall, base.k_density_coverage, base.prd_clusters, 9):
        raise ConfigError(f"{len(x)} images are too few to evaluate; give more than "
                          f"{max(base.k_precision_recall, base.k_density_coverage, base.prd_clusters, 9)}")
    settings = dataclasses.replace(base, n_samples=n, reference_split=reference)
    fake = fs.embed(x[:n], value_range=rng)
    result, _, _ = measure(fs, ds, fake, settings, seed)
    for name in settings.feature_spaces[1:]:
        other = spaces.load(ds, name)
        in_other, _ = measure_in(other, ds, other.embed(x[:n], value_range=rng), settings, seed)
        result.update({f"{name}_{k}": v for k, v in in_other.items()})
    return {"dataset": dataset, "reference": reference, "n_samples": n, "n_reference": n, "images_given": len(x),
            "seed": seed, **result}
