"""Study specs: a TOML file → a validated ``Spec`` → the grid of content-hashed cells.

A spec declares the data set, the objectives with their own sub-grids (λ for ``pr``), the
training settings, the seeds, and evaluation blocks (each a product of tuning and sampler
settings; the study takes the union of its blocks). Validation is complete before anything
runs: every error names the field by its dotted path and says what is allowed.

Example (see ``study/*.toml``)::

    [study]
    name = "default"
    dataset = "mnist"
    seeds = [0, 1, 2]

    [train]                      # TrainConfig fields shared by every objective
    epochs = 4

    [[objectives]]
    loss = "pr"
    lam = [0.5, 2.0]
    train = { aux = "chi2" }     # per-objective TrainConfig overrides

    [evaluate]
    n_samples = 5000

    [[evaluate.blocks]]
    sampler = "none"
    sigma = [0.5, 1.0, 2.0]

A cell is one unit of work: ``features`` (the classifier, once per data set), ``train`` (one
model) or ``evaluate`` (one model × tuning × sampler × evaluation seed). Its id is a hash of
its fully resolved configuration (defaults included) and the versions of the components its
stage runs (``repro.core.versions``); its ``family`` is the same hash without the versions, which
tells a stale result apart.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from repro import samplers
from repro.analysis.quality import QualityBar, bar_for
from repro.core import config
from repro.core.errors import ConfigError
from repro.core.runtime import stable_hash
from repro.core.vocab import EXECUTORS, PROTOCOLS, STACK_SEEDS, STAGES
from repro.data.datasets import DATASETS
from repro.evaluation import EvalSettings
from repro.gan.config import LOSSES, TrainConfig
from repro.harness.executors import Resources, SlurmSettings
from repro.samplers import SamplingParams


class SpecError(ConfigError):
    """A malformed spec: the message names the field (dotted path) and what is allowed."""

_MISSING = object()
VARIANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,39}")
STUDY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")  # never ".", "..", a path, or empty
MAX_CELLS = 100_000  # a larger grid is refused unless asked for (--max-cells): paper.toml has ~3,800
EVAL_SEED_STRIDE = 1_000_003  # evaluation seed j of training seed s is s + j · stride (distinct for s < stride)


# --------------------------------------------------------------------------- small typed readers


_type_name, _is_int, _is_num = config.type_name, config.is_int, config.is_number  # the loader's own


class _Table:
    """Reads keys from one TOML table, remembering which were read, to reject the rest."""
    def __init__(self, raw: Any, path: str) -> None:
        if not isinstance(raw, dict):
            raise SpecError(f"{path}: expected a table, got {_type_name(raw)}")
        self.raw, self.path, self.seen = raw, path, set()

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str, default: Any = _MISSING) -> Any:
        self.seen.add(key)
        if key not in self.raw:
            if default is _MISSING:
                raise SpecError(f"{self.at(key)}: required field is missing")
            return default
        return self.raw[key]

    def str(self, key: str, default: Any = _MISSING, choices: tuple[str, ...] | None = None) -> str:
        v = self.get(key, default)
        if not isinstance(v, str):
            raise SpecError(f"{self.at(key)}: expected a string, got {_type_name(v)} {v!r}")
        if choices is not None and v not in choices:
            raise SpecError(f"{self.at(key)}: {v!r} is not allowed; expected one of {', '.join(choices)}")
        return v

    def int(self, key: str, default: Any = _MISSING, minimum: int | None = None, maximum: int | None = None) -> int:
        v = self.get(key, default)
        if not _is_int(v):
            raise SpecError(f"{self.at(key)}: expected an integer, got {_type_name(v)} {v!r}")
        if minimum is not None and v < minimum:
            raise SpecError(f"{self.at(key)}: {v} is too small; expected an integer ≥ {minimum}")
        if maximum is not None and v > maximum:
            raise SpecError(f"{self.at(key)}: {v} is too large; expected at most {maximum:,} (what this machine holds)")
        return v

    def bool(self, key: str, default: Any = _MISSING) -> bool:
        v = self.get(key, default)
        if not isinstance(v, bool):
            raise SpecError(f"{self.at(key)}: expected true or false, got {_type_name(v)} {v!r}")
        return v

    def numbers(self, key: str, default: Any = _MISSING, *, check=None, allowed: str = "numbers") -> list[float]:
        """A number or a non-empty list of distinct numbers (a grid axis)."""
        v = self.get(key, default)
        values = v if isinstance(v, list) else [v]
        if not values:
            raise SpecError(f"{self.at(key)}: empty list; expected one or more {allowed}")
        for i, x in enumerate(values):
            where = f"{self.at(key)}[{i}]" if isinstance(v, list) else self.at(key)
            if not _is_num(x):
                raise SpecError(f"{where}: expected {allowed}, got {_type_name(x)} {x!r}")
            if check is not None and not check(x):
                raise SpecError(f"{where}: {x!r} is not allowed; expected {allowed}")
        if len(set(values)) != len(values):
            raise SpecError(f"{self.at(key)}: duplicate values in {v!r}; each value must appear once")
        return [float(x) for x in values]

    def table(self, key: str, default: Any = _MISSING) -> _Table:
        v = self.get(key, default)
        return _Table(v, self.at(key))

    def tables(self, key: str) -> list[_Table]:
        v = self.get(key, [])
        if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
            raise SpecError(f"{self.at(key)}: expected an array of tables ([[{self.at(key)}]])")
        return [_Table(x, f"{self.at(key)}[{i}]") for i, x in enumerate(v)]

    def done(self) -> None:
        unknown = sorted(set(self.raw) - self.seen)
        if unknown:
            allowed = ", ".join(sorted(self.seen))
            raise SpecError(f"{self.at(unknown[0])}: unknown field; allowed here: {allowed}")


# --------------------------------------------------------------------------- the spec


@dataclass(frozen=True)
class Objective:
    loss: str
    lams: tuple[float | None, ...]
    train: dict[str, Any]
    init_from: str | None = None  # fine-tune from this objective's model of the same seed (``parent_of``)
    variant: str = ""  # an ablation of the loss's recipe ("" = the recipe every table reports)

    @property
    def protocol(self) -> str:
        """"scratch" or "fine-tuned" (``vocab.PROTOCOLS``): an f-GAN objective may be listed
        once in each, the paired protocol fine-tuning each seed's parent (docs/maths.md §9.4)."""
        return PROTOCOLS[0] if self.init_from is None else PROTOCOLS[1]


