"""GAN training: objectives, stabilisation, checkpoints, resume, divergence detection, curves.

One run = one ``TrainConfig`` trained into one folder::

    out_dir/config.json     the resolved configuration (+ init_from, provenance)
    out_dir/checkpoint.pt   the last good state (weights, EMA, optimisers, RNG, curve), atomic
    out_dir/curve.csv       FID / precision / recall / density / coverage vs the validation split
                            every ``eval_every`` epochs (row 0 = the untrained generator), wall times
    out_dir/result.json     status (ok | diverged), reason, final metrics, seconds

(the folder's files and reading them back: ``repro.gan.checkpoint``).

The configuration and its per-objective defaults: ``repro.gan.config``; the losses:
``repro.gan.losses``.

Reproducibility: parameters are initialised inside ``torch.random.fork_rng`` with the seed;
every later random draw (z, shuffling, dropout masks) comes from explicit ``torch.Generator``
objects whose states are checkpointed. Same config + seed → bitwise-identical weights on CPU,
and a run resumed from a checkpoint ends bitwise-identical to an uninterrupted one.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import io
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from repro import evaluation
from repro.core import versions
from repro.core.atomic import atomic_path, atomic_write_bytes, atomic_write_json
from repro.core.errors import ConfigError, DataError, ReproError
from repro.core.runtime import provenance, resolve_device
from repro.core.seeds import TRAIN_STREAMS, curve_latents, train_streams
from repro.data import datasets, features
from repro.gan import nets, seedstack
from repro.gan.checkpoint import (
    CHECKPOINT, CONFIG, CURVE, CURVE_COLUMNS, RESULT, generate, loaded_networks, networks, read_checkpoint,
    read_resumable,
)
from repro.gan.config import TrainConfig
from repro.gan.losses import d_loss, g_loss

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- one seed's run


class Diverged(Exception):
    """Raised by the checks; the run that raised it ends with status ``diverged``."""

@dataclass
class _Run:
    """One seed's training run between epochs: everything its checkpoint holds (its networks as
    one-seed stacks, ``repro.gan.nets``), and where it goes."""
    cfg: TrainConfig
    out: Path
    init_from: str | None
    weights: dict[str, dict[str, torch.Tensor] | None]  # generator, discriminator, generator_ema
    opt: dict[str, dict[str, Any]]  # opt_g, opt_d: torch optimiser state dicts
    rng: dict[str, torch.Tensor]  # z, shuffle, dropout: the states of the run's own generators
    epoch: int = 0  # epochs completed
    g_updates: int = 0
    seconds: float = 0.0  # wall time of the epochs (of the stack the run trained in)
    curve: list[dict[str, Any]] = field(default_factory=list)
    ema_warmup: bool = True  # False when fine-tuning: the inherited EMA is already a good average
    saved_epoch: int = 0  # the epoch of the last checkpoint written (a divergence rolls back to it)
    status: str = "ok"
    reason: str | None = None
    evaluator: Any = None  # the curve's _Evaluator, made when first needed


RNG_STREAMS = TRAIN_STREAMS


def _fresh(cfg: TrainConfig, out: Path, device: torch.device) -> _Run:
    """A run from scratch: parameters initialised from the seed (inside ``fork_rng``: the global
    RNG is neither read nor changed), three random streams of its own."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)  # parameter initialisation reads the global RNG
        G, D = networks(cfg)
    g = {k: v.to(device) for k, v in G.state_dict().items()}
    weights = {"generator": g, "discriminator": {k: v.to(device) for k, v in D.state_dict().items()},
               "generator_ema": {k: v.clone() for k, v in g.items()} if cfg.ema > 0 else None}
    rng = {name: torch.Generator().manual_seed(s).get_state() for name, s in train_streams(cfg.seed).items()}
    return _Run(cfg, out, None, weights, {"opt_g": {"state": {}}, "opt_d": {"state": {}}}, rng)


def _checkpoint(run: _Run) -> dict[str, Any]:
    return {"config": asdict(run.cfg), "code_version": versions.TRAINING, "epoch": run.epoch, "g_updates": run.g_updates,
            "seconds": run.seconds, **run.weights, **run.opt, "rng": run.rng, "curve": run.curve,
            "init_from": run.init_from}


