"""``repro train``: train one GAN into a run folder (resumes when the folder holds its checkpoint).

Every ``TrainConfig`` field is an option (``--lr-d 1e-4``, ``--g-widths 128,256``), built from
the dataclass so that the CLI and the API share one table of defaults; a field left out keeps
its default (per-objective fields: the objective's default, see ``repro.train``).
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any

import torch

from repro import train as training
from repro.cli import emit
from repro.vocab import DATASETS

# options with a short help text; every other field gets a generic one
_HELP = {
    "loss": "training objective",
    "lam": "λ of the λ-PR GAN (loss pr)",
    "aux": "the λ-PR discriminator's auxiliary divergence",
    "gen_form": "generator loss form: minimax | nonsaturating (f-GANs), primal (pr); default per objective",
    "epochs": "passes over the training split",
    "seed": "seed of initialisation, z, shuffling and dropout",
    "train_size": "use only the first N training images (0: all; for quick checks)",
    "eval_every": "epochs between curve evaluations (0: none)",
}
_CHOICES = {"loss": training.LOSSES, "aux": training.AUX_DIVERGENCES, "dataset": DATASETS,
            "arch": ("mlp", "dcgan")}


def _parser_for(hint: Any):
    """A string → value parser for a field's type hint (tuples comma-separated, 'none' for None)."""
    args = typing.get_args(hint)
    optional = type(None) in args
    base = next((a for a in args if a is not type(None)), hint) if optional or isinstance(hint, types.UnionType) else hint
    if typing.get_origin(base) is tuple:
        elem = typing.get_args(base)[0]

        def parse_tuple(text: str) -> tuple:
            return tuple(elem(x) for x in text.split(",") if x.strip())

        inner = parse_tuple
    elif base is bool:  # bool("false") is True: spell the values out
        def inner(text: str) -> bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError("expected true or false")
    else:
        inner = base

    def parse(text: str) -> Any:
        if optional and text.lower() in ("none", "auto", "default"):
            return None
        try:
            return inner(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from exc

    return parse


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
    hints = training.field_types()
    for f in dataclasses.fields(training.TrainConfig):
        opt = "--" + f.name.replace("_", "-")
        kwargs: dict[str, Any] = {"dest": f"cfg_{f.name}", "default": argparse.SUPPRESS,
                                  "help": _HELP.get(f.name, "TrainConfig." + f.name) + f" (default: {f.default})"}
        if f.name in _CHOICES:
            kwargs["choices"] = _CHOICES[f.name]
        else:
            kwargs["type"] = _parser_for(hints[f.name])
        p.add_argument(opt, **kwargs)
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> training.TrainConfig:
    given = {k[4:]: v for k, v in vars(args).items() if k.startswith("cfg_")}
    return training.TrainConfig.from_dict(given)


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    result = training.train(cfg, args.out, init_from=args.init_from, progress=not args.no_progress,
                            device=args.device)
    shown = {k: v for k, v in result.items() if k != "config"}
    if not args.json:
        shown["final"] = ", ".join(f"{k} {v:.4g}" for k, v in result["final"].items()) or "(no evaluation)"
    emit(shown if not args.json else result, args.json)
    return 0 if result["status"] == "ok" else 1
