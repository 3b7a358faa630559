"""A study's cells: the content-hashed units of work a spec expands into (features, train, evaluate, ceiling), in dependency order."""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from typing import Any

from repro.core import versions
from repro.core.runtime import stable_hash
from repro.data import spaces
from repro.data.features import ClassifierConfig
from repro.evaluation import EvalSettings
from repro.gan.config import TrainConfig
from repro.harness.spec import EVAL_SEED_STRIDE, Objective, Spec, parent_of
from repro.samplers import SamplingParams


# --------------------------------------------------------------------------- cells


@dataclass(frozen=True)
class Cell:
    """One unit of work. ``config`` is JSON-able and fully resolved; ``labels`` feed the tidy table."""
    stage: str
    config: dict[str, Any]
    deps: tuple[str, ...] = ()
    labels: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return stable_hash({"cell": self.config, "versions": versions.of_stage(self.stage)})

    @property
    def family(self) -> str:
        return stable_hash({"cell": self.config})


def expand(spec: Spec) -> list[Cell]:
    """The study's grid in dependency order: features, then train, then evaluate cells."""
    feat, *others = _features_cells(spec)
    spaces_ids = tuple(c.id for c in others)
    cells = [feat, *others]
    trains: dict[tuple[int, float | None, int], Cell] = {}  # (objective's index, λ, seed) → its cell
    # an objective comes after the one it fine-tunes from (bce -> js -> kl works), so that its
    # parent's ids exist when referenced
    index = {id(o): i for i, o in enumerate(spec.objectives)}

    def depth(o: Objective) -> int:
        parent = parent_of(spec.objectives, o)
        return 0 if parent is None else 1 + depth(parent)

    for obj in sorted(spec.objectives, key=depth):
        parent_obj = parent_of(spec.objectives, obj)
        for lam in obj.lams:
            for seed in spec.seeds:
                over = {**spec.train, **obj.train, "loss": obj.loss, "dataset": spec.dataset, "seed": seed}
                if lam is not None:
                    over["lam"] = lam
                cfg = TrainConfig.from_dict(over).resolve()
                deps = [feat.id]
                init = None
                if parent_obj is not None:
                    parent = trains[(index[id(parent_obj)], parent_obj.lams[0], seed)]
                    init = parent.id
                    deps.append(parent.id)
                conf = {"stage": "train", "train": _jsonable(asdict(cfg)), "init_from": init}
                cell = Cell("train", conf, tuple(deps), {
                    "dataset": spec.dataset, "objective": obj.loss, "lam": lam, "aux": cfg.aux if obj.loss == "pr" else None,
                    "gen_form": cfg.gen_form, "critic": cfg.critic, "train_seed": seed, "init_from": obj.init_from,
                    "variant": obj.variant, "protocol": obj.protocol, "epochs": cfg.epochs})
                trains[(index[id(obj)], lam, seed)] = cell
                cells.append(cell)
    seen: set[str] = set()
    # model-minor order: consecutive cells belong to different models, so that parallel workers
    # refit different models' discriminators (repro.gan.refit) instead of waiting on one lock
    grid = [(block, params) for block in spec.blocks for params in block.grid()]
    for (block, params), j, tcell in itertools.product(grid, range(spec.evaluate.eval_seeds), trains.values()):
        if not block.applies_to(tcell.labels["objective"], tcell.labels["variant"], tcell.labels["protocol"]):
            continue
        # evaluation seed j of a model: its own generated sample and real reference subset;
        # j = 0 is the training seed, so a one-evaluation study keeps its historical seeds
        eval_seed = tcell.labels["train_seed"] + EVAL_SEED_STRIDE * j
        cell = _evaluate_cell(SamplingParams.from_dict(params), tcell, feat, eval_seed, spec.evaluate, spaces_ids)
        if cell.id not in seen:  # blocks may overlap (e.g. σ = 1 in two of them)
            seen.add(cell.id)
            cells.append(cell)
    eval_seeds = sorted({c.config["eval_seed"] for c in cells if c.stage == "evaluate"})
    cells += [_ceiling_cell(spec.dataset, feat, s, spec.evaluate, spaces_ids) for s in eval_seeds]
    return cells


def _features_cells(spec: Spec) -> list[Cell]:
    """The classifier's features cell, then one for each other feature space the evaluations are
    scored in (repro.data.spaces), each after the classifier's: it trains on two threads, so the
    two never share (and oversubscribe) the cores."""
    feat = Cell("features", {"stage": "features", "dataset": spec.dataset, "classifier": asdict(ClassifierConfig())},
                labels={"dataset": spec.dataset})
    return [feat, *(Cell("features", {"stage": "features", "dataset": spec.dataset, "space": name,
                                      name: spaces.default_config(name), "versions": {name: spaces.get(name).version}},
                         (feat.id,), labels={"dataset": spec.dataset, "space": name})
                    for name in spec.evaluate.feature_spaces[1:])]


def is_ceiling(cell: Cell) -> bool:
    """A ceiling cell scores held-out real images against the reference (repro.evaluation)."""
    return cell.stage == "evaluate" and "ceiling" in cell.config


def _ceiling_cell(dataset: str, feat: Cell, eval_seed: int, settings: EvalSettings,
                  spaces_ids: tuple[str, ...] = ()) -> Cell:
    """Held-out real images in place of a model's samples, one per evaluation seed of the
    study: the best each metric can be in this feature space (the real-versus-real row)."""
    conf = {"stage": "evaluate", "ceiling": "held-out real", "dataset": dataset, "features_id": feat.id,
            "eval_seed": eval_seed, "evaluate": asdict(settings), "versions": versions.evaluation(False)}
    return Cell("evaluate", conf, (feat.id, *spaces_ids), {"dataset": dataset, "eval_seed": eval_seed})


def _evaluate_cell(sp: Any, tcell: Cell, feat: Cell, eval_seed: int, settings: EvalSettings,
                   spaces_ids: tuple[str, ...] = ()) -> Cell:
    """One model × sampler setting × evaluation seed; its labels are the tidy table's key columns
    (the sampler's from its registry entry: ``SamplingParams.labels``)."""
    conf = {"stage": "evaluate", "train_id": tcell.id, "features_id": feat.id,
            "sampling": _jsonable(sp.hashed_dict()), "eval_seed": eval_seed, "evaluate": asdict(settings),
            "versions": versions.evaluation(sp.scored)}
    return Cell("evaluate", conf, (feat.id, *spaces_ids, tcell.id), {
        **tcell.labels, "train_id": tcell.id, "eval_seed": eval_seed, **sp.labels()})


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}
