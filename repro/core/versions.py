"""The version of each component whose changes alter the numbers its results hold.

A cell's id hashes its configuration with the versions of the components its stage runs
(``repro.harness.spec.Cell``), and each cache is keyed by its own component's version, so a change to
one component recomputes what depends on it and nothing else: a DRS fix bumps DRS's version
(its registry entry, ``repro.samplers``) and recomputes the DRS evaluation cells only. Bump a
version when a change alters a number; say in the commit why.
"""

from __future__ import annotations

from typing import Any

# The package's release (pyproject.toml's); a cell's provenance records it.
PACKAGE = "0.1.0"

# Decoding and verifying the data sets (``repro.data.datasets``); part of every cell's id.
DATA = 1
# The feature classifier and its embeddings (``repro.data.features``), its cache key.
FEATURES = 1
# The autoencoder of the second feature space (``repro.data.autoencoder``), its cache key.
AUTOENCODER = 1
# GAN training (``repro.gan.train``, ``repro.gan.nets``, ``repro.maths.divergences``). History: 2: refit D, real
# subset per evaluation seed, min-max KL, primal λ-PR; 3: DRS at a target acceptance keeps M;
# 4: one evaluation protocol, one DRS γ convention default; 5: networks stacked over seeds,
# dropout masks from uniform draws, fused Adam, KL and RKL against a logistic ratio estimator.
TRAINING = 5
# The discriminator refit and its calibration (``repro.gan.refit``); read by every ratio sampler.
REFIT = 1
# The evaluation protocol (``repro.evaluation``): 2: mode coverage from the classifier;
# 3: the class diagnostics (fid_rebalanced, ratio_class_gap, classes.json).
EVALUATION = 3


def evaluation(scored: bool) -> dict[str, int]:
    """The components an evaluation cell runs besides its sampler (whose version its sampling
    record holds): the protocol, and the refit where the sampler reads a ratio."""
    return {"evaluation": EVALUATION, **({"refit": REFIT} if scored else {})}


def of_stage(stage: str) -> dict[str, Any]:
    """The versions every cell of ``stage`` depends on (an evaluation's others are in its record)."""
    return {"features": {"data": DATA, "features": FEATURES},  # the autoencoder's cell holds its own
            "train": {"data": DATA, "training": TRAINING},
            "evaluate": {"data": DATA}}[stage]


def all_versions() -> dict[str, int]:
    """Every component's version (a run's provenance)."""
    return {"data": DATA, "features": FEATURES, "autoencoder": AUTOENCODER, "training": TRAINING, "refit": REFIT,
            "evaluation": EVALUATION}