def _resume(run: _Run, blob: dict[str, Any]) -> None:
    where = Path(run.out) / CHECKPOINT
    for generator in (blob["generator"], blob["generator_ema"] if run.cfg.ema > 0 else None):
        if generator is not None:
            loaded_networks(run.cfg, generator, blob["discriminator"], where)
    run.weights = {"generator": blob["generator"], "discriminator": blob["discriminator"],
                   "generator_ema": blob["generator_ema"] if run.cfg.ema > 0 else None}
    run.opt = {"opt_g": blob["opt_g"], "opt_d": blob["opt_d"]}
    run.rng = dict(blob["rng"])
    run.epoch, run.g_updates, run.seconds = blob["epoch"], blob["g_updates"], blob["seconds"]
    run.curve = list(blob["curve"])
    run.init_from = blob.get("init_from")
    run.ema_warmup = run.init_from is None


def _init_from(run: _Run, source: Path) -> None:
    """Start from another run's trained generator and its discriminator; optimisers and RNG
    start fresh. The trained generator is the source's EMA when it kept one: that is the model
    whose samples were evaluated (the raw MLP weights are much worse: P 0.36 / R 0.05 against
    0.71 / 0.26 for the EMA of a BCE run), so both G and its EMA start from it."""
    blob = read_checkpoint(source)
    trained = blob.get("generator_ema") or blob["generator"]
    try:
        loaded_networks(run.cfg, trained, blob["discriminator"], source)
    except DataError as exc:
        raise ConfigError(f"--init-from {source}: its networks do not match this configuration: {exc}") from None
    dev = next(iter(run.weights["generator"].values())).device
    g = {k: v.to(dev) for k, v in trained.items()}
    run.weights = {"generator": g, "discriminator": {k: v.to(dev) for k, v in blob["discriminator"].items()},
                   "generator_ema": {k: v.clone() for k, v in g.items()} if run.cfg.ema > 0 else None}
    run.ema_warmup = False


def _save(run: _Run) -> None:
    for name in ("generator", "discriminator"):
        if not all(bool(torch.isfinite(v).all()) for v in run.weights[name].values() if v.is_floating_point()):
            raise Diverged(f"non-finite {name} weights at the end of epoch {run.epoch}")
    with atomic_path(run.out / CHECKPOINT) as tmp:
        torch.save(_checkpoint(run), tmp)


def _write_curve(rows: list[dict[str, Any]], out: Path) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CURVE_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(out / CURVE, buf.getvalue().encode())


# --------------------------------------------------------------------------- evaluation


class _Evaluator:
    """The training curve's evaluation: ``repro.evaluation``'s protocol (its cheap metrics) on
    ``eval_samples`` images against the validation split (the test split stays unseen)."""
    def __init__(self, cfg: TrainConfig, device: torch.device) -> None:

        ds = datasets.load(cfg.dataset)
        self.fs = features.load_or_train(ds, device=device, progress=False)
        self.settings = evaluation.EvalSettings(n_samples=cfg.eval_samples, reference_split="val")
        self.real = evaluation.reference_subset(self.fs.real_features(ds, "val"), cfg.eval_samples, cfg.seed)
        self.n, self.z_dim, self.seed = cfg.eval_samples, cfg.z_dim, cfg.seed

    def __call__(self, G: torch.nn.Module) -> dict[str, float]:

        start = time.perf_counter()
        fake = generate(G, self.n, self.z_dim, torch.Generator().manual_seed(curve_latents(self.seed)))
        out, _ = evaluation.score(self.real, self.fs.embed(fake, value_range=(-1.0, 1.0)), self.settings,
                                  self.seed, full=False)
        out["eval_seconds"] = time.perf_counter() - start
        return out


def _single_generator(cfg: TrainConfig, state: dict[str, torch.Tensor]) -> nets.Single:
    """The evaluated generator of a one-seed state (the EMA when kept), with the usual interface."""
    with torch.random.fork_rng(devices=[]):
        G, _ = networks(cfg)
    G.load_state_dict(state)
    return nets.Single(G.to(next(iter(state.values())).device)).eval().requires_grad_(False)