def parent_of(objectives: tuple[Objective, ...] | list[Objective], o: Objective) -> Objective | None:
    """The objective whose models ``o`` fine-tunes (one per seed): the default recipe of the loss
    ``o.init_from`` trained from scratch, or, where that loss is only fine-tuned, its one default
    entry. None for a model trained from scratch; ``SpecError`` when there is no such entry or
    several (``_check_objective_graph`` calls it for every objective, so ``expand`` never fails)."""
    if o.init_from is None:
        return None
    candidates = [x for x in objectives if x.loss == o.init_from and not x.variant and x is not o]
    scratch = [x for x in candidates if x.init_from is None]
    if scratch:
        return scratch[0]
    if len(candidates) == 1:
        return candidates[0]
    where = f"objectives[{list(objectives).index(o)}].init_from"
    if o.init_from == o.loss and not candidates:
        raise SpecError(f"{where}: an objective cannot fine-tune from itself; list {o.loss!r} once more without "
                        "init_from, as the parent its fine-tunes start from")
    if not candidates:
        raise SpecError(f"{where}: {o.init_from!r} is not an objective of this spec "
                        f"(objectives: {', '.join(x.loss for x in objectives)})")
    raise SpecError(f"{where}: {o.init_from!r} is only fine-tuned, from {len(candidates)} parents, so the model "
                    "to fine-tune from is ambiguous; list it once from scratch")


@dataclass(frozen=True)
class EvalBlock:
    """One product of tuning × sampler settings; ``grid()`` lists its SamplingParams dicts."""
    axes: dict[str, tuple[Any, ...]]
    fixed: dict[str, Any]
    objectives: tuple[str, ...] | None = None  # the objectives whose models it evaluates (None: all)
    variants: bool = False  # also the models of an objective's variants (ablations), not only its default
    protocol: str | None = None  # only the models of this protocol (vocab.PROTOCOLS); None: both

    def applies_to(self, objective: str, variant: str = "", protocol: str = PROTOCOLS[0]) -> bool:
        return ((self.objectives is None or objective in self.objectives) and (not variant or self.variants)
                and self.protocol in (None, protocol))

    def grid(self) -> list[dict[str, Any]]:
        keys = list(self.axes)
        return [{**self.fixed, **dict(zip(keys, combo, strict=True))}
                for combo in itertools.product(*(self.axes[k] for k in keys))]


