"""repro.samplers: the registry. A new sampler is one entry, and the harness takes it from there."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from repro import samplers
from repro.analysis import aggregate, results
from repro.cli import build_parser
from repro.core.config import option
from repro.core.errors import ConfigError
from repro.harness import study
from repro.harness.cells import expand
from repro.harness.spec import parse_spec
from repro.maths import cost
from repro.report import tables
from repro.samplers import Sampler, SamplingParams, registry
from repro.samplers.params import RatioSettings, require_int

TOY_STUDY = {
    "study": {"name": "toy", "seeds": [0], "threads_per_cell": 1},
    "train": {"train_size": 256, "epochs": 1, "batch_size": 64, "eval_every": 0, "g_widths": [32, 64],
              "d_widths": [64, 32]},
    "objectives": [{"loss": "bce"}],
    "evaluate": {"n_samples": 100, "prd_runs": 1, "prd_clusters": 5, "grid_images": 0, "refit_steps": 50,
                 "blocks": [{"sampler": "best_of", "k": [2, 4]}, {"sampler": "mh", "chain_length": [3]}]},
    "executor": {"local": {"workers": 1}},
}


@dataclass(frozen=True)
class BestOfSettings(RatioSettings):
    """Keep the best of k proposals by the ratio."""

    k: int = option(2, help="best-of-k: proposals per returned sample")

    def __post_init__(self) -> None:
        super().__post_init__()
        require_int(self, "k", 1, 100)


def run_best_of(src: samplers.Proposals, n: int, p: BestOfSettings, rng) -> tuple[torch.Tensor, dict]:
    out = []
    for start in range(0, n, src.batch_size):
        b = min(src.batch_size, n - start)
        x, lr = src.draw(b * p.k)
        best = torch.as_tensor(lr.reshape(b, p.k).argmax(axis=1) + np.arange(b) * p.k)
        out.append(x[best].cpu())
    images = torch.cat(out) if out else src.empty()
    return images, {"acceptance_rate": 1.0 / p.k, "proposals": n * p.k, "accepted": n,
                    **cost.record(n, g=n * p.k, d=n * p.k)}


TOY = Sampler("best_of", "best-of-k", "the best of k proposals by the ratio", BestOfSettings, run_best_of,
              family="beyond", words=lambda s: f"best of {registry.number(s, 'k'):g}")


@pytest.fixture
def toy_sampler():
    samplers.register(TOY)
    try:
        yield TOY
    finally:
        registry.unregister(TOY.name)


def test_the_registry_lists_every_sampler_once_in_table_order() -> None:
    assert registry.names() == ("none", "drs", "obrs", "mh", "langevin", "adaptive")
    assert registry.names("rejection") == ("none", "drs", "obrs")
    assert registry.column_names() == ("gamma", "gamma_convention", "target_acceptance", "budget", "chain_length",
                                       "steps", "step_size", "langevin_noise", "components")
    with pytest.raises(ValueError, match="registered twice"):
        samplers.register(registry.get("drs"))
    with pytest.raises(KeyError, match="unknown sampler 'hmc'; registered: none, drs"):
        registry.get("hmc")


def test_parameters_round_trip_through_plain_data_and_keep_each_sampler_to_its_own_keys() -> None:
    for name, entry in registry.REGISTRY.items():
        p = SamplingParams.of(method=name, sigma=0.8)
        assert SamplingParams.from_dict(p.to_dict()) == p and isinstance(p.settings, entry.config)
        assert p.hashed_dict()["sampler_version"] == entry.version
        labels = p.labels()
        assert list(labels) == ["sigma", "psi", "sampler", *registry.column_names(), "discriminator"]
        assert all(labels[c] is None for c in registry.column_names() if c not in entry.result_columns())
    drs = SamplingParams.of(method="drs", acceptance=0.88)
    assert drs.gamma_convention == "acceptance" and drs.labels()["target_acceptance"] == 0.88
    assert drs.labels()["gamma"] is None  # γ is found per model, not a setting
    with pytest.raises(ConfigError, match=r'^chain_length: applies to sampler = "mh", not \'drs\''):
        SamplingParams.of(method="drs", chain_length=3)


def test_a_new_sampler_is_one_registry_entry(toy_sampler: Sampler, tmp_path: Path) -> None:
    """A toy sampler registered as one entry: the spec reads its keys (a list is a grid axis),
    the CLI has its option, the cells carry its labels, a study runs it, the aggregate has its
    column and the equal-cost table shows it in its own words."""
    spec = parse_spec(TOY_STUDY, str(tmp_path / "toy.toml"))
    cells = [c for c in expand(spec) if c.labels.get("sampler") == "best_of"]
    assert sorted(c.labels["k"] for c in cells) == [2, 4]
    assert all(c.config["sampling"]["k"] == c.labels["k"] for c in cells)
    with pytest.raises(ConfigError, match=r"blocks\[0\]\.k: 0 is not allowed; expected an integer from 1 to 100"):
        parse_spec({**TOY_STUDY, "evaluate": {**TOY_STUDY["evaluate"], "blocks": [{"sampler": "best_of", "k": [0]}]}},
                   "toy.toml")
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert "--k" in {s for a in sub.choices["sample"]._actions for s in a.option_strings}

    report = study.run(spec, tmp_path / "runs", executor="inprocess", progress=False)
    assert report.ok, report.failed
    frame = results.load_results(tmp_path / "runs" / "toy")
    toy = frame[frame["sampler"] == "best_of"]
    assert sorted(toy["k"]) == [2, 4] and (toy["status"] == "ok").all()
    assert np.allclose(toy["acceptance_rate"], 1.0 / toy["k"]) and frame.loc[frame["sampler"] == "mh", "k"].isna().all()
    agg = aggregate.aggregate(frame)
    assert "k" in agg.columns
    table = tables.render(tables.build_beyond(agg))
    assert "best of 2" in table and "best of 4" in table and "MH K = 3" in table


def test_settings_classes_are_frozen_dataclasses_with_help() -> None:
    for entry in registry.REGISTRY.values():
        assert dataclasses.is_dataclass(entry.config) and entry.config.__dataclass_params__.frozen
        for f in dataclasses.fields(entry.config):
            assert f.metadata.get("help"), f"{entry.name}.{f.name} has no help text"