def _evaluate(run: _Run, device: torch.device) -> dict[str, float]:
    run.evaluator = run.evaluator or _Evaluator(run.cfg, device)
    return run.evaluator(_single_generator(run.cfg, run.weights["generator_ema"] or run.weights["generator"]))


# --------------------------------------------------------------------------- a stack of runs


def _adam(params: Any, lr: float, betas: tuple[float, float]) -> torch.optim.Optimizer:
    """Adam, fused where the device has the kernel (one pass over each tensor for the whole update;
    ~7 % of a CPU step of the MLP against the foreach form's ~16 %, profiled), else foreach. Elementwise either way,
    so a stack's update is each seed's."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    except (RuntimeError, ValueError):  # no fused kernel for this device or dtype
        return torch.optim.Adam(params, lr=lr, betas=betas, foreach=True)


@dataclass
class _Stack:
    """The runs of one epoch as one stacked model: seed i of every tensor is ``runs[i]``'s."""
    runs: list[_Run]
    G: torch.nn.Module
    D: torch.nn.Module
    G_ema: torch.nn.Module | None
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    gens: dict[str, list[torch.Generator]]  # stream → one generator per seed
    g_updates: int
    ema_warmup: bool


def _stack(runs: list[_Run], cfg: TrainConfig, device: torch.device) -> _Stack:
    with torch.random.fork_rng(devices=[]):
        G, D = networks(cfg, seeds=len(runs))
    G.load_state_dict(seedstack.stack_states([r.weights["generator"] for r in runs]))
    D.load_state_dict(seedstack.stack_states([r.weights["discriminator"] for r in runs]))
    G, D = G.to(device), D.to(device)
    G_ema = None
    if cfg.ema > 0:
        G_ema = copy.deepcopy(G).eval().requires_grad_(False)
        G_ema.load_state_dict(seedstack.stack_states([r.weights["generator_ema"] for r in runs]))
    opt_g, opt_d = _adam(G.parameters(), cfg.lr_g, cfg.betas_g), _adam(D.parameters(), cfg.lr_d, cfg.betas_d)
    for opt, name in ((opt_g, "opt_g"), (opt_d, "opt_d")):
        state = seedstack.stack_optimizer([r.opt[name] for r in runs])
        if state is not None:
            opt.load_state_dict(state)
    gens = {k: [torch.Generator().set_state(r.rng[k]) for r in runs] for k in RNG_STREAMS}
    if len({(r.g_updates, r.ema_warmup) for r in runs}) != 1:
        raise ValueError("a stack trains runs at the same step of one recipe")
    return _Stack(runs, G, D, G_ema, opt_g, opt_d, gens, runs[0].g_updates, runs[0].ema_warmup)


def _unstack(st: _Stack) -> None:
    """Write the stack's state back into its runs (those still training: a diverged run keeps the
    state of its last good epoch)."""
    g, d = st.G.state_dict(), st.D.state_dict()
    e = st.G_ema.state_dict() if st.G_ema is not None else None
    og, od = st.opt_g.state_dict(), st.opt_d.state_dict()
    for i, run in enumerate(st.runs):
        if run.status != "ok":
            continue
        run.weights = {"generator": seedstack.unstack_state(g, i), "discriminator": seedstack.unstack_state(d, i),
                       "generator_ema": seedstack.unstack_state(e, i) if e is not None else None}
        run.opt = {"opt_g": seedstack.unstack_optimizer(og, i), "opt_d": seedstack.unstack_optimizer(od, i)}
        run.rng = {k: st.gens[k][i].get_state() for k in RNG_STREAMS}
        run.g_updates = st.g_updates


# --------------------------------------------------------------------------- the loop


