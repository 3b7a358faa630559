"""``repro evaluate SAMPLES``: the metric suite of any samples, by the study's protocol.

SAMPLES is an ``.npz`` holding ``images`` (what ``repro sample`` writes: floats in [−1, 1]), a
folder of PNG images (8-bit greyscale 28 × 28), or a training run folder, sampled first with the
options of ``repro sample`` (``--method drs --acceptance 0.5``, …). The result (``repro.evaluate``)
is printed as aligned lines or, with ``--json``, as one JSON object.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from repro.cli import emit, options
from repro.cli.sample import add_sampler_options, params_from_args
from repro.core.errors import ConfigError
from repro.core.seeds import MAX_SEED
from repro.core.vocab import DATASETS, FEATURE_SPACES, PRIMARY_SPACE, SPLITS
from repro.evaluation import EvalSettings, evaluate
from repro.gan import refit, sampling
from repro.gan.checkpoint import CHECKPOINT
from repro.harness.spec import load_spec


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="FID, precision/recall, density/coverage, PRD, IS of any samples")
    p.add_argument("samples", help="an .npz with 'images', a folder of PNG images, or a training run folder")
    p.add_argument("--dataset", default="mnist", choices=DATASETS, help="the real data set (default: mnist)")
    p.add_argument("--reference", default="test", choices=SPLITS, help="the real split compared against")
    p.add_argument("--seed", type=int, default=0, help="the evaluation seed: the reference subset, PRD's k-means, "
                                                       "and a run folder's samples")
    p.add_argument("-n", type=int, default=EvalSettings().n_samples,
                   help="samples drawn from a run folder (default: the study's n_samples)")
    p.add_argument("--refit-steps", type=int, default=refit.RefitConfig().steps,
                   help="a run folder's ratio samplers: D updates of the refit")
    p.add_argument("--spec", default=None, help="score with this study's [evaluate] settings (k, PRD clusters and "
                                                "runs; default: EvalSettings' defaults)")
    p.add_argument("--feature-spaces", default=None, metavar="NAMES",
                   help=f"comma-separated feature spaces to score in, the first {PRIMARY_SPACE} (of "
                        f"{', '.join(FEATURE_SPACES)}; default: the spec's, else {PRIMARY_SPACE}); another space's "
                        "metrics are printed as <space>_<metric>")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_sampler_options(p)
    p.set_defaults(func=run)


def load_images(path: str | Path) -> np.ndarray:
    """The images of an ``.npz`` (key ``images``) or of a folder of PNG files (sorted by name)."""
    p = Path(path)
    if p.is_dir():
        files = sorted(p.glob("*.png"))
        if not files:
            raise ConfigError(f"{p}: no .png images in the folder")
        return np.stack([_png(f) for f in files])
    if p.suffix == ".npz":
        try:
            with np.load(p, allow_pickle=False) as blob:
                if "images" not in blob:
                    raise ConfigError(f"{p}: no 'images' array (it holds {', '.join(blob.files) or 'nothing'})")
                return blob["images"]
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{p}: not a readable .npz ({exc})") from None
    raise ConfigError(f"{p}: expected an .npz file, a folder of .png images or a training run folder")


def _png(path: Path) -> np.ndarray:
    """One 8-bit PNG as uint8 (28, 28); an RGB(A) image must be grey (equal channels)."""
    import matplotlib.image  # noqa: PLC0415 - only this reader needs matplotlib

    try:
        x = matplotlib.image.imread(path)
    except (OSError, ValueError, SyntaxError) as exc:
        raise ConfigError(f"{path}: not a readable PNG ({exc})") from None
    if x.ndim == 3:
        if not np.allclose(x[..., :3], x[..., :1]):
            raise ConfigError(f"{path}: a colour image; expected greyscale 28 × 28")
        x = x[..., 0]
    if x.shape != (28, 28):
        raise ConfigError(f"{path}: an image of {x.shape[1]} × {x.shape[0]} pixels; expected 28 × 28")
    return np.rint(x * 255.0).astype(np.uint8) if x.dtype != np.uint8 else x


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.seed < MAX_SEED:
        raise ConfigError(f"--seed {args.seed}: expected an integer in [0, 2^31)")
    path = Path(args.samples)
    if not path.exists():
        raise ConfigError(f"{path}: no such file or folder")
    given = options.given(args)
    if (path / CHECKPOINT).is_file():
        params = params_from_args(args)
        images = sampling.sample_from_run(path, args.n, params, args.seed,
                                          refit_cfg=refit.RefitConfig(steps=args.refit_steps))[0].numpy()
        source = {"run": str(path), "sampler": params.method, **{k: v for k, v in given.items() if k != "method"}}
    else:
        if given:
            raise ConfigError(f"--{next(iter(given)).replace('_', '-')} applies to a training run folder; "
                              f"{path} holds images")
        images, source = load_images(path), {"samples": str(path)}
    settings = load_spec(args.spec).evaluate if args.spec else None
    chosen = tuple(s.strip() for s in args.feature_spaces.split(",")) if args.feature_spaces is not None else None
    emit({**source, **evaluate(images, args.dataset, reference=args.reference, seed=args.seed, settings=settings,
                               feature_spaces=chosen)}, args.json)
    return 0
