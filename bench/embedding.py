"""Embedding throughput of the feature space: images/s through the classifier's penultimate layer.

Every evaluation embeds thousands of images, so this is on the critical path of a study.
Measured with ``bench.measure`` (a fresh interpreter per case) on 10,000 MNIST test images.
"""

from __future__ import annotations

from typing import Any

from bench import measure

N = 10_000


def case(batch_size: int = 256, fused: bool = True):
    """Inputs built outside the timed call; returns the callable that ``measure`` times."""
    from repro.data import datasets, features  # noqa: PLC0415

    ds = datasets.load("mnist")
    space = features.load_or_train(ds, progress=False)
    images = ds.test.images[:N]
    if not fused:  # the training module, unfused: what embedding costs without the inference copy
        import copy  # noqa: PLC0415

        import torch  # noqa: PLC0415

        blob = torch.load(features.classifier_path(ds, features.ClassifierConfig()), weights_only=True)
        model = features.Classifier(features.ClassifierConfig())
        model.load_state_dict(blob["state_dict"])
        space.model = copy.deepcopy(model).eval()

    def call() -> None:  # the features themselves are not part of the report
        space.embed(images, batch_size=batch_size)

    return call


def run() -> list[dict[str, Any]]:
    rows = []
    for label, kwargs in (("repro (fused BN, channels-last)", {"fused": True}),
                          ("unfused training module", {"fused": False})):
        m = measure("bench.embedding:case", kwargs, repeats=3)
        row = {"benchmark": "embed 10k MNIST images", "impl": label, **m}
        if "time_s" in m:
            row["images_per_s"] = round(N / m["time_s"])
        rows.append(row)
    return rows
