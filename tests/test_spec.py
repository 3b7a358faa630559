"""repro.harness.spec: validation names the field and what is allowed; grids and hashes behave."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from repro.core import versions
from repro.harness.cells import expand, is_ceiling
from repro.harness.spec import SpecError, load_spec, parse_spec

ROOT = Path(__file__).resolve().parents[1]

VALID = """
[study]
name = "t"
seeds = [0, 1]

[train]
epochs = 1
train_size = 500

[[objectives]]
loss = "bce"

[[objectives]]
loss = "pr"
lam = [0.5, 2.0]

[evaluate]
n_samples = 100

[[evaluate.blocks]]
sampler = "none"
sigma = [0.5, 1.0]

[[evaluate.blocks]]
sampler = "obrs"
budget = [2.0]
"""


def _raw(text: str = VALID) -> dict:
    return tomllib.loads(text)


def _with(path: str, value) -> dict:
    """VALID with one dotted field replaced (path items may be list indices)."""
    raw = _raw()
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    node = raw
    for k in keys[:-1]:
        node = node[k] if isinstance(k, int) else node.setdefault(k, {})  # a table VALID lacks: added
    if value is _DELETE:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return raw


_DELETE = object()

MALFORMED = [
    # (field path, replacement, expected fragment of the message)
    ("study.seeds", [0, 0], "study.seeds: seed 0 appears more than once"),
    ("study.seeds", [0, 1.5], "study.seeds[1]: 1.5 is not allowed; expected a non-negative integer"),
    ("study.seeds", [], "study.seeds: expected a non-empty list"),
    ("study.seeds", _DELETE, "study.seeds: required field is missing"),
    ("study.dataset", "cifar", "study.dataset: 'cifar' is not allowed; expected one of mnist, fashion-mnist"),
    ("study.executor", "kubernetes", "study.executor: 'kubernetes' is not allowed; expected one of inprocess, local, slurm"),
    ("study.colour", "blue", "study.colour: unknown field; allowed here:"),
    ("train.epochs", "five", "train.epochs: expected an integer, got a string 'five'"),
    ("train.g_widths", [64, "wide"], "train.g_widths[1]: expected an integer, got a string 'wide'"),
    ("train.betas_g", [0.5], "train.betas_g: expected a list of 2 numbers or none, got a list [0.5]"),
    ("train.ema", 1.5, "train.ema: 1.5 is not allowed; expected a decay in [0, 1)"),
    ("train.learning_rate", 0.1, "train.learning_rate: unknown field; allowed here:"),
    ("objectives.0.train", {"arch": "resnet"}, "objectives[0].train.arch: 'resnet' is not allowed; expected one of mlp, dcgan"),
    ("evaluate.prd_clusters", 1, "evaluate.prd_clusters: 1 is too small; expected an integer ≥ 2"),
    ("evaluate.k_nearest", 3, "evaluate.k_nearest: unknown field; allowed here:"),
    ("executor.slurm.max_concurrent", 0, "executor.slurm.max_concurrent: 0 is too small; expected an integer ≥ 1"),
    ("executor.slurm.resources.mem_gb", "8G", "executor.slurm.resources.mem_gb: expected an integer, got a string '8G'"),
    ("executor.slurm.resources.train", {"gpus_per_task": -1}, "executor.slurm.resources.train.gpus_per_task: -1 is too small"),
    ("executor.slurm.resources.train", {"gpu": 1}, "executor.slurm.resources.train.gpu: unknown field; allowed here:"),
    ("executor.cloud", {}, "executor.cloud: unknown field; allowed here: local, slurm"),
    ("train.loss", "bce", "train.loss: set by the grid, not here"),
    ("objectives", [], "objectives: empty grid"),
    ("objectives.0.loss", "wgan", "objectives[0].loss: 'wgan' is not allowed; expected one of bce, js, kl, rkl, pr"),
    ("objectives.1.lam", [0.5, -1.0], "objectives[1].lam[1]: -1.0 is not allowed; expected numbers λ > 0"),
    ("objectives.1.lam", [], "objectives[1].lam: empty list"),
    ("objectives.0.lam", 2.0, "objectives[0].lam: λ applies to loss = \"pr\" only"),
    ("objectives.1.init_from", "kl", "objectives[1].init_from: 'kl' is not an objective of this spec"),
    ("evaluate.blocks.0.sigma", [0.5, 0.0], "evaluate.blocks[0].sigma: 0.0 is not allowed; expected a number in (0, 100]"),
    ("evaluate.blocks.0.sigma", [1.0, 1.0], "evaluate.blocks[0].sigma: duplicate values"),
    ("evaluate.blocks.1.budget", [0.5], "evaluate.blocks[1].budget: 0.5 is not allowed; expected a finite number ≥ 1"),
    ("evaluate.blocks.0.gamma", [1.0], "evaluate.blocks[0].gamma: applies to sampler = \"drs\", not 'none'"),
    ("evaluate.blocks.0.sampler", "hmc", "evaluate.blocks[0].sampler: 'hmc' is not allowed; expected one of none, drs, obrs, mh, langevin, adaptive"),
    ("evaluate.blocks.1.chain_length", [20], "evaluate.blocks[1].chain_length: applies to sampler = \"mh\", not 'obrs'"),
    ("evaluate.blocks.0.components", [10], "evaluate.blocks[0].components: applies to sampler = \"adaptive\", not 'none'"),
    ("evaluate.blocks", [], "evaluate.blocks: empty grid"),
    ("evaluate.n_samples", "many", "evaluate.n_samples: expected an integer, got a string 'many'"),
    ("evaluate.reference_split", "train", "evaluate.reference_split: 'train' is not allowed; expected one of val, test"),
    ("evaluate.eval_seeds", 0, "evaluate.eval_seeds: 0 is too small; expected an integer ≥ 1"),
    ("evaluate.blocks.1.objectives", ["bce", "kl"], "evaluate.blocks[1].objectives[1]: 'kl' is not an objective of this spec"),
    ("evaluate.blocks.1.objectives", [], "evaluate.blocks[1].objectives: expected a non-empty list"),
    ("evaluate.blocks.1.discriminator", "ema", "evaluate.blocks[1].discriminator: 'ema' is not allowed; expected one of refit, raw"),
    ("evaluate.blocks.0.acceptance", [0.5], "evaluate.blocks[0].acceptance: applies to sampler = \"drs\", not 'none'"),
]


CHAINS = """
[study]
name = "chain"
seeds = [0, 1]
[train]
epochs = 1
[[objectives]]
loss = "kl"
init_from = "pr"
[[objectives]]
loss = "pr"
lam = [1.0]
init_from = "bce"
[[objectives]]
loss = "bce"
[[evaluate.blocks]]
sampler = "none"
"""


def test_a_chain_listed_child_first_expands_parent_first() -> None:
    cells = [c for c in expand(parse_spec(_raw(CHAINS), "c.toml")) if c.stage == "train"]
    order = [c.labels["objective"] for c in cells]
    assert order == ["bce", "bce", "pr", "pr", "kl", "kl"]
    by_id = {c.id: c for c in cells}
    for c in cells:
        if c.config["init_from"]:
            parent = by_id[c.config["init_from"]]
            assert parent.labels["train_seed"] == c.labels["train_seed"]


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace('loss = "bce"\n', 'loss = "bce"\ninit_from = "kl"\n'), "fine-tuning cycle"),
    (lambda t: t.replace("lam = [1.0]", "lam = [1.0, 2.0]"), "'pr' has 2 models per seed"),
    (lambda t: t + '[[objectives]]\nloss = "pr"\nlam = [1.0]\ninit_from = "bce"\n',
     "λ = 1 with the same settings is already objectives[1]"),
])
def test_fine_tuning_graphs_that_cannot_run_are_refused(edit, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(_raw(edit(CHAINS)), "c.toml")
    assert message in str(info.value)


@pytest.mark.parametrize("name", [".", "..", "../escape", "a/b", "", "-x", "." * 3])
def test_study_names_that_would_leave_the_store_are_refused(name: str) -> None:
    with pytest.raises(SpecError, match="study.name"):
        parse_spec(_with("study.name", name), "t.toml")


def _drs_block(**fields) -> dict:
    raw = _raw()
    raw["evaluate"]["blocks"].append({"sampler": "drs", **fields})
    return raw


@pytest.mark.parametrize(("fields", "message"), [
    ({"acceptance": [0.88, 1.5]}, "evaluate.blocks[2].acceptance: 1.5 is not allowed; expected a target acceptance rate in (0, 1]"),
    ({"acceptance": [0.88], "gamma_convention": "percentile"}, "evaluate.blocks[2].acceptance: is the target of gamma_convention"),
    ({"gamma_convention": "acceptance"}, "evaluate.blocks[2].acceptance: is the target of gamma_convention"),
    ({"acceptance": [0.88], "gamma": [1.0]}, "evaluate.blocks[2].gamma: with a target acceptance γ is found per model"),
])
def test_malformed_drs_block_names_the_field(fields: dict, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(_drs_block(**fields), "t.toml")
    assert message in str(info.value)


def test_drs_at_target_acceptances_and_block_objectives() -> None:
    spec = parse_spec(_drs_block(acceptance=[0.88, 0.06], objectives=["bce"], discriminator="raw"), "t.toml")
    drs = [c for c in expand(spec) if c.labels.get("sampler") == "drs"]
    assert len(drs) == 2 * 2  # bce × 2 seeds × 2 targets: the pr models are left out
    assert {c.labels["objective"] for c in drs} == {"bce"}
    assert {c.labels["target_acceptance"] for c in drs} == {0.88, 0.06}
    assert all(c.labels["gamma"] is None and c.labels["gamma_convention"] == "acceptance" for c in drs)
    assert {c.labels["discriminator"] for c in drs} == {"raw"}
    assert all(c.config["sampling"]["acceptance"] in (0.88, 0.06) for c in drs)


def test_eval_seeds_give_each_model_distinct_evaluations() -> None:
    raw = _raw()
    raw["evaluate"]["eval_seeds"] = 2
    cells = [c for c in expand(parse_spec(raw, "t.toml")) if c.stage == "evaluate" and not is_ceiling(c)]
    assert len(cells) == 6 * 3 * 2
    per_model = {}
    for c in cells:
        per_model.setdefault((c.config["train_id"], c.labels["sigma"], c.labels["sampler"]), set()).add(c.labels["eval_seed"])
    assert all(len(seeds) == 2 for seeds in per_model.values())
    assert len({c.labels["eval_seed"] for c in cells}) == 4  # 2 training seeds × 2


@pytest.mark.parametrize(("path", "value", "message"), MALFORMED, ids=[m[0] + "=" + repr(m[1])[:20] for m in MALFORMED])
def test_malformed_spec_names_the_field(path: str, value, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(_with(path, value), "t.toml")
    assert message in str(info.value)


def test_valid_spec_expands_to_the_grid() -> None:
    spec = parse_spec(_raw(), "t.toml")
    cells = expand(spec)
    stages = [c.stage for c in cells]
    assert stages.count("features") == 1
    assert stages.count("train") == (1 + 2) * 2  # (bce + pr × 2 λ) × 2 seeds
    assert stages.count("evaluate") == 6 * (2 + 1) + 2  # each model × (2 σ + 1 OBRS K), a ceiling per seed
    ceilings = [c for c in cells if is_ceiling(c)]
    assert [c.config["eval_seed"] for c in ceilings] == [0, 1] and all(c.deps == (cells[0].id,) for c in ceilings)
    assert len({c.id for c in cells}) == len(cells)
    assert stages == sorted(stages, key=["features", "train", "evaluate"].index)  # dependency order


def test_a_second_feature_space_is_a_features_cell_every_evaluation_waits_for() -> None:
    """[evaluate] feature_spaces: the autoencoder's features cell after the classifier's (so the two
    trainings never share the cores), and every evaluation and ceiling cell depends on both."""
    cells = expand(parse_spec(_with("evaluate.feature_spaces", ["classifier", "autoencoder"]), "t.toml"))
    classifier, ae = cells[0], cells[1]
    assert (classifier.stage, ae.stage, ae.config["space"], ae.deps) == ("features", "features", "autoencoder",
                                                                         (classifier.id,))
    assert ae.config["autoencoder"]["feature_dim"] == 32 and ae.labels == {"dataset": "mnist", "space": "autoencoder"}
    evaluations = [c for c in cells if c.stage == "evaluate"]
    assert evaluations and all({classifier.id, ae.id} <= set(c.deps) for c in evaluations)
    one_space = {c.id for c in expand(parse_spec(_raw(), "t.toml")) if c.stage != "evaluate"}
    assert one_space <= {c.id for c in cells}  # the classifier's and the training cells are unchanged


def test_cell_ids_are_content_hashes_with_defaults_resolved() -> None:
    a = {c.id for c in expand(parse_spec(_raw(), "t.toml"))}
    b = {c.id for c in expand(parse_spec(_raw(), "elsewhere.toml"))}
    assert a == b  # the file's name does not matter, only the resolved configuration
    from repro.gan.config import TrainConfig

    default_batch = TrainConfig().resolve().batch_size
    explicit = _with("train.batch_size", default_batch)
    assert {c.id for c in expand(parse_spec(explicit, "t.toml"))} == a  # a default spelt out: same cells
    changed = _with("train.epochs", 2)
    changed_ids = {c.id for c in expand(parse_spec(changed, "t.toml"))}
    assert len(a & changed_ids) == 1 + 2  # only the feature classifier and the real-vs-real ceilings


def test_a_component_version_changes_id_but_not_family(monkeypatch) -> None:
    cell = expand(parse_spec(_raw(), "t.toml"))[1]
    family, cell_id = cell.family, cell.id
    monkeypatch.setattr(versions, "TRAINING", 999)
    again = expand(parse_spec(_raw(), "t.toml"))[1]
    assert again.family == family and again.id != cell_id


def test_overlapping_blocks_are_one_cell() -> None:
    raw = _raw()
    raw["evaluate"]["blocks"].append({"sampler": "none", "sigma": [1.0, 2.0]})
    cells = expand(parse_spec(raw, "t.toml"))
    assert sum(c.stage == "evaluate" and not is_ceiling(c) for c in cells) == 6 * 4  # σ ∈ {0.5, 1, 2} + OBRS


def test_fine_tuning_cells_depend_on_their_parent() -> None:
    raw = _raw()
    raw["objectives"][1]["init_from"] = "bce"
    cells = expand(parse_spec(raw, "t.toml"))
    by_id = {c.id: c for c in cells}
    pr = [c for c in cells if c.stage == "train" and c.labels["objective"] == "pr"]
    for c in pr:
        parent = by_id[c.config["init_from"]]
        assert parent.labels["objective"] == "bce" and parent.labels["train_seed"] == c.labels["train_seed"]
        assert parent.id in c.deps


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "study").glob("*.toml")))
def test_shipped_specs_are_valid(name: str) -> None:
    spec = load_spec(ROOT / "study" / f"{name}.toml")
    cells = expand(spec)
    assert spec.name == name and {c.stage for c in cells} == {"features", "train", "evaluate"}
    assert len({c.id for c in cells}) == len(cells)


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="spec file not found"):
        load_spec(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[study\nseeds = [0]\n")
    with pytest.raises(SpecError, match="invalid TOML"):
        load_spec(bad)


@pytest.mark.parametrize("command", ["plan", "run"])
def test_cli_malformed_spec_exit_2_nothing_written(tmp_path: Path, command: str) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text(VALID.replace("seeds = [0, 1]", "seeds = [0, 0]"))
    root = tmp_path / "runs"
    proc = subprocess.run([sys.executable, "-m", "repro", "study", command, str(spec), "--root", str(root)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "study.seeds" in proc.stderr and "Traceback" not in proc.stderr
    assert not root.exists()


def test_a_huge_grid_is_refused_before_it_is_expanded() -> None:
    """Counted, never listed: 12 million cells per model were planned for minutes past 1 GB."""
    raw = _raw()
    raw["evaluate"]["blocks"][0]["sigma"] = [0.01 * (i + 1) for i in range(3000)]
    with pytest.raises(SpecError, match=r"evaluate.blocks\[0\]: the grid has 3,000 cells, more than the cap of 1,000"):
        parse_spec(raw, "t.toml", max_cells=1000)
    # 1 classifier + 6 models + 6 × (3000 σ + 1 K) evaluations
    with pytest.raises(SpecError, match=r"study: the grid has 18,015 cells, more than the cap of 10,000; .*--max-cells 18015"):
        parse_spec(raw, "t.toml", max_cells=10_000)
    assert len(expand(parse_spec(_raw(), "t.toml", max_cells=27))) == 27  # exactly at the cap: 1 + 6 + 18 + 2


def test_blocks_of_the_samplers_beyond_rejection_expand_with_their_labels() -> None:
    raw = _raw()
    raw["evaluate"]["blocks"] += [{"sampler": "mh", "chain_length": [5, 20]},
                                  {"sampler": "langevin", "steps": [10], "step_size": [0.01], "langevin_noise": False},
                                  {"sampler": "adaptive", "budget": [4.0], "components": [10]}]
    cells = [c for c in expand(parse_spec(raw, "t.toml")) if c.labels.get("sampler") in ("mh", "langevin", "adaptive")]
    assert len(cells) == 6 * 4  # 6 models × (2 chain lengths + 1 + 1)
    mh = [c for c in cells if c.labels["sampler"] == "mh"]
    assert {c.labels["chain_length"] for c in mh} == {5, 20} and all(c.labels["steps"] is None for c in mh)
    flow = next(c for c in cells if c.labels["sampler"] == "langevin")
    assert flow.labels["langevin_noise"] == 0.0 and flow.config["sampling"]["langevin_noise"] is False
    # a rejection cell's configuration holds none of the new fields: its id did not change
    plain = next(c for c in expand(parse_spec(raw, "t.toml")) if c.labels.get("sampler") == "none")
    assert not {"chain_length", "steps", "step_size", "langevin_noise", "components"} & set(plain.config["sampling"])
    with pytest.raises(SpecError, match=r"blocks\[2\]\.chain_length: expected an integer"):
        raw["evaluate"]["blocks"][2]["chain_length"] = [2.5]
        parse_spec(raw, "t.toml")


def test_variants_of_a_recipe_are_distinct_models_labelled_by_name() -> None:
    raw = _raw()
    raw["objectives"] += [{"loss": "kl"}, {"loss": "kl", "variant": "clamp", "train": {"clamp": 20.0}},
                          {"loss": "kl", "variant": "2 G steps", "train": {"g_steps": 2}}]
    with pytest.raises(SpecError, match=r"objectives\[3\].variant: no \[\[evaluate.blocks\]\] evaluates"):
        parse_spec(raw, "t.toml")
    raw["evaluate"]["blocks"].append({"sampler": "none", "sigma": [1.0], "variants": True})
    all_cells = expand(parse_spec(raw, "t.toml"))
    cells = [c for c in all_cells if c.stage == "train" and c.labels["objective"] == "kl"]
    assert sorted({c.labels["variant"] for c in cells}) == ["", "2 G steps", "clamp"] and len(cells) == 3 * 2
    assert {c.config["train"]["clamp"] for c in cells if c.labels["variant"] == "clamp"} == {20.0}
    # the variants get the variants block only (σ = 1 plain); the default recipe every block
    evals = [c for c in all_cells if c.labels.get("sampler") and c.labels["objective"] == "kl"]
    assert {c.labels["sigma"] for c in evals if c.labels["variant"]} == {1.0}
    assert len([c for c in evals if c.labels["variant"]]) == 2 * 2 and len([c for c in evals if not c.labels["variant"]]) == 2 * 3
    bce = next(c for c in expand(parse_spec(_raw(), "t.toml")) if c.stage == "train")
    assert bce.labels["variant"] == ""  # the default recipe


@pytest.mark.parametrize(("extra", "message"), [
    ([{"loss": "kl"}, {"loss": "kl"}], "loss 'kl' is listed twice; list each objective once"),
    ([{"loss": "kl", "variant": "a", "train": {"clamp": 0.0}}], "'kl' has variants but no default recipe"),
    ([{"loss": "kl"}, {"loss": "kl", "variant": "same", "train": {"clamp": 0.0}}],
     "the same training configuration as objectives[2]"),
    ([{"loss": "js", "init_from": "bce"}, {"loss": "bce", "variant": "x", "train": {"g_steps": 2}}],
     "'bce' is fine-tuned from, so its variants"),
    ([{"loss": "kl"}, {"loss": "kl", "variant": "../x", "train": {"g_steps": 2}}], "'../x' is not allowed"),
])
def test_variants_that_cannot_be_told_apart_are_refused(extra: list, message: str) -> None:
    raw = _raw()
    raw["objectives"] += extra
    raw["evaluate"]["blocks"].append({"sampler": "none", "sigma": [1.0], "variants": True})
    with pytest.raises(SpecError) as info:
        parse_spec(raw, "t.toml")
    assert message in str(info.value)


PAIRED = """
[study]
name = "paired"
seeds = [0, 1]
[train]
epochs = 2
[[objectives]]
loss = "bce"
[[objectives]]
loss = "kl"
[[objectives]]
loss = "bce"
init_from = "bce"
train = { epochs = 1 }
[[objectives]]
loss = "kl"
init_from = "bce"
train = { epochs = 1 }
[[evaluate.blocks]]
sampler = "none"
[[evaluate.blocks]]
sampler = "drs"
acceptance = [0.9]
protocol = "scratch"
"""


def test_the_paired_protocol_fine_tunes_each_seeds_scratch_parent() -> None:
    spec = parse_spec(_raw(PAIRED), "p.toml")
    assert [o.protocol for o in spec.objectives] == ["scratch", "scratch", "fine-tuned", "fine-tuned"]
    cells = expand(spec)
    trains = [c for c in cells if c.stage == "train"]
    by_id = {c.id: c for c in trains}
    assert len(trains) == 4 * 2 and len(by_id) == 8
    for c in trains:
        if c.labels["protocol"] == "fine-tuned":
            parent = by_id[c.config["init_from"]]  # the BCE model of the same seed trained from scratch,
            assert parent.labels["objective"] == "bce" and parent.labels["protocol"] == "scratch"  # BCE's too
            assert parent.labels["train_seed"] == c.labels["train_seed"] and c.config["train"]["epochs"] == 1
    # the block with protocol = "scratch" leaves the fine-tunes out; the one without takes both
    evals = [c for c in cells if c.stage == "evaluate" and not is_ceiling(c)]
    drs = [c for c in evals if c.labels["sampler"] == "drs"]
    assert len(drs) == 2 * 2 and {c.labels["protocol"] for c in drs} == {"scratch"}
    assert len([c for c in evals if c.labels["sampler"] == "none"]) == 4 * 2


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace('[[objectives]]\nloss = "bce"\n[[objectives]]\nloss = "kl"\n', '[[objectives]]\nloss = "kl"\n', 1),
     "an objective cannot fine-tune from itself; list 'bce' once more without init_from"),
    (lambda t: t + '[[objectives]]\nloss = "kl"\ninit_from = "bce"\n', "loss 'kl' is listed twice fine-tuned from 'bce'"),
    (lambda t: t.replace('protocol = "scratch"', 'protocol = "paired"'),
     "evaluate.blocks[1].protocol: 'paired' is not allowed; expected one of scratch, fine-tuned"),
    (lambda t: t.replace('[[evaluate.blocks]]\nsampler = "none"\n', '[[evaluate.blocks]]\nsampler = "none"\nprotocol = "scratch"\n'),
     "objectives[2]: no [[evaluate.blocks]] evaluates its models (bce, fine-tuned)"),
])
def test_paired_protocols_that_cannot_run_are_refused(edit, message: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(_raw(edit(PAIRED)), "p.toml")
    assert message in str(info.value)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("g_widths", [-5], "objectives[0].train.g_widths: (-5,) is not allowed; expected a non-empty list of layer widths"),
    ("g_widths", [0], "expected a non-empty list of layer widths"),
    ("z_dim", 10**12, "objectives[0].train.z_dim: 1000000000000 is not allowed; expected an integer in [1, 65536]"),
    ("betas_g", [1.5, 0.9], "objectives[0].train.betas_g: (1.5, 0.9) is not allowed; expected two Adam decays in [0, 1)"),
    ("lr_g", 1e300, "expected a learning rate in [0, 1]"),
    ("max_abs_score", -1.0, "expected a positive bound on |D(x)|"),
    ("pr_warmup_epochs", -3, "expected a non-negative integer"),
    ("batch_size", 4096, "expected at most train_size = 2000"),
])
def test_training_values_that_would_fail_or_mislead_in_every_cell_are_refused(field: str, value, message: str) -> None:
    raw = _raw()
    raw["objectives"][0]["train"] = {"train_size": 2000, field: value}
    with pytest.raises(SpecError) as info:
        parse_spec(raw, "t.toml")
    assert message in str(info.value)


def test_an_objectives_train_table_is_checked_against_its_own_loss() -> None:
    raw = _raw()
    raw["objectives"][1]["train"] = {"gen_form": "log"}  # allowed for pr, not for the default loss bce
    spec = parse_spec(raw, "t.toml")
    assert next(o for o in spec.objectives if o.loss == "pr").train["gen_form"] == "log"


@pytest.mark.parametrize(("edit", "message"), [
    (lambda r: r["evaluate"]["blocks"][0].update(sigma=[1e300]), "sigma: 1e+300 is not allowed; expected a number in (0, 100]"),
    (lambda r: r["evaluate"]["blocks"].append({"sampler": "langevin", "steps": [10], "step_size": [1e308]}),
     "step_size: 1e+308 is not allowed; expected a number in (0, 10]"),
    (lambda r: r["evaluate"]["blocks"].append({"sampler": "mh", "chain_length": [10**7]}),
     "chain_length: 10000000 is not allowed; expected an integer from 1 to 10,000"),
    (lambda r: r["evaluate"]["blocks"].append({"sampler": "langevin", "steps": [10**7], "step_size": [0.01]}),
     "steps: 10000000 is not allowed; expected an integer from 1 to 10,000"),
    (lambda r: r["evaluate"]["blocks"].append({"sampler": "adaptive", "budget": [2.0], "components": [10**6]}),
     "components: 1000000 is not allowed; expected an integer from 1 to 1,000"),
    (lambda r: r["evaluate"].update(k_precision_recall=100), "evaluate.k_precision_recall: 100 is not allowed; expected fewer than n_samples = 100"),
    (lambda r: r["evaluate"].update(prd_clusters=500), "evaluate.prd_clusters: 500 is not allowed; expected fewer than n_samples = 100"),
])
def test_sampling_values_that_would_fail_or_mislead_in_every_cell_are_refused(edit, message: str) -> None:
    raw = _raw()
    edit(raw)
    with pytest.raises(SpecError) as info:
        parse_spec(raw, "t.toml")
    assert message in str(info.value)