def _ema_update(G_ema: torch.nn.Module, G: torch.nn.Module, decay: float, t: int | None) -> None:
    """θ_ema ← d θ_ema + (1 − d) θ with d = min(decay, (1 + t)/(10 + t)) (fast start from random
    weights), or d = decay when t is None (fine-tuning: the EMA starts from a trained average,
    which a fast start would throw away for the raw weights); buffers copied."""
    d = decay if t is None else min(decay, (1 + t) / (10 + t))
    with torch.no_grad():
        torch._foreach_lerp_(list(G_ema.parameters()), list(G.parameters()), 1.0 - d)
        for b_ema, b in zip(G_ema.buffers(), G.buffers(), strict=True):
            b_ema.copy_(b)


def _check(loss_d: float | torch.Tensor, loss_g: float | torch.Tensor, v_real: torch.Tensor, v_fake: torch.Tensor,
           cfg: TrainConfig, where: str) -> None:
    """Raise ``Diverged`` on a non-finite or exploded mean loss, or a collapsed/exploded
    discriminator (one seed's numbers). A loss beyond ``max_abs_score`` catches the χ² dual
    running away (3e4 in its first epoch from scratch) while its scores stayed below the bound."""
    ld, lg = float(loss_d), float(loss_g)
    if not (math.isfinite(ld) and math.isfinite(lg)):
        raise Diverged(f"non-finite loss ({where}): D {ld}, G {lg}")
    if max(abs(ld), abs(lg)) > cfg.max_abs_score:
        raise Diverged(f"loss exploded ({where}): D {ld:.3g}, G {lg:.3g} beyond ±{cfg.max_abs_score:g}")
    v = torch.cat([v_real.detach(), v_fake.detach()])
    vmax = float(v.abs().max())
    if not math.isfinite(vmax) or vmax > cfg.max_abs_score:
        raise Diverged(f"discriminator exploded ({where}): max |v| = {vmax:.3g} > {cfg.max_abs_score:g}")
    if float(v.std()) < 1e-7:
        raise Diverged(f"discriminator collapsed to a constant output ({where}): v = {float(v.mean()):.4g}")


def _latents(st: _Stack, cfg: TrainConfig, device: torch.device) -> torch.Tensor:
    """z (S, B, z_dim), seed i's from its own stream."""
    return torch.stack([torch.randn(cfg.batch_size, cfg.z_dim, generator=g) for g in st.gens["z"]]).to(device)


def _step_optimiser(opt: torch.optim.Optimizer, params: Any, loss: torch.Tensor, grad_clip: float) -> None:
    """One update of every seed: the sum of the seeds' losses has each seed's gradient on its slice."""
    opt.zero_grad(set_to_none=True)
    loss.sum().backward()
    if grad_clip > 0:
        seedstack.clip_grad_norm_per_seed(list(params), grad_clip)
    opt.step()


