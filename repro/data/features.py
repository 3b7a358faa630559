"""The evaluation feature space: a small CNN classifier trained on the data set.

Every metric (FID, precision/recall, density/coverage, PRD) is computed on the classifier's
penultimate layer, as in the seed report (Inception features do not fit 28×28 digits).
The feature layer is the *pre-activation* output of the 128-unit hidden layer: a linear map
of the convolutional features, so no unit is dead (constant) on the data — a ReLU output
would have dead units, a singular covariance and an unstable FID. ``FeatureSpace.info``
records how many units are dead on the test set all the same.

``load_or_train`` trains once per (data set, configuration, code version) and caches the
weights; ``FeatureSpace.real_features`` caches the embedding of a real split.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval
from tqdm.auto import tqdm

from repro.core import versions
from repro.core.atomic import atomic_path
from repro.core.errors import ReproError
from repro.core.runtime import home_dir, provenance, resolve_device, stable_hash
from repro.data.datasets import NUM_CLASSES, Dataset, Split, load

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class ClassifierConfig:
    """Architecture and training of the feature classifier (defaults reach ≥ 99 % on MNIST)."""

    channels: tuple[int, int] = (32, 64)
    feature_dim: int = 128
    dropout: float = 0.3
    epochs: int = 4
    batch_size: int = 128
    lr: float = 2e-3
    max_shift: int = 2  # random translation (pixels) as augmentation
    seed: int = 0
    # intra-op threads while training: float sums are split by thread, so another count gives
    # other weights (99.31 % vs 99.32 % test accuracy for one seed); fixed, every machine and
    # every caller (tests at the default count, a study at 1 thread per cell) trains the same one
    threads: int = 2


class Classifier(nn.Module):
    """conv3×3-BN-ReLU-pool ×2 → linear (features) → ReLU → dropout → linear (logits)."""

    def __init__(self, cfg: ClassifierConfig) -> None:
        super().__init__()
        c1, c2 = cfg.channels
        self.feature_dim = cfg.feature_dim
        self.conv = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1, bias=False), nn.BatchNorm2d(c1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1, bias=False), nn.BatchNorm2d(c2), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.fc = nn.Linear(c2 * 7 * 7, cfg.feature_dim)
        self.head = nn.Sequential(nn.ReLU(), nn.Dropout(cfg.dropout), nn.Linear(cfg.feature_dim, NUM_CLASSES))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 28, 28) in [0, 1] → (B, feature_dim), pre-activation."""
        return self.fc(self.conv(x).flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def fast(self) -> Classifier:
        """The inference copy ``FeatureSpace`` embeds with (``inference_copy``)."""
        return inference_copy(self)


def as_image_batch(images: Any, value_range: tuple[float, float] = (0.0, 1.0)) -> torch.Tensor:
    """Accept numpy/torch images shaped (N, 784), (N, 28, 28) or (N, 1, 28, 28); return
    float32 (N, 1, 28, 28) in [0, 1]. ``value_range=(-1, 1)`` for generator outputs."""
    x = torch.as_tensor(images)
    if x.dtype == torch.uint8:
        x = x.float() / 255.0
    else:
        lo, hi = value_range
        x = (x.float() - lo) / (hi - lo)
    if x.ndim == 2 and x.shape[1] == 784:
        x = x.view(-1, 28, 28)
    if x.ndim == 3:
        x = x.unsqueeze(1)
    if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
        raise ValueError(f"images of shape {tuple(x.shape)}; expected (N, 784), (N, 28, 28) or (N, 1, 28, 28)")
    return x


def _random_shift(x: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Translate each image by up to ±max_shift pixels (zero fill): pad, then crop at random."""
    if max_shift == 0:
        return x
    n = x.shape[0]
    padded = F.pad(x, (max_shift,) * 4)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen)
    rows = (dy[:, None] + torch.arange(28)[None, :])  # (n, 28)
    cols = (dx[:, None] + torch.arange(28)[None, :])  # (n, 28)
    idx = torch.arange(n)[:, None, None]
    return padded[:, 0][idx, rows[:, :, None], cols[:, None, :]].unsqueeze(1)


@torch.inference_mode()
def _predict(model: Classifier, x: torch.Tensor, device: torch.device, batch_size: int = 2000) -> torch.Tensor:
    model.eval()
    return torch.cat([model(x[i : i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)])


def accuracy(model: Classifier, split: Split, device: torch.device) -> float:
    logits = _predict(model, as_image_batch(split.images), device)
    return float((logits.argmax(1).numpy() == split.labels).mean())


def dead_units(features: np.ndarray, tol: float = 1e-6) -> int:
    """Units whose value is constant over the given set (std ≤ tol × the median unit std)."""
    std = features.std(axis=0)
    return int((std <= tol * max(float(np.median(std)), 1e-30)).sum())


def train_classifier(
    ds: Dataset, cfg: ClassifierConfig, device: torch.device, progress: bool = True
) -> tuple[Classifier, dict[str, Any]]:
    """Train on ``ds.train``; report validation/test accuracy and dead feature units.

    Bitwise reproducible on CPU: shuffling and shifts come from an explicit generator, dropout
    from the global RNG seeded inside ``fork_rng`` (the caller's RNG is left as it was), and the
    thread count is ``cfg.threads`` for the duration."""
    return reproducibly(cfg, lambda: _train_classifier(ds, cfg, device, progress))


def reproducibly(cfg: Any, fn: Callable[[], T]) -> T:
    """``fn()`` with ``cfg.threads`` intra-op threads and the global RNG seeded with ``cfg.seed``
    inside ``fork_rng``, the caller's thread count and RNG restored after: a network's parameter
    initialisation (and dropout) read the global RNG, and float sums are split by thread, so
    this is what makes a feature space's training bitwise reproducible on the CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            return fn()
    finally:
        torch.set_num_threads(threads)


def fit(model: nn.Module, n: int, batch_loss: Callable[[torch.Tensor], torch.Tensor], cfg: Any,
        gen: torch.Generator, desc: str, progress: bool) -> float:
    """A feature space's training loop: Adam at ``cfg.lr`` with a one-cycle schedule, ``cfg.epochs``
    passes over ``n`` training items in minibatches of ``cfg.batch_size``, each epoch's order drawn
    from ``gen``; ``batch_loss(indices)`` is one minibatch's loss. Returns the seconds it took."""
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    steps_per_epoch = (n + cfg.batch_size - 1) // cfg.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch)
    start = time.perf_counter()
    for epoch in range(cfg.epochs):
        model.train()
        order = torch.randperm(n, generator=gen)
        bar = tqdm(range(steps_per_epoch), desc=f"{desc} epoch {epoch + 1}/{cfg.epochs}",
                   disable=True if not progress else None, leave=False)  # None: quiet off a terminal
        for step in bar:
            loss = batch_loss(order[step * cfg.batch_size : (step + 1) * cfg.batch_size])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return time.perf_counter() - start


def _train_classifier(ds: Dataset, cfg: ClassifierConfig, device: torch.device,
                      progress: bool) -> tuple[Classifier, dict[str, Any]]:
    gen = torch.Generator().manual_seed(cfg.seed)  # shuffling and shifts
    model = Classifier(cfg).to(device)
    x_all = as_image_batch(ds.train.images)
    y_all = torch.as_tensor(ds.train.labels)

    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        xb = _random_shift(x_all[idx], cfg.max_shift, gen).to(device)
        return F.cross_entropy(model(xb), y_all[idx].to(device))

    seconds = fit(model, len(x_all), batch_loss, cfg, gen, f"classifier {ds.name}", progress)
    model.eval()
    fs = FeatureSpace(model, {}, device)
    test_features = fs.embed(ds.test.images)
    info = {
        "dataset": ds.name,
        "data_digest": ds.digest,
        "config": asdict(cfg),
        "val_accuracy": accuracy(model, ds.val, device),
        "test_accuracy": accuracy(model, ds.test, device),
        "feature_dim": cfg.feature_dim,
        "dead_units_test": dead_units(test_features),
        "train_seconds": seconds,
        "provenance": provenance(device),
    }
    return model, info


def inference_copy(model: Classifier) -> Classifier:
    """A copy for fast inference: batch norm folded into the convolutions, channels-last.

    About 2.5× the images/s of the training module on a 2-core CPU; the features agree
    with the unfused model to ~1e-5 (float32 rounding), and every embedding goes through it.
    """
    fast = copy.deepcopy(model).eval()
    c = fast.conv
    fast.conv = nn.Sequential(fuse_conv_bn_eval(c[0], c[1]), c[2], c[3], fuse_conv_bn_eval(c[4], c[5]), c[6], c[7])
    return fast.to(memory_format=torch.channels_last)


class FeatureSpace:
    """A trained network seen as an embedding: ``embed(images) -> (N, d)``. The network has
    ``features(x)``, ``feature_dim`` and ``fast()`` (its inference copy); a classifier (one with
    a ``head``) also gives class probabilities (``has_classes``)."""

    def __init__(self, model: nn.Module, info: dict[str, Any], device: torch.device, key: str = "") -> None:
        self.model = model.fast()
        self.info = info
        self.device = device
        self.key = key  # content hash of (config, data, code version): names cached embeddings

    @property
    def dim(self) -> int:
        return self.model.feature_dim

    @property
    def has_classes(self) -> bool:
        """Whether the space has a classifier's head: class probabilities, the Inception-style score."""
        return hasattr(self.model, "head")

    def _need_classes(self) -> None:
        if not self.has_classes:
            raise ReproError(f"the {self.info.get('space', 'feature')} space has no classes: class probabilities "
                             "(the Inception-style score, the class histogram) come from the classifier's space")

    @torch.inference_mode()
    def _run(self, images: Any, fn, value_range: tuple[float, float], batch_size: int) -> np.ndarray:
        x = as_image_batch(images, value_range)
        out = [
            fn(x[i : i + batch_size].to(self.device, memory_format=torch.channels_last)).float().cpu()
            for i in range(0, len(x), batch_size)
        ]
        return torch.cat(out).numpy() if out else np.zeros((0, self.dim), np.float32)

    def embed(self, images: Any, value_range: tuple[float, float] = (0.0, 1.0), batch_size: int = 256) -> np.ndarray:
        """(N, …) images → float32 (N, d) penultimate-layer features (no grad, batched)."""
        return self._run(images, self.model.features, value_range, batch_size)

    def probs(self, images: Any, value_range: tuple[float, float] = (0.0, 1.0), batch_size: int = 256) -> np.ndarray:
        """(N, …) images → (N, 10) class probabilities (for the Inception Score)."""
        self._need_classes()
        return self._run(images, lambda b: torch.softmax(self.model(b), dim=1), value_range, batch_size)

    @torch.inference_mode()
    def probs_from_features(self, feats: np.ndarray) -> np.ndarray:
        """(N, d) features from ``embed`` → (N, 10) class probabilities: the classifier's head on
        them, so an evaluation runs the convolutions once for both (``probs`` runs them again)."""
        self._need_classes()
        was = self.model.training
        self.model.eval()
        head = self.model.head
        p = torch.softmax(head(torch.as_tensor(feats, dtype=torch.float32, device=self.device)), dim=1)
        self.model.train(was)
        return p.cpu().numpy()

    def real_features(self, ds: Dataset, split: str = "test") -> np.ndarray:
        """The embedding of a real split, computed once and cached beside the classifier."""
        path = home_dir() / "cache" / "features" / f"{ds.name}-{self.key}-{split}.npy"
        if path.is_file():
            try:
                feats = np.load(path)
                n = len(ds.split(split))
                if feats.ndim != 2 or len(feats) != n or not np.isfinite(feats).all():
                    raise ValueError(f"holds {feats.shape} values, not {n} finite embeddings")
                return feats
            except (OSError, ValueError, EOFError) as exc:  # truncated, foreign or altered: recompute
                log.warning("feature cache %s unreadable (%s); recomputing it", path, exc)
        feats = self.embed(ds.split(split).images)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, feats)
        return feats


# The classifier's own version (repro.core.versions): a GAN training or sampling change does not
# retrain an identical classifier.
FEATURES_VERSION = versions.FEATURES


def classifier_key(ds: Dataset, cfg: ClassifierConfig) -> str:
    return stable_hash({"config": asdict(cfg), "data": ds.digest, "code": FEATURES_VERSION})


def classifier_path(ds: Dataset, cfg: ClassifierConfig) -> Path:
    return home_dir() / "cache" / "classifier" / f"{ds.name}-{classifier_key(ds, cfg)}.pt"


def load_or_train(
    dataset: str | Dataset = "mnist",
    data_dir: str | Path | None = None,
    cfg: ClassifierConfig = ClassifierConfig(),
    device: str | torch.device | None = None,
    progress: bool = True,
    retrain: bool = False,
) -> FeatureSpace:
    """The cached feature space of ``dataset``, training the classifier on first use."""
    ds = dataset if isinstance(dataset, Dataset) else load(dataset, data_dir)
    return cached_space(ds, "classifier", cfg, classifier_key(ds, cfg), Classifier, train_classifier,
                        device, progress, retrain)


def cached_space(ds: Dataset, name: str, cfg: Any, key: str, build: Callable[[Any], nn.Module],
                 train_fn: Callable[..., tuple[nn.Module, dict[str, Any]]], device: str | torch.device | None,
                 progress: bool, retrain: bool) -> FeatureSpace:
    """A feature space's network from ``<home>/cache/<name>/<data set>-<key>.pt``, trained by
    ``train_fn(ds, cfg, device, progress)`` and saved (atomically) where the file is missing or
    unreadable; ``build(cfg)`` makes the empty network its weights load into."""
    dev = resolve_device(device)
    path = home_dir() / "cache" / name / f"{ds.name}-{key}.pt"
    if path.is_file() and not retrain:
        try:
            blob = torch.load(path, map_location=dev, weights_only=True)
            model = build(cfg).to(dev)
            model.load_state_dict(blob["state_dict"])
            return FeatureSpace(model, blob["info"], dev, key)
        except Exception as exc:  # noqa: BLE001 - a damaged cache is rebuilt, never a traceback
            log.warning("%s cache %s unreadable (%s: %s); training it again", name, path, type(exc).__name__,
                        str(exc).splitlines()[0][:200] if str(exc) else "")
    log.info("training the %s %s (%s)", ds.name, name, path.name)
    model, info = train_fn(ds, cfg, dev, progress)
    with atomic_path(path) as tmp:
        torch.save({"state_dict": model.state_dict(), "info": _jsonable(info)}, tmp)
    return FeatureSpace(model, info, dev, key)


def _jsonable(obj: Any) -> Any:
    """Plain types only, so that the checkpoint loads with ``weights_only=True``."""
    import json

    return json.loads(json.dumps(obj, default=str))
