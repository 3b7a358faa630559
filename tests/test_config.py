"""repro.core.config (the typed loader) and repro.cli.options (the CLIs generated from it)."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from repro import samplers
from repro.cli import build_parser, options
from repro.core import config
from repro.core.errors import ConfigError
from repro.evaluation import EvalSettings
from repro.gan.config import TrainConfig
from repro.harness.executors import Resources, SlurmSettings
from repro.samplers import SamplingParams, option_classes


@dataclasses.dataclass(frozen=True)
class Inner:
    k: int = 1
    mode: str = config.option("a", choices=("a", "b"))

    def __post_init__(self) -> None:
        config.check_choices(self)
        config.check_minimum(self, {"k": 1})


@dataclasses.dataclass(frozen=True)
class Outer:
    rate: float = 0.1
    widths: tuple[int, ...] = (8,)
    pair: tuple[float, float] | None = None
    flag: bool = False
    inner: Inner = Inner()
    named: dict[str, Inner] = dataclasses.field(default_factory=dict)


def test_values_are_typed_and_normalised() -> None:
    got = config.load(Outer, {"rate": 1, "widths": [4, 8], "pair": [0, 0.5], "flag": True,
                              "inner": {"k": 3}, "named": {"x": {"mode": "b"}}})
    assert got == Outer(1.0, (4, 8), (0.0, 0.5), True, Inner(3), {"x": Inner(mode="b")})
    assert isinstance(got.rate, float)  # an integer where a number is meant becomes a float
    assert config.load(Outer, {}) == Outer()  # absent fields keep their defaults
    assert config.load(Outer, {"pair": None}).pair is None


@pytest.mark.parametrize(("data", "message"), [
    ({"rate": "fast"}, "cfg.rate: expected a number, got a string 'fast'"),
    ({"rate": True}, "cfg.rate: expected a number, got a boolean True"),  # a bool is not a number
    ({"rate": float("nan")}, "cfg.rate: expected a number"),
    ({"widths": [4, 2.5]}, "cfg.widths[1]: expected an integer, got a number 2.5"),
    ({"pair": [1.0]}, "cfg.pair: expected a list of 2 numbers or none, got a list [1.0]"),
    ({"flag": 1}, "cfg.flag: expected true or false, got an integer 1"),
    ({"inner": {"k": 0}}, "cfg.inner.k: 0 is too small; expected an integer ≥ 1"),
    ({"inner": {"mode": "c"}}, "cfg.inner.mode: 'c' is not allowed; expected one of a, b"),
    ({"named": {"x": {"kk": 1}}}, "cfg.named.x.kk: unknown field; allowed here: k, mode"),
    ({"inner": 3}, "cfg.inner: expected Inner, got an integer 3"),
    ({"colour": "red"}, "cfg.colour: unknown field; allowed here: flag, inner, named, pair, rate, widths"),
])
def test_errors_name_the_dotted_path_and_what_is_allowed(data: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        config.load(Outer, data, "cfg")
    assert str(info.value).startswith(message), str(info.value)


def test_a_cross_field_rule_of_the_class_is_named_by_its_field() -> None:
    with pytest.raises(ConfigError, match=r"^blocks\[0\]\.acceptance: is the target of gamma_convention"):
        SamplingParams.from_dict({"method": "drs", "acceptance": 0.5, "gamma_convention": "percentile"}, "blocks[0]")
    with pytest.raises(ConfigError, match=r"^train\.gen_form: gen_form='log' needs aux kl or rkl"):
        config.load(TrainConfig, {"loss": "pr", "gen_form": "log", "aux": "chi2"}, "train")


@pytest.mark.parametrize("cls", [TrainConfig, EvalSettings, Resources, SlurmSettings, *option_classes()[1:]])
def test_every_configuration_round_trips_through_plain_data(cls: type) -> None:
    """asdict → JSON-like lists → load gives the same object: checkpoints and cells reload."""
    plain = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cls()).items()}
    assert config.load(cls, plain) == cls()


@pytest.mark.parametrize(("text", "hint", "value"), [
    ("128,256", tuple[int, ...], (128, 256)), ("0.5,0.99", tuple[float, float] | None, (0.5, 0.99)),
    ("none", float | None, None), ("off", bool | None, False), ("3", int, 3), ("kl", str, "kl"),
])
def test_command_line_text_is_parsed_by_the_field_type(text: str, hint, value) -> None:
    assert config.parse_text(text, hint) == value


def _options_of(command: str) -> set[str]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {s for a in sub.choices[command]._actions for s in a.option_strings}


@pytest.mark.parametrize(("command", "cls"), [("train", TrainConfig), *(("sample", c) for c in option_classes())])
def test_both_clis_have_an_option_for_every_field(command: str, cls: type) -> None:
    flags = _options_of(command)
    for f in dataclasses.fields(cls):
        assert f.name == "settings" or "--" + f.name.replace("_", "-") in flags, f.name


def test_the_generated_options_build_the_dataclass_with_its_choices_and_switches() -> None:
    p = argparse.ArgumentParser()
    options.add_options(p, SamplingParams, skip=("settings",))
    options.add_options(p, samplers.get("drs").config)
    args = p.parse_args(["--method", "drs", "--acceptance", "0.88", "--gamma-convention", "acceptance",
                         "--psi", "none", "--no-update-M", "--calibrate"])
    assert options.given(args) == {"method": "drs", "acceptance": 0.88, "gamma_convention": "acceptance",
                                   "psi": None, "update_M": False, "calibrate": True}
    assert SamplingParams.from_dict(options.given(args)).update_M is False
    with pytest.raises(SystemExit):
        p.parse_args(["--gamma-convention", "relative"])  # choices come from the field's declaration
    with pytest.raises(ConfigError, match="method: 'hmc' is not allowed; expected one of none, drs"):
        SamplingParams.from_dict(options.given(p.parse_args(["--method", "hmc"])))  # the registry's names
