"""``repro sample``: draw samples from a trained run, with truncation and DRS / OBRS.

The .npz holds ``images`` (n, …) float32 as the generator produced them (MNIST: (n, 1, 28, 28)
in [-1, 1]), ``params`` and ``stats`` (JSON strings). With ``--json`` the last line printed is
one JSON object holding the stats.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from pathlib import Path

import numpy as np

from repro import samplers
from repro.cli import emit, options
from repro.core.atomic import atomic_write
from repro.core.errors import ConfigError
from repro.core.seeds import MAX_SEED
from repro.data import grids
from repro.gan import refit, sampling
from repro.samplers import DEFAULT_BATCH_SIZE, SamplingParams, option_classes


def add_sampler_options(p: argparse.ArgumentParser) -> None:
    """--method, --sigma, --psi, then every registered sampler's settings (--acceptance, --budget, …)."""
    p.add_argument("--method", dest=options.PREFIX + "method", default=argparse.SUPPRESS, choices=list(samplers.REGISTRY),
                   help="the sampler (default: none, the plain sampler)")
    seen: set[str] = {"settings", "method"}  # an option shared by two samplers (budget) is added once
    for cls in option_classes():
        options.add_options(p, cls, skip=tuple(seen))
        seen.update(f.name for f in dataclasses.fields(cls))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="sample a trained GAN: σ/ψ truncation, DRS, OBRS")
    p.add_argument("--ckpt", required=True, help="training run folder (repro.gan.checkpoint.load_trained)")
    p.add_argument("-n", type=int, required=True, help="number of samples")
    p.add_argument("--out", required=True, help="output .npz (written atomically)")
    p.add_argument("--grid", default=None, help="PNG of the first 64 samples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--refit-steps", type=int, default=refit.RefitConfig().steps,
                   help="D updates of the refit against the sampled generator")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    p.add_argument("--device", default=None, help="cpu, cuda, … (default: where the run loads)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_sampler_options(p)
    p.set_defaults(func=run)


def params_from_args(args: argparse.Namespace) -> SamplingParams:
    """The SamplingParams of the command line; as in a spec block, another sampler's option is an error."""
    given = options.given(args)
    method = given.get("method", SamplingParams().method)
    if method in samplers.REGISTRY:
        own = {f.name for f in dataclasses.fields(samplers.get(method).config)} | {"method", "sigma", "psi"}
        for key in sorted(set(given) - own):
            owners = " or ".join(samplers.registry.owners(key))
            raise ConfigError(f"--{key.replace('_', '-')} applies to --method {owners}, not {method}")
    for name in ("seed", "refit_steps"):
        if not 0 <= getattr(args, name) < MAX_SEED:
            raise ConfigError(f"--{name.replace('_', '-')} {getattr(args, name)}: expected an integer in [0, 2^31)")
    return SamplingParams.from_dict(given)


def save_npz(path: str | Path, images: np.ndarray, params: SamplingParams, stats: dict) -> None:
    arrays = {
        "images": images,
        "params": np.array(json.dumps(params.to_dict(), sort_keys=True)),
        "stats": np.array(json.dumps(stats, sort_keys=True, default=str)),
    }
    atomic_write(path, lambda fh: np.savez(fh, **arrays))


def _check_writable(path: str | None, option: str) -> None:
    """Refuse an output path that cannot be written before any work is done."""
    if path is None:
        return
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise ConfigError(f"{option} {path}: is a folder; give a file name")
    if p.exists() and not p.is_file():
        raise ConfigError(f"{option} {path}: is not a regular file (a device, a FIFO or a socket); "
                          "give the name of a file to write")
    if not parent.is_dir():
        raise ConfigError(f"{option} {path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {path}: the folder {parent} is not writable")


def run(args: argparse.Namespace) -> int:
    params = params_from_args(args)
    _check_writable(args.out, "--out")
    _check_writable(args.grid, "--grid")
    if args.grid and Path(args.grid).resolve() == Path(args.out).resolve():
        raise ConfigError(f"--out and --grid name the same file ({args.out}); the grid would replace the samples")
    images, stats = sampling.sample_from_run(
        args.ckpt, args.n, params, args.seed, device=args.device, batch_size=args.batch_size,
        refit_cfg=refit.RefitConfig(steps=args.refit_steps),
    )
    arr = images.numpy()
    save_npz(args.out, arr, params, stats)
    out = dict(stats, out=str(args.out))
    if args.grid:
        try:
            grids.save_grid(args.grid, arr[:64])
        except OSError as exc:  # both outputs or neither: the .npz is not left behind alone
            Path(args.out).unlink(missing_ok=True)
            raise ConfigError(f"--grid {args.grid}: cannot be written ({exc.strerror or exc}); "
                              f"{args.out} was not kept") from None
        out["grid"] = str(args.grid)
    emit(out, args.json)
    return 0