def _train_epoch(st: _Stack, cfg: TrainConfig, x_train: torch.Tensor, device: torch.device,
                 progress: bool) -> list[dict[str, float]]:
    """One pass of every seed of the stack over the training set (each in its own order); returns
    each seed's mean losses. A seed that fails a check is marked diverged and rides along (its
    slice touches no other seed's); its state is not written back (``_unstack``)."""
    G, D, B, S = st.G, st.D, cfg.batch_size, len(st.runs)
    steps = len(x_train) // B
    orders = torch.stack([torch.randperm(len(x_train), generator=g) for g in st.gens["shuffle"]]).to(x_train.device)
    sum_d = torch.zeros(S, device=device)
    sum_g = torch.zeros(S, device=device)
    n_g = 0
    G.train()
    D.train()
    epoch = st.runs[0].epoch
    bar = tqdm(range(steps), desc=f"{cfg.loss} epoch {epoch + 1}/{cfg.epochs} ({S} seed{'s' if S > 1 else ''})",
               disable=True if not progress else None, leave=False)  # None: quiet when stderr is not a terminal
    for i in bar:
        g_follows = (i + 1) % cfg.d_steps == 0
        # discriminator step on a real batch and a fresh fake batch (one forward of 2B images per
        # seed); the fake batch keeps its graph when a G step follows, which reuses it
        xb = x_train[orders[:, i * B : (i + 1) * B]].to(device)  # (S, B, 1, 28, 28)
        with torch.set_grad_enabled(g_follows):
            fake = G(_latents(st, cfg, device))  # (S, B, 1, 28, 28)
        v = D(torch.cat([xb, fake.detach()], 1), st.gens["dropout"])  # (S, 2B)
        v_real, v_fake = v[:, :B], v[:, B:]
        loss_d = d_loss(v_real, v_fake, cfg)  # (S,)
        _step_optimiser(st.opt_d, D.parameters(), loss_d, cfg.grad_clip)
        sum_d += loss_d.detach()

        # generator step(s) after every d_steps discriminator steps (D frozen)
        if g_follows:
            D.requires_grad_(False)
            for j in range(cfg.g_steps):
                if j > 0:
                    fake = G(_latents(st, cfg, device))
                loss_g = g_loss(D(fake, st.gens["dropout"]), cfg, epoch)  # (S,)
                _step_optimiser(st.opt_g, G.parameters(), loss_g, cfg.grad_clip)
                if st.G_ema is not None:
                    _ema_update(st.G_ema, G, cfg.ema, st.g_updates if st.ema_warmup else None)
                st.g_updates += 1
                sum_g += loss_g.detach()
                n_g += 1
            D.requires_grad_(True)

        # divergence checks every check_every steps (the only host syncs in the loop)
        if (i + 1) % cfg.check_every == 0 or i + 1 == steps:
            mean_d, mean_g = (sum_d / (i + 1)).tolist(), (sum_g / max(n_g, 1)).tolist()
            for s, run in enumerate(st.runs):
                if run.status == "ok":
                    try:
                        _check(mean_d[s], mean_g[s], v_real[s], v_fake[s], cfg, f"epoch {epoch + 1}, step {i + 1}")
                    except Diverged as exc:
                        run.status, run.reason = "diverged", str(exc)
            if progress:
                bar.set_postfix(loss_d=f"{mean_d[0]:.3f}", loss_g=f"{mean_g[0]:.3f}")
    bar.close()
    return [{"loss_d": float(sum_d[s]) / max(steps, 1), "loss_g": float(sum_g[s]) / max(n_g, 1)} for s in range(S)]


def train_images(cfg: TrainConfig) -> torch.Tensor:
    """The training split once as float32 (N, 1, 28, 28) in [−1, 1] (``datasets.to_gan_range``)."""
    split = datasets.load(cfg.dataset).train
    x = datasets.to_gan_range(split.images_float(cfg.train_size or None))
    return torch.from_numpy(x).unsqueeze(1)


def _same_run(saved: dict[str, Any], cfg: TrainConfig) -> bool:
    """A checkpoint belongs to this run if the configs agree on everything but ``epochs``."""
    a = {k: v for k, v in asdict(TrainConfig.from_dict(saved)).items() if k != "epochs"}
    b = {k: v for k, v in asdict(cfg).items() if k != "epochs"}
    return a == b


def train(cfg: TrainConfig, out_dir: str | Path, *, init_from: str | Path | None = None,
          progress: bool = True, device: str | torch.device | None = "cpu") -> dict[str, Any]:
    """Train ``cfg`` into ``out_dir``; resume if it holds a checkpoint of the same config.

    Returns (and writes to result.json) ``{"status": "ok" | "diverged", "reason", "epochs_done",
    "seconds", "final": {fid, precision, recall, density, coverage}, "initial_fid", …}``.
    Divergence (non-finite loss, collapsed or exploded D) ends the run with the last good
    checkpoint kept; it raises nothing. A mismatched checkpoint or bad config raises ConfigError.
    One seed is a stack of one (``train_group``): the same numbers as in any stack.
    """
    result = train_group([cfg], [out_dir], init_froms=[init_from], progress=progress, device=device)[0]
    assert isinstance(result, dict)  # noqa: S101 - isolate=False raises instead of returning an error
    return result


