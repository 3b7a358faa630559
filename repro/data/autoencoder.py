"""The second feature space: a convolutional autoencoder's code, trained here without labels.

Every number of a study lives in a feature space; the classifier's (``repro.data.features``) is
organised by the ten classes it was trained to separate. The autoencoder is trained only to
reconstruct the pixels, so its code is organised by what the images look like, not by their
labels: a verdict that holds in both spaces does not depend on the embedding
(docs/maths.md §7.2). The feature is the encoder's 32-d output (a linear layer, no
activation, so no unit is dead on the data).

Encoder: conv 4×4 stride 2 (1→32) - ReLU - conv 4×4 stride 2 (32→64) - ReLU - linear (3136 → 32);
decoder: the mirror (linear, two transposed convolutions), the pixels' logits; loss: binary
cross-entropy per pixel against the image in [0, 1]. Five epochs on the training split.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from repro.core import versions
from repro.core.runtime import provenance, stable_hash
from repro.data.datasets import Dataset, load
from repro.data.features import FeatureSpace, as_image_batch, cached_space, dead_units, fit, reproducibly


@dataclass(frozen=True)
class AutoencoderConfig:
    """Architecture and training of the autoencoder (test reconstruction error is in its info)."""

    channels: tuple[int, int] = (32, 64)
    feature_dim: int = 32
    epochs: int = 5
    batch_size: int = 128
    lr: float = 2e-3
    seed: int = 1  # another seed than the classifier's: nothing is shared between the two spaces
    # fixed, so every machine and caller trains the same weights (as the classifier's); one, so that
    # it shares the cores with the study's one-thread training cells without oversubscribing them
    threads: int = 1


class Autoencoder(nn.Module):
    """Conv encoder → linear code (the features); linear → transposed conv decoder → logits."""

    def __init__(self, cfg: AutoencoderConfig) -> None:
        super().__init__()
        c1, c2 = cfg.channels
        self.feature_dim = cfg.feature_dim
        self.encoder = nn.Sequential(nn.Conv2d(1, c1, 4, 2, 1), nn.ReLU(), nn.Conv2d(c1, c2, 4, 2, 1), nn.ReLU(),
                                     nn.Flatten(), nn.Linear(c2 * 7 * 7, cfg.feature_dim))
        self.decoder = nn.Sequential(nn.Linear(cfg.feature_dim, c2 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (c2, 7, 7)),
                                     nn.ConvTranspose2d(c2, c1, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(c1, 1, 4, 2, 1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 28, 28) in [0, 1] → (B, feature_dim), the code."""
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction's logits, (B, 1, 28, 28)."""
        return self.decoder(self.encoder(x))

    def fast(self) -> Autoencoder:
        """The inference copy ``FeatureSpace`` embeds with (eval mode, channels-last)."""
        return copy.deepcopy(self).eval().to(memory_format=torch.channels_last)


@torch.inference_mode()
def reconstruction_error(model: Autoencoder, images: np.ndarray, device: torch.device, batch_size: int = 2000) -> float:
    """Mean squared error per pixel of the reconstructions, images in [0, 1]."""
    model.eval()
    x, total = as_image_batch(images), 0.0
    for i in range(0, len(x), batch_size):
        xb = x[i : i + batch_size].to(device)
        total += float(((torch.sigmoid(model(xb)) - xb) ** 2).sum())
    return total / x.numel()


def nearest_neighbour_accuracy(train: np.ndarray, train_labels: np.ndarray, test: np.ndarray,
                               test_labels: np.ndarray, chunk: int = 2000) -> float:
    """1-NN classification accuracy of ``test`` by ``train`` in a feature space: how much of the
    class structure a space holds without having seen a label."""
    t = torch.as_tensor(train, dtype=torch.float32)
    hits = 0
    for i in range(0, len(test), chunk):
        d = torch.cdist(torch.as_tensor(test[i : i + chunk], dtype=torch.float32), t)
        hits += int((train_labels[d.argmin(1).numpy()] == test_labels[i : i + chunk]).sum())
    return hits / len(test)


def train_autoencoder(ds: Dataset, cfg: AutoencoderConfig, device: torch.device,
                      progress: bool = True) -> tuple[Autoencoder, dict[str, Any]]:
    """Train on ``ds.train``; report reconstruction errors, dead units and the space's 1-NN
    accuracy (each test image given the label of its nearest validation image). Bitwise
    reproducible on CPU, as the classifier's training is."""
    return reproducibly(cfg, lambda: _train(ds, cfg, device, progress))


def _train(ds: Dataset, cfg: AutoencoderConfig, device: torch.device,
           progress: bool) -> tuple[Autoencoder, dict[str, Any]]:
    gen = torch.Generator().manual_seed(cfg.seed)  # shuffling
    model = Autoencoder(cfg).to(device)
    x_all = as_image_batch(ds.train.images)

    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        xb = x_all[idx].to(device)
        return F.binary_cross_entropy_with_logits(model(xb), xb)

    seconds = fit(model, len(x_all), batch_loss, cfg, gen, f"autoencoder {ds.name}", progress)
    model.eval()
    fs = FeatureSpace(model, {}, device)
    test_features, val_features = fs.embed(ds.test.images), fs.embed(ds.val.images)
    info = {
        "dataset": ds.name,
        "data_digest": ds.digest,
        "space": "autoencoder",
        "config": asdict(cfg),
        "val_mse": reconstruction_error(model, ds.val.images, device),
        "test_mse": reconstruction_error(model, ds.test.images, device),
        "knn_accuracy_test": nearest_neighbour_accuracy(val_features, ds.val.labels, test_features, ds.test.labels),
        "feature_dim": cfg.feature_dim,
        "dead_units_test": dead_units(test_features),
        "train_seconds": seconds,
        "provenance": provenance(device),
    }
    return model, info


def autoencoder_key(ds: Dataset, cfg: AutoencoderConfig) -> str:
    return stable_hash({"space": "autoencoder", "config": asdict(cfg), "data": ds.digest,
                        "code": versions.AUTOENCODER})


def load_or_train(dataset: str | Dataset = "mnist", data_dir: str | Path | None = None,
                  cfg: AutoencoderConfig = AutoencoderConfig(), device: str | torch.device | None = None,
                  progress: bool = True, retrain: bool = False) -> FeatureSpace:
    """The cached autoencoder space of ``dataset``, training it on first use (~1 min on 2 cores)."""
    ds = dataset if isinstance(dataset, Dataset) else load(dataset, data_dir)
    return cached_space(ds, "autoencoder", cfg, autoencoder_key(ds, cfg), Autoencoder, train_autoencoder,
                        device, progress, retrain)
