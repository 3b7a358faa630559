"""``repro data info``: where a data set comes from, its checksum verdict and split sizes."""

from __future__ import annotations

import argparse

from repro.cli import emit
from repro.data import datasets


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="data sets: locate, verify, describe")
    dsub = p.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    info = dsub.add_parser("info", help="split sizes and the checksum verdict")
    add_dataset_args(info)
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(func=run_info)


def add_dataset_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", choices=datasets.DATASETS, default="mnist")
    p.add_argument("--data-dir", default=None,
                   help="folder with IDX files or mnist.pkl.gz (default: fetched MNIST / Debian's Fashion-MNIST)")


def run_info(args: argparse.Namespace) -> int:
    out = datasets.info(args.dataset, args.data_dir)
    emit(out, args.json)
    return 0 if str(out["checksum"]).startswith(("ok", "n/a")) else 2