def train_group(cfgs: list[TrainConfig], out_dirs: list[str | Path], *,
                init_froms: list[str | Path | None] | None = None, progress: bool = True,
                device: str | torch.device | None = "cpu", isolate: bool = False) -> list[dict[str, Any] | Exception]:
    """Train several seeds of one configuration together, as one stacked model, each into its own
    folder (``out_dirs[i]``, fine-tuning ``init_froms[i]`` if given), with ``train``'s results.

    Each seed keeps its own initialisation, data order, latents, dropout masks, optimiser state,
    EMA, checkpoint, curve and result, and its numbers do not depend on the other seeds of the
    group. Runs that resume at different epochs train apart until they meet. With ``isolate``, a
    run that cannot start (a foreign or unreadable checkpoint) gets its exception in the returned
    list and the others train; without it, the exception is raised before anything trains.
    """
    dev = resolve_device(device)
    resolved = _group_configs(cfgs, out_dirs)
    runs: list[_Run] = []
    results: list[dict[str, Any] | Exception] = []
    for cfg, out, init in zip(resolved, out_dirs, init_froms or [None] * len(cfgs), strict=True):
        try:
            runs.append(_start(cfg, Path(out), dev, init))
            results.append({})
        except ReproError as exc:
            if not isolate:
                raise
            results.append(exc)
    if runs:
        _run_epochs(runs, resolved[0], dev, progress)
    done, seeds = iter(runs), [r.cfg.seed for r in runs]
    return [_finish(next(done), seeds) if isinstance(r, dict) else r for r in results]


def _group_configs(cfgs: list[TrainConfig], out_dirs: list[str | Path]) -> list[TrainConfig]:
    """The resolved configurations of a group: one recipe, distinct seeds and folders."""
    if not cfgs or len(cfgs) != len(out_dirs):
        raise ConfigError("a training group needs one output folder per configuration (and at least one)")
    resolved = [c.resolve() for c in cfgs]
    base = dataclasses.replace(resolved[0], seed=0)
    for c in resolved[1:]:
        other = dataclasses.replace(c, seed=0)
        if other != base:
            diff = next(k for k in asdict(base) if getattr(base, k) != getattr(other, k))
            raise ConfigError(f"a training group trains seeds of one configuration; these differ in {diff!r}")
    if len({c.seed for c in resolved}) != len(resolved) or len({str(Path(o).resolve()) for o in out_dirs}) != len(out_dirs):
        raise ConfigError("a training group needs distinct seeds and distinct output folders")
    return resolved


def _start(cfg: TrainConfig, out: Path, dev: torch.device, init_from: str | Path | None) -> _Run:
    """Resume from ``out``'s checkpoint, or start from ``init_from``'s weights, or from scratch;
    write config.json."""
    out.mkdir(parents=True, exist_ok=True)
    run = _fresh(cfg, out, dev)
    run.init_from = str(init_from) if init_from is not None else None
    ckpt = out / CHECKPOINT
    if ckpt.is_file():
        blob = read_resumable(out, dev)
        if not _same_run(blob["config"], cfg):
            raise ConfigError(f"{out} holds a checkpoint of another configuration; use another --out "
                              f"(saved key {TrainConfig.from_dict(blob['config']).key()}, this {cfg.key()})")
        if blob["epoch"] > cfg.epochs:
            raise ConfigError(f"{out} holds a run of {blob['epoch']} epochs, more than the {cfg.epochs} asked for")
        _resume(run, blob)
        log.info("resuming %s at epoch %d", out, run.epoch)
    elif init_from is not None:
        _init_from(run, Path(init_from))
    elif cfg.loss == "pr":
        log.warning("λ-PR from scratch: its defaults are a fine-tuning recipe (pass init_from, a trained "
                    "BCE run); from scratch G gets no gradient while r ≈ 1 at λ ≥ 1 (docs/maths.md §4)")
    run.saved_epoch = run.epoch
    atomic_write_json(out / CONFIG, {"config": asdict(cfg), "key": cfg.key(), "init_from": run.init_from,
                                     "provenance": provenance(dev)})
    return run