@dataclass(frozen=True)
class Spec:
    path: str
    name: str
    dataset: str
    seeds: tuple[int, ...]
    executor: str
    threads_per_cell: int
    train: dict[str, Any]
    objectives: tuple[Objective, ...]
    evaluate: EvalSettings
    blocks: tuple[EvalBlock, ...]
    local_workers: int
    slurm: SlurmSettings
    description: str = ""
    digest: str = ""  # of the parsed document: tells this spec from another with the same name
    stack_seeds: str = "auto"  # a configuration's seeds as one training task (repro.harness.study.stacks_seeds)
    quality: QualityBar = QualityBar()  # the training bar ([quality]; repro.analysis.quality)


def _train_overrides(t: _Table, reserved: set[str], context: dict[str, Any] | None = None) -> dict[str, Any]:
    """A [train] table's keys, typed by ``TrainConfig`` (``repro.core.config``); the grid's own keys
    (loss, λ, seed, data set) are refused here. ``context``: the keys the grid sets for this
    table (an objective's loss), so that a key allowed for that loss only is checked against it."""
    for key in t.raw:
        t.seen.add(key)
        if key in reserved:
            raise SpecError(f"{t.at(key)}: set by the grid, not here (the grid sets {', '.join(sorted(reserved))})")
    try:
        loaded = config.load(TrainConfig, {**(context or {}), **t.raw}, t.path)
    except ConfigError as exc:
        raise SpecError(str(exc)) from None
    return {k: getattr(loaded, k) for k in t.raw}


def _validate_train_config(overrides: dict[str, Any], where: str) -> str:
    """The full training configuration an objective resolves to obeys TrainConfig's rules;
    returns its hash (two objectives with one hash would train the same models)."""
    try:
        return stable_hash(asdict(config.load(TrainConfig, overrides, where).resolve()))
    except ConfigError as exc:
        raise SpecError(str(exc)) from None


def parse_spec(raw: dict[str, Any], path: str = "<spec>", name_default: str = "study",
               max_cells: int = MAX_CELLS) -> Spec:
    """Validate a parsed TOML document completely and return the ``Spec``. A grid of more than
    ``max_cells`` cells is refused before anything is expanded (counted, not listed). One reader
    per table: [study], [train] with [[objectives]], [evaluate] with its blocks, [executor]."""
    top = _Table(raw, "")
    name, dataset, seeds_raw, executor, threads, description, stack_seeds = _read_study(top, name_default)
    train, objectives = _read_objectives(top, dataset)
    settings, blocks = _read_evaluate(top, [o.loss for o in objectives], max_cells)
    n_train = sum(len(o.lams) for o in objectives) * len(seeds_raw)
    for i, o in enumerate(objectives):
        if o.variant and not any(blk.applies_to(o.loss, o.variant, o.protocol) for blk in blocks):
            raise SpecError(f"objectives[{i}].variant: no [[evaluate.blocks]] evaluates the variant {o.variant!r}; "
                            "add variants = true to a block (e.g. the plain sampler at sigma = 1)")
        if not any(blk.applies_to(o.loss, o.variant, o.protocol) for blk in blocks):
            raise SpecError(f"objectives[{i}]: no [[evaluate.blocks]] evaluates its models ({o.loss}, "
                            f"{o.protocol}); widen a block's objectives or protocol")
    n_eval = settings.eval_seeds * sum(
        math.prod(len(v) for v in blk.axes.values())
        * sum(len(o.lams) * len(seeds_raw) for o in objectives if blk.applies_to(o.loss, o.variant, o.protocol))
        for blk in blocks)
    n_ceiling = len(seeds_raw) * settings.eval_seeds  # one real-versus-real cell per evaluation seed
    _check_size(1 + n_train + n_eval + n_ceiling, max_cells, "study")
    workers, slurm = _read_executor(top)
    quality = _read_quality(top, dataset)
    top.done()
    return Spec(path, name, dataset, tuple(seeds_raw), executor, threads, train, tuple(objectives), settings,
                tuple(blocks), workers, slurm, description, stable_hash(raw), stack_seeds, quality)


