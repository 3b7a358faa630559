"""``repro features train|info``: the networks whose embeddings are the feature spaces (the
classifier, the primary one; ``--space autoencoder``, the second: docs/maths.md §7.2)."""

from __future__ import annotations

import argparse
import time

import numpy as np

from repro.cli import emit
from repro.cli.data import add_dataset_args
from repro.core.vocab import FEATURE_SPACES, PRIMARY_SPACE
from repro.data import datasets, features, spaces


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("features", help="the feature spaces' networks: train, describe")
    fsub = p.add_subparsers(dest="features_command", required=True, metavar="ACTION")
    for name, helptext in (("train", "train (or load the cached) classifier"), ("info", "accuracy, dead units, speed")):
        q = fsub.add_parser(name, help=helptext)
        add_dataset_args(q)
        q.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, …")
        q.add_argument("--space", default=PRIMARY_SPACE, choices=FEATURE_SPACES,
                       help=f"which feature space's network (default: {PRIMARY_SPACE})")
        q.add_argument("--json", action="store_true", help="print one JSON object")
        if name == "train":
            q.add_argument("--retrain", action="store_true", help="ignore the cache and train again")
        q.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    ds = datasets.load(args.dataset, args.data_dir)
    fs = spaces.get(args.space).load_or_train(ds, device=args.device, retrain=getattr(args, "retrain", False))
    info = fs.info
    out = {"dataset": ds.name, "space": args.space}
    if args.space == PRIMARY_SPACE:
        out["classifier"] = str(features.classifier_path(ds, features.ClassifierConfig()))
    out.update({k: info[k] for k in ("test_accuracy", "val_accuracy", "test_mse", "val_mse", "knn_accuracy_test",
                                     "feature_dim", "dead_units_test") if k in info})
    out.update({"train_seconds": round(info["train_seconds"], 1), "device": str(fs.device)})
    if args.features_command == "info":
        x = ds.test.images
        fs.embed(x[:1000])  # warm-up
        start = time.perf_counter()
        feats = fs.embed(x)
        out["embed_images_per_s"] = round(len(x) / (time.perf_counter() - start))
        out["dead_units_test_recomputed"] = features.dead_units(np.asarray(feats))
    emit(out, args.json)
    return 0
