"""``repro train``: train one GAN into a run folder (resumes when the folder holds its checkpoint).

Every ``TrainConfig`` field is an option (``--lr-d 1e-4``, ``--g-widths 128,256``), built from
the dataclass so that the CLI and the API share one table of defaults; a field left out keeps
its default (per-objective fields: the objective's default, see ``repro.gan.train``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from repro.cli import emit, options
from repro.core.errors import ConfigError
from repro.gan import train as training


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a GAN (bce, js, kl, rkl f-GANs; λ-PR GAN)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", required=True, help="run folder (checkpoint.pt, curve.csv, result.json)")
    p.add_argument("--init-from", default=None, metavar="DIR", help="start from another run's checkpoint")
    p.add_argument("--device", default="cpu", help="cpu, cuda, auto")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--threads", type=int, default=0,
                   help="torch intra-op threads (0: torch's default). On a shared CPU 1 thread avoids "
                        "waiting at every parallel region for a descheduled sibling thread. Bitwise "
                        "reproducibility holds for a fixed thread count")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    options.add_options(p, training.TrainConfig)
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> training.TrainConfig:
    return training.TrainConfig.from_dict(options.given(args))


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {args.out}: is a file, not a run folder; give a folder (made if missing)")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    result = training.train(cfg, args.out, init_from=args.init_from, progress=not args.no_progress,
                            device=args.device)
    shown = {k: v for k, v in result.items() if k != "config"}
    if not args.json:
        shown["final"] = ", ".join(f"{k} {v:.4g}" for k, v in result["final"].items()) or "(no evaluation)"
    emit(shown if not args.json else result, args.json)
    return 0 if result["status"] == "ok" else 1