def _read_study(top: _Table, name_default: str) -> tuple[str, str, list[int], str, int, str, str]:
    """[study]: name, dataset, seeds, executor, threads per cell, description, seed stacking."""
    study = top.table("study")
    name = study.str("name", name_default)
    if not STUDY_NAME.fullmatch(name):
        raise SpecError(f"study.name: {name!r} is not allowed; expected a letter or digit followed by letters, "
                        "digits, '-', '_' or '.' (the store is runs/<name>: no path may leave it)")
    dataset = study.str("dataset", "mnist", DATASETS)
    seeds_raw = study.get("seeds")
    if not isinstance(seeds_raw, list) or not seeds_raw:
        raise SpecError("study.seeds: expected a non-empty list of distinct non-negative integers")
    for i, s in enumerate(seeds_raw):
        if not _is_int(s) or s < 0:
            raise SpecError(f"study.seeds[{i}]: {s!r} is not allowed; expected a non-negative integer")
    if len(set(seeds_raw)) != len(seeds_raw):
        dup = next(s for s in seeds_raw if seeds_raw.count(s) > 1)
        raise SpecError(f"study.seeds: seed {dup} appears more than once; seeds must be distinct")
    executor = study.str("executor", "local", EXECUTORS)
    threads = study.int("threads_per_cell", 1, minimum=1)
    description = study.str("description", "")
    stack_seeds = study.str("stack_seeds", "auto", STACK_SEEDS)
    study.done()
    return name, dataset, seeds_raw, executor, threads, description, stack_seeds


def _read_objectives(top: _Table, dataset: str) -> tuple[dict[str, Any], list[Objective]]:
    """[train] (overrides shared by every objective) and [[objectives]], each checked as a full
    training configuration; then the rules across objectives (``_check_objective_graph``)."""
    reserved = {"loss", "lam", "seed", "dataset"}
    train = _train_overrides(top.table("train", {}), reserved)
    _validate_train_config({**train, "dataset": dataset}, "train")

    objectives = []
    recipes: dict[tuple[str, str], str] = {}  # (loss, resolved configuration's hash) → where
    obj_tables = top.tables("objectives")
    if not obj_tables:
        raise SpecError("objectives: empty grid; add at least one [[objectives]] table with loss = "
                        "one of bce, js, kl, rkl, pr")

    for t in obj_tables:
        loss = t.str("loss", choices=tuple(LOSSES))
        if loss == "pr":
            lams: tuple[float | None, ...] = tuple(t.numbers("lam", check=lambda x: x > 0, allowed="numbers λ > 0"))
        else:
            if "lam" in t.raw:
                raise SpecError(f"{t.at('lam')}: λ applies to loss = \"pr\" only, not {loss!r}")
            lams = (None,)
        overrides = _train_overrides(t.table("train", {}), reserved, {"loss": loss})
        variant = t.str("variant", "")
        if variant and (loss == "pr" or not VARIANT_NAME.fullmatch(variant)):
            raise SpecError(f"{t.at('variant')}: {variant!r} is not allowed; expected a short name (letters, digits, "
                            "spaces, '-', at most 40) for a loss other than pr (λ-PR varies by λ)")
        init_from = t.get("init_from", None)
        if init_from is not None and init_from not in LOSSES:
            raise SpecError(f"{t.at('init_from')}: {init_from!r} is not allowed; expected the loss of another "
                            f"objective of this spec ({', '.join(LOSSES)})")
        t.done()
        for lam in lams:
            cfg = {**train, **overrides, "loss": loss, "dataset": dataset, "seed": 0}
            if lam is not None:
                cfg["lam"] = lam
            resolved = _validate_train_config(cfg, t.path)
        if loss != "pr":  # a variant whose recipe resolves to another's would train the same models
            twin = recipes.setdefault((loss, resolved), t.path)
            if twin != t.path and variant:  # two defaults: "listed twice" (_check_objective_graph)
                raise SpecError(f"{t.path}.variant: the same training configuration as {twin}; the same models "
                                "would be trained twice (a variant must change the recipe)")
        objectives.append(Objective(loss, lams, overrides, init_from, variant))
    _check_objective_graph(objectives)
    return train, objectives