def _run_epochs(runs: list[_Run], cfg: TrainConfig, dev: torch.device, progress: bool) -> None:
    """Each run's curve at epoch 0, then epochs until every run is done or diverged: the runs at
    the lowest epoch train one epoch as one stack (all of them, unless they resumed apart)."""
    for run in runs:
        if cfg.eval_every and not run.curve:
            run.curve.append({"epoch": 0, "g_steps": 0, "epoch_seconds": 0.0, "total_seconds": run.seconds,
                              **_evaluate(run, dev)})
            _write_curve(run.curve, run.out)
    x_train = train_images(cfg).to(dev)
    if len(x_train) < cfg.batch_size:
        raise ConfigError(f"train_size {len(x_train)} is smaller than batch_size {cfg.batch_size}")
    for run in runs:
        if not (run.out / CHECKPOINT).is_file():  # epoch 0: a run that diverges in its first epoch still has one
            _save(run)
    while active := [r for r in runs if r.status == "ok" and r.epoch < cfg.epochs]:
        epoch = min(r.epoch for r in active)
        _run_epoch([r for r in active if r.epoch == epoch], cfg, x_train, dev, progress)


def _run_epoch(runs: list[_Run], cfg: TrainConfig, x_train: torch.Tensor, dev: torch.device, progress: bool) -> None:
    """One epoch of ``runs`` as one stack; then, per run, its curve row, evaluation every
    ``eval_every`` and checkpoint every ``checkpoint_every`` (or its roll-back if it diverged)."""
    st = _stack(runs, cfg, dev)
    start, cpu_start = time.perf_counter(), time.process_time()
    losses = _train_epoch(st, cfg, x_train, dev, progress)
    _unstack(st)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    for run, loss in zip(runs, losses, strict=True):
        if run.status == "ok":
            run.epoch += 1
            run.seconds += wall
            row: dict[str, Any] = {"epoch": run.epoch, "g_steps": run.g_updates, "epoch_seconds": wall,
                                   "epoch_cpu_seconds": cpu, "seeds_in_stack": len(runs),
                                   "total_seconds": run.seconds, **loss}
            if cfg.eval_every and (run.epoch % cfg.eval_every == 0 or run.epoch == cfg.epochs):
                row.update(_evaluate(run, dev))
            log.info("%s epoch %d: %s", run.out.name, run.epoch,
                     {k: round(v, 4) for k, v in row.items() if isinstance(v, float)})
            run.curve.append(row)
            if run.epoch % cfg.checkpoint_every == 0 or run.epoch == cfg.epochs:
                try:
                    _save(run)
                except Diverged as exc:
                    run.status, run.reason = "diverged", str(exc)
        if run.status == "ok":
            if run.epoch % cfg.checkpoint_every == 0 or run.epoch == cfg.epochs:
                run.saved_epoch = run.epoch
                _write_curve(run.curve, run.out)
        else:
            _roll_back(run)


def _roll_back(run: _Run) -> None:
    """A diverged run ends at its last checkpoint; its curve gets the failed epoch without metrics."""
    log.warning("%s: diverged: %s", run.out, run.reason)
    run.curve = [r for r in run.curve if r["epoch"] <= run.saved_epoch]
    run.epoch = run.saved_epoch
    run.curve.append({"epoch": run.saved_epoch + 1, "g_steps": run.g_updates})  # the failed epoch, no metrics
    _write_curve(run.curve, run.out)


def _finish(run: _Run, stack: list[int]) -> dict[str, Any]:
    """The run's result, written to result.json (``stack``: the seeds it trained with)."""
    ckpt = run.out / CHECKPOINT
    evaluated = [r for r in run.curve if "fid" in r]
    result: dict[str, Any] = {
        "status": run.status, "reason": run.reason, "run_dir": str(run.out), "key": run.cfg.key(),
        "init_from": run.init_from,
        "epochs_done": run.epoch,  # = the checkpoint's epoch when diverged
        "seconds": run.seconds,
        "g_steps": run.g_updates,
        "final": {k: evaluated[-1][k] for k in ("fid", "precision", "recall", "density", "coverage")} if evaluated else {},
        "initial_fid": evaluated[0]["fid"] if evaluated else None,
        "checkpoint": str(ckpt) if ckpt.is_file() else None,
        "config": asdict(run.cfg),
        "stack": stack,
    }
    atomic_write_json(run.out / RESULT, result)
    return result


# --------------------------------------------------------------------------- loading


__all__ = ["train", "train_group", "train_images"]
