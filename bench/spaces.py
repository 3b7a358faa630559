"""What a second feature space adds to an evaluation cell (docs/maths.md §7.2): the default
study's scoring of 5,000 images (k = 3 and 5, three PRD runs) in the classifier's space
(``evaluation.measure``: embedding, FID, P/R, D/C, PRD, the class metrics and diagnostics) and
again in the autoencoder's code (``evaluation.measure_in``), one thread, as a study cell runs.
5,000 validation images stand in for a generator's samples; the reference is the test split's
subset, as in a cell. Both networks and their real embeddings are cached before the timed call.
"""

from __future__ import annotations

from typing import Any

from bench import measure

N = 5_000


def case(space: str = "classifier"):
    """Inputs built outside the timed call; returns the callable that ``measure`` times."""
    import dataclasses  # noqa: PLC0415

    from repro import evaluation  # noqa: PLC0415
    from repro.data import datasets, spaces  # noqa: PLC0415

    ds = datasets.load("mnist")
    fs = spaces.load(ds, space)
    settings = dataclasses.replace(evaluation.EvalSettings(), n_samples=N, prd_runs=3)
    fs.real_features(ds, "test")
    images = ds.val.images[:N]

    def call() -> None:
        fake = fs.embed(images)
        if space == "classifier":
            evaluation.measure(fs, ds, fake, settings, 0)
        else:
            evaluation.measure_in(fs, ds, fake, settings, 0)

    return call


def run() -> list[dict[str, Any]]:
    rows = []
    for space in ("classifier", "autoencoder"):
        m = measure("bench.spaces:case", {"space": space}, repeats=3, threads=1)
        rows.append({"benchmark": "score 5k images (one thread)", "impl": f"{space} space", **m})
    return rows