def _check_objective_graph(objectives: list[Objective]) -> None:
    """Each loss listed once per protocol (λ-PR once per setting), and fine-tuning sources that
    exist, are unambiguous (one model per seed, ``parent_of``) and form no cycle. A loss listed
    from scratch may also be fine-tuned, from its own model too (the paired protocol's control)."""
    named = [(o.loss, o.variant, o.init_from) for o in objectives if o.loss != "pr"]
    dupes = sorted({x for x in named if named.count(x) > 1}, key=repr)
    if dupes:
        loss, variant, init = dupes[0]
        raise SpecError(f"objectives: loss {loss!r} is listed twice" + (f" as variant {variant!r}" if variant else "")
                        + (f" fine-tuned from {init!r}" if init else "")
                        + "; list each objective once (an ablation of its recipe: give it a variant name)")
    for i, o in enumerate(objectives):
        if o.variant and not any((o.loss, "") == (n[0], n[1]) for n in named):
            raise SpecError(f"objectives[{i}].variant: {o.loss!r} has variants but no default recipe; list it once "
                            "without variant (the tables report that one)")
        if o.variant and o.loss in {x.init_from for x in objectives}:
            raise SpecError(f"objectives[{i}].variant: {o.loss!r} is fine-tuned from, so its variants make the "
                            "parent ambiguous; ablate a loss no objective fine-tunes from")
    seen_pr: dict[str, int] = {}
    for i, o in enumerate(objectives):
        for lam in o.lams if o.loss == "pr" else ():
            key = repr((lam, sorted(o.train.items()), o.init_from))
            if key in seen_pr:
                raise SpecError(f"objectives[{i}].lam: λ = {lam:g} with the same settings is already "
                                f"objectives[{seen_pr[key]}]; the same model would be trained twice")
            seen_pr[key] = i
    parents = {id(o): parent_of(objectives, o) for o in objectives}  # raises for a missing or ambiguous one
    for i, o in enumerate(objectives):
        chain: list[Objective] = [o]
        at = parents[id(o)]
        while at is not None:
            if any(at is x for x in chain):
                raise SpecError(f"objectives[{i}].init_from: fine-tuning cycle "
                                f"{' -> '.join(x.loss for x in [*chain, at])}")
            chain.append(at)
            at = parents[id(at)]
        parent = parents[id(o)]
        n_pr = len(parent.lams) if parent is not None and parent.loss == "pr" else 1
        if n_pr != 1:
            raise SpecError(f"objectives[{i}].init_from: 'pr' has {n_pr} models per seed (one per λ), so the "
                            "model to fine-tune from is ambiguous; give pr a single λ")


def _read_evaluate(top: _Table, losses: list[str], max_cells: int) -> tuple[EvalSettings, list[EvalBlock]]:
    """[evaluate]: the settings every evaluation shares, and its [[evaluate.blocks]]."""
    ev = top.table("evaluate", {})
    settings = _load(EvalSettings, {k: v for k, v in ev.raw.items() if k != "blocks"}, "evaluate")
    ev.seen.update(ev.raw)
    blocks = []
    block_tables = ev.tables("blocks")
    if not block_tables:
        raise SpecError("evaluate.blocks: empty grid; add at least one [[evaluate.blocks]] table "
                        "(sampler = one of the registered samplers: repro.samplers)")
    for b in block_tables:
        blocks.append(_read_block(b, losses, max_cells))
    ev.done()
    return settings, blocks


# the keys of a [[evaluate.blocks]] table that are not sampling settings
_BLOCK_KEYS = ("sampler", "objectives", "variants", "protocol")


def _read_block(b: _Table, losses: list[str], max_cells: int) -> EvalBlock:
    """One [[evaluate.blocks]] table: the sampler, its settings, the objectives it applies to.

    Every other key is a setting of the sampler (``repro.samplers``: σ, ψ and the sampler's own
    configuration); a number may be a list of numbers, a grid axis. The sampler's configuration
    checks each value, and its defaults fill what the block leaves out."""
    sampler = b.str("sampler", "none", tuple(samplers.REGISTRY))
    hints = {"sigma": float, "psi": float, **{f.name: config.hints(samplers.get(sampler).config)[f.name]
                                              for f in dataclasses.fields(samplers.get(sampler).config)}}
    axes: dict[str, tuple[Any, ...]] = {}
    fixed: dict[str, Any] = {"method": sampler}
    for key in b.raw:
        if key in _BLOCK_KEYS:
            continue
        owners = samplers.registry.owners(key)
        if key not in hints:
            if owners:
                names = " or ".join(f'"{o}"' for o in owners)
                raise SpecError(f"{b.at(key)}: applies to sampler = {names}, not {sampler!r}")
            continue  # b.done() names it as unknown
        b.seen.add(key)
        value = b.raw[key]
        if isinstance(value, list) or config.is_number(value):
            values = b.numbers(key, allowed="numbers")
            axes[key] = tuple(_as(hints[key], x) for x in values)
        else:
            fixed[key] = value
    only = b.get("objectives", None)
    if only is not None:
        if not isinstance(only, list) or not only or not all(isinstance(o, str) for o in only):
            raise SpecError(f"{b.at('objectives')}: expected a non-empty list of objective names")
        for i, o in enumerate(only):
            if o not in losses:
                raise SpecError(f"{b.at('objectives')}[{i}]: {o!r} is not an objective of this spec "
                                f"(objectives: {', '.join(losses)})")
        only = tuple(dict.fromkeys(only))
    variants = b.bool("variants", False)  # true: the objectives' variants (ablations) too
    # only the models trained from scratch, or only the fine-tunes (absent: both)
    protocol = b.str("protocol", PROTOCOLS[0], PROTOCOLS) if "protocol" in b.raw else None
    b.done()
    block = EvalBlock(axes, fixed, only, variants, protocol)
    _check_size(math.prod(len(v) for v in axes.values()), max_cells, b.path)  # before grid() lists it
    _validate_sampling(block, b.path)
    return block


def _as(hint: Any, x: float) -> Any:
    """A grid value as its field's type: an integer field takes whole numbers only."""
    base = next((h for h in (int, float) if h is hint or h in getattr(hint, "__args__", ())), float)
    return int(x) if base is int and x == int(x) else x


def _read_quality(top: _Table, dataset: str) -> QualityBar:
    """[quality]: the training bar, the data set's default with this table's fields over it."""
    q = top.table("quality", {})
    q.seen.update(q.raw)
    try:
        return bar_for(dataset, q.raw, "quality")
    except ConfigError as exc:
        raise SpecError(str(exc)) from None


def _read_executor(top: _Table) -> tuple[int, SlurmSettings]:
    """[executor]: the local pool's workers and the SLURM settings, whose [resources] table holds
    the fields every stage shares and, as sub-tables, a stage's own (``Resources``)."""
    ex = top.table("executor", {})
    local = ex.table("local", {})
    workers = local.int("workers", 0, minimum=0)  # 0: as many as cores / threads_per_cell
    local.done()
    sl = ex.table("slurm", {})
    res = sl.table("resources", {})
    shared = _load(Resources, {k: v for k, v in res.raw.items() if k not in STAGES}, res.path)
    per_stage = {stage: _load(Resources, {**asdict(shared), **res.table(stage, {}).raw}, res.at(stage))
                 for stage in STAGES}
    slurm = _load(SlurmSettings, {k: v for k, v in sl.raw.items() if k != "resources"}, sl.path)
    ex.seen.update(ex.raw)
    unknown = sorted(set(ex.raw) - {"local", "slurm"})
    if unknown:
        raise SpecError(f"{ex.at(unknown[0])}: unknown field; allowed here: local, slurm")
    return workers, dataclasses.replace(slurm, resources=per_stage)


def _load(cls: type, data: dict[str, Any], where: str) -> Any:
    """``repro.core.config.load`` with its errors as spec errors."""
    try:
        return config.load(cls, data, where)
    except ConfigError as exc:
        raise SpecError(str(exc)) from None


def _validate_sampling(block: EvalBlock, where: str) -> None:
    """Every point of the block's grid is a valid sampling setting (errors name the block's field)."""
    for params in block.grid():
        try:
            SamplingParams.from_dict(params, where)
        except ConfigError as exc:
            raise SpecError(str(exc)) from None


def _check_size(n: int, cap: int, where: str) -> None:
    if n > cap:
        raise SpecError(f"{where}: the grid has {n:,} cells, more than the cap of {cap:,}; trim it, or pass "
                        f"--max-cells {n} if it is meant")


def load_spec(path: str | Path, max_cells: int = MAX_CELLS) -> Spec:
    """Read and validate a spec file; any problem is a ``SpecError`` naming the field."""
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise SpecError(f"{p}: spec file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{p}: cannot read the spec: {exc}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{p}: invalid TOML: {exc}") from None
    return parse_spec(raw, str(p), name_default=p.stem, max_cells=max_cells)

