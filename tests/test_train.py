"""repro.gan.train: objectives' gradient signs, divergence handling, bitwise determinism and resume,
JS(non-saturating) == BCE, fine-tuning, loading, the CLI. Tiny networks, a few hundred images."""

from __future__ import annotations

import csv
import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from repro.core.errors import ConfigError, DataError
from repro.core.runtime import PROJECT_ROOT
from repro.gan import checkpoint, config as C, losses as L, train as T
from repro.maths import divergences

TINY = dict(train_size=256, batch_size=32, g_widths=(16, 32), d_widths=(32, 16), z_dim=8,
            eval_every=0, epochs=2, check_every=3)


def tiny(**kw) -> T.TrainConfig:
    return T.TrainConfig(**{**TINY, **kw})


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    blob = torch.load(run_dir / T.CHECKPOINT, weights_only=True)
    out = {f"G.{k}": v for k, v in blob["generator"].items()}
    out |= {f"D.{k}": v for k, v in blob["discriminator"].items()}
    if blob["generator_ema"] is not None:
        out |= {f"E.{k}": v for k, v in blob["generator_ema"].items()}
    for name in ("opt_g", "opt_d"):
        for pid, s in blob[name]["state"].items():
            out |= {f"{name}.{pid}.{k}": v for k, v in s.items()}
    return out


def assert_bitwise_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def differs(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return any(not torch.equal(a[k], b[k]) for k in a)


# --------------------------------------------------------------------------- config


def test_config_unknown_keys_and_validation() -> None:
    with pytest.raises(ConfigError, match="^lr: unknown field; allowed here: arch, aux"):
        T.TrainConfig.from_dict({"lr": 1e-3})
    with pytest.raises(ConfigError, match="loss"):
        T.TrainConfig(loss="wgan")
    with pytest.raises(ConfigError, match="gen_form"):
        T.TrainConfig(loss="pr", gen_form="minimax")
    with pytest.raises(ConfigError, match="aux kl or rkl"):
        T.TrainConfig(loss="pr", aux="chi2", gen_form="log")
    with pytest.raises(ConfigError, match="ema"):
        T.TrainConfig(ema=1.0)
    cfg = T.TrainConfig.from_dict({"g_widths": [8, 16], "betas_d": [0.0, 0.9]})
    assert cfg.g_widths == (8, 16) and cfg.betas_d == (0.0, 0.9)


def test_per_objective_defaults() -> None:
    r = {loss: T.TrainConfig(loss=loss).resolve() for loss in C.LOSSES}
    assert r["bce"].gen_form == "nonsaturating"
    assert r["js"].gen_form == "minimax"  # non-saturating JS would duplicate BCE
    assert r["kl"].gen_form == "minimax"  # the form that descends the forward KL (docs/maths.md §3.3)
    assert r["rkl"].gen_form == "minimax"
    assert all(c.lr_g is not None and c.d_steps is not None and c.ema is not None and c.critic is not None
               and c.d_spectral_norm is not None for c in r.values())
    # the four objectives share one recipe (D, rates, EMA) and differ in what G descends; kl and rkl
    # take it against a logistic-loss ratio estimator (docs/maths.md §3.4)
    for loss in ("js", "kl", "rkl"):
        assert (r[loss].lr_g, r[loss].lr_d, r[loss].ema, r[loss].d_spectral_norm) == \
            (r["bce"].lr_g, r["bce"].lr_d, r["bce"].ema, r["bce"].d_spectral_norm)
    assert r["kl"].critic == r["rkl"].critic == "logistic" and r["kl"].ratio_divergence == "bce"
    assert T.TrainConfig(loss="kl", critic="dual").ratio_divergence == "kl"
    with pytest.raises(ConfigError, match="^critic: "):
        T.TrainConfig(loss="pr", critic="logistic")
    assert r["bce"].lr_d == 2 * r["bce"].lr_g  # two time-scales
    assert T.TrainConfig(loss="pr", aux="kl").ratio_divergence == "kl"
    assert T.TrainConfig(loss="pr", aux="kl").resolve().gen_form == "primal"
    assert T.TrainConfig(loss="pr").resolve().gen_form == "primal"  # Verine et al.'s loss, whatever the aux
    assert T.TrainConfig(loss="pr", aux="chi2").resolve().gen_form == "primal"
    assert T.TrainConfig(loss="pr", gen_form="log").resolve().gen_form == "log"
    assert T.TrainConfig(loss="rkl", critic="dual").ratio_divergence == "rkl"
    # explicit values win over the defaults
    assert T.TrainConfig(loss="js", gen_form="nonsaturating").resolve().gen_form == "nonsaturating"


# --------------------------------------------------------------------------- objectives


OBJECTIVES = [dict(loss=l) for l in ("bce", "js", "kl", "rkl")] + [
    dict(loss="js", gen_form="nonsaturating"), dict(loss="kl", gen_form="nonsaturating"),
    dict(loss="rkl", gen_form="nonsaturating"), dict(loss="kl", critic="dual"), dict(loss="rkl", critic="dual"),
    dict(loss="kl", critic="dual", gen_form="nonsaturating"),
    dict(loss="pr", aux="chi2", lam=0.5), dict(loss="pr", aux="kl", lam=0.5), dict(loss="pr", aux="rkl", lam=0.5),
    dict(loss="pr", aux="kl", lam=0.5, gen_form="log"),
]


@pytest.mark.parametrize("kw", OBJECTIVES, ids=lambda kw: "-".join(str(v) for v in kw.values()))
def test_gradient_signs(kw: dict) -> None:
    """A D step raises the dual bound on a fixed batch; a G step lowers G's loss against that D."""
    cfg = T.TrainConfig(**kw).resolve()
    torch.manual_seed(0)
    D = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    real, z = torch.randn(256, 4) + 1.0, torch.randn(256, 4)
    G = torch.nn.Linear(4, 4)

    def dual() -> float:
        with torch.no_grad():
            return float(divergences.dual_objective(D(real).squeeze(1), D(G(z)).squeeze(1), cfg.ratio_divergence))

    before = dual()
    opt = torch.optim.SGD(D.parameters(), lr=0.05)
    loss = T.d_loss(D(real).squeeze(1), D(G(z).detach()).squeeze(1), cfg)
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert dual() > before

    epoch = 10  # after any warm-up
    with torch.no_grad():
        g_before = float(T.g_loss(D(G(z)).squeeze(1), cfg, epoch))
    opt_g = torch.optim.SGD(G.parameters(), lr=0.01)
    loss_g = T.g_loss(D(G(z)).squeeze(1), cfg, epoch)
    opt_g.zero_grad()
    loss_g.backward()
    assert any(float(p.grad.abs().sum()) > 0 for p in G.parameters())
    opt_g.step()
    with torch.no_grad():
        assert float(T.g_loss(D(G(z)).squeeze(1), cfg, epoch)) < g_before


@pytest.mark.parametrize("aux", C.AUX_DIVERGENCES)
def test_pr_warmup_gives_gradient_at_large_lambda(aux: str) -> None:
    """docs/maths.md §4 trap: with r ≈ 1 (an untrained D) and λ ≥ 1, min(λ r, 1) = 1 passes no gradient;
    the warm-up λ₀ (off by default: the default recipe fine-tunes a trained model) does."""
    cfg = T.TrainConfig(loss="pr", aux=aux, lam=5.0, pr_warmup_epochs=2).resolve()
    v_one = {"chi2": 0.0, "kl": 1.0, "rkl": 0.0}[aux]  # r = 1
    v = torch.full((4,), v_one, requires_grad=True)
    T.g_loss(v, cfg, epoch=cfg.pr_warmup_epochs).backward()
    assert float(v.grad.abs().sum()) == 0
    v.grad = None
    T.g_loss(v, cfg, epoch=0).backward()
    assert bool((v.grad < 0).all())


def test_straight_through_clamp_passes_gradient() -> None:
    v = torch.tensor([-50.0, 0.0, 50.0], requires_grad=True)
    out = L.straight_through_clamp(v, 10.0)
    assert out.tolist() == [-10.0, 0.0, 10.0]
    out.sum().backward()
    assert v.grad.tolist() == [1.0, 1.0, 1.0]


def test_pr_warmup_lambda() -> None:
    cfg = T.TrainConfig(loss="pr", lam=5.0, pr_warmup_epochs=2, pr_warmup_lam=0.1)
    assert [L.pr_lambda(cfg, e) for e in range(4)] == [0.1, 0.1, 5.0, 5.0]
    assert L.pr_lambda(dataclasses.replace(cfg, lam=0.05), 0) == 0.05


# --------------------------------------------------------------------------- runs


def test_determinism_bitwise(tmp_path: Path) -> None:
    a = T.train(tiny(), tmp_path / "a", progress=False)
    T.train(tiny(), tmp_path / "b", progress=False)
    T.train(tiny(seed=1), tmp_path / "c", progress=False)
    assert a["status"] == "ok" and a["epochs_done"] == 2
    wa = weights(tmp_path / "a")
    assert_bitwise_equal(wa, weights(tmp_path / "b"))
    assert differs(wa, weights(tmp_path / "c"))
    saved = json.loads((tmp_path / "a" / T.CONFIG).read_text())
    assert T.TrainConfig.from_dict(saved["config"]) == tiny().resolve()
    assert json.loads((tmp_path / "a" / T.RESULT).read_text())["status"] == "ok"


def test_global_rng_does_not_matter(tmp_path: Path) -> None:
    torch.manual_seed(1)
    T.train(tiny(epochs=1), tmp_path / "a", progress=False)
    torch.manual_seed(2)
    torch.rand(10)
    T.train(tiny(epochs=1), tmp_path / "b", progress=False)
    assert_bitwise_equal(weights(tmp_path / "a"), weights(tmp_path / "b"))


def test_resume_equals_uninterrupted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tiny(epochs=3, d_steps=2, g_steps=2)
    T.train(cfg, tmp_path / "full", progress=False)

    real_epoch = T._train_epoch
    calls = {"n": 0}

    def interrupted(st, *args, **kw):
        calls["n"] += 1
        if calls["n"] == 2:  # killed in the middle of epoch 2, after some steps
            real_epoch(st, *args, **kw)
            raise KeyboardInterrupt
        return real_epoch(st, *args, **kw)

    monkeypatch.setattr(T, "_train_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        T.train(cfg, tmp_path / "resumed", progress=False)
    monkeypatch.setattr(T, "_train_epoch", real_epoch)
    assert torch.load(tmp_path / "resumed" / T.CHECKPOINT, weights_only=True)["epoch"] == 1
    r = T.train(cfg, tmp_path / "resumed", progress=False)
    assert r["status"] == "ok" and r["epochs_done"] == 3
    assert_bitwise_equal(weights(tmp_path / "full"), weights(tmp_path / "resumed"))


def test_a_seed_does_not_depend_on_its_group(tmp_path: Path) -> None:
    """Seeds trained together as one stack: seed 1's run is bitwise the same alone, with seed 0
    before it, and with seeds 2 and 3 after it (its position and partners change)."""
    cfg = tiny(d_dropout=0.3)
    T.train(dataclasses.replace(cfg, seed=1), tmp_path / "alone", progress=False)
    T.train_group([dataclasses.replace(cfg, seed=s) for s in (0, 1)], [tmp_path / "g01-0", tmp_path / "g01-1"],
                  progress=False)
    T.train_group([dataclasses.replace(cfg, seed=s) for s in (1, 2, 3)],
                  [tmp_path / "g123-1", tmp_path / "g123-2", tmp_path / "g123-3"], progress=False)
    alone = weights(tmp_path / "alone")
    assert_bitwise_equal(alone, weights(tmp_path / "g01-1"))
    assert_bitwise_equal(alone, weights(tmp_path / "g123-1"))
    assert differs(alone, weights(tmp_path / "g01-0"))
    curve = list(csv.DictReader((tmp_path / "g123-2" / T.CURVE).open()))
    assert {row["seeds_in_stack"] for row in curve} == {"3"}


def test_a_killed_group_resumes_bitwise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A group killed in its second epoch resumes from its checkpoints to the same weights; so do
    seeds whose checkpoints are at different epochs (they train apart until they meet)."""
    cfg = tiny(epochs=3, d_dropout=0.3)
    cfgs = [dataclasses.replace(cfg, seed=s) for s in (0, 1)]
    T.train_group(cfgs, [tmp_path / "full0", tmp_path / "full1"], progress=False)
    real_epoch, calls = T._train_epoch, {"n": 0}

    def killed(st, *args, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            real_epoch(st, *args, **kw)
            raise KeyboardInterrupt
        return real_epoch(st, *args, **kw)

    monkeypatch.setattr(T, "_train_epoch", killed)
    with pytest.raises(KeyboardInterrupt):
        T.train_group(cfgs, [tmp_path / "res0", tmp_path / "res1"], progress=False)
    monkeypatch.setattr(T, "_train_epoch", real_epoch)
    T.train_group(cfgs, [tmp_path / "res0", tmp_path / "res1"], progress=False)
    # staggered: seed 0 saved at epoch 2, seed 1 at epoch 1
    T.train(dataclasses.replace(cfgs[0], epochs=2), tmp_path / "stag0", progress=False)
    T.train(dataclasses.replace(cfgs[1], epochs=1), tmp_path / "stag1", progress=False)
    results = T.train_group(cfgs, [tmp_path / "stag0", tmp_path / "stag1"], progress=False)
    assert [r["epochs_done"] for r in results] == [3, 3]
    for s in (0, 1):
        assert_bitwise_equal(weights(tmp_path / f"full{s}"), weights(tmp_path / f"res{s}"))
        assert_bitwise_equal(weights(tmp_path / f"full{s}"), weights(tmp_path / f"stag{s}"))


def test_a_diverged_seed_leaves_its_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One seed's non-finite loss ends that seed's run as diverged; its partner trains on, bitwise
    as alone; a folder that cannot start is that seed's error with isolate=True."""
    cfg = tiny(epochs=3)
    T.train(dataclasses.replace(cfg, seed=1), tmp_path / "alone", progress=False)
    real_g_loss = T.g_loss

    def poisoned(v, c, epoch):  # seed 0 (the first of the stack) gets NaN from its second epoch
        loss = real_g_loss(v, c, epoch)
        return loss * torch.tensor([float("nan"), 1.0]) if epoch == 1 else loss

    monkeypatch.setattr(T, "g_loss", poisoned)
    r0, r1 = T.train_group([dataclasses.replace(cfg, seed=s) for s in (0, 1)], [tmp_path / "s0", tmp_path / "s1"],
                           progress=False)
    assert r0["status"] == "diverged" and "non-finite" in r0["reason"] and r0["epochs_done"] == 1
    assert r1["status"] == "ok" and r1["epochs_done"] == 3
    assert_bitwise_equal(weights(tmp_path / "alone"), weights(tmp_path / "s1"))
    monkeypatch.setattr(T, "g_loss", real_g_loss)
    T.train(tiny(epochs=1, lam=2.0, seed=4), tmp_path / "foreign", progress=False)
    out = T.train_group([tiny(epochs=1, seed=4), tiny(epochs=1, seed=5)], [tmp_path / "foreign", tmp_path / "s5"],
                        progress=False, isolate=True)
    assert isinstance(out[0], ConfigError) and "another configuration" in str(out[0])
    assert out[1]["status"] == "ok"
    with pytest.raises(ConfigError, match="differ in 'lr_g'"):
        T.train_group([tiny(seed=0), tiny(seed=1, lr_g=1e-3)], [tmp_path / "x0", tmp_path / "x1"], progress=False)
    with pytest.raises(ConfigError, match="distinct seeds"):
        T.train_group([tiny(seed=0), tiny(seed=0)], [tmp_path / "y0", tmp_path / "y1"], progress=False)


def test_extending_epochs_resumes(tmp_path: Path) -> None:
    T.train(tiny(epochs=3), tmp_path / "full", progress=False)
    T.train(tiny(epochs=1), tmp_path / "ext", progress=False)
    T.train(tiny(epochs=3), tmp_path / "ext", progress=False)
    assert_bitwise_equal(weights(tmp_path / "full"), weights(tmp_path / "ext"))


def test_other_config_in_folder_is_an_error(tmp_path: Path) -> None:
    T.train(tiny(epochs=1), tmp_path / "a", progress=False)
    with pytest.raises(ConfigError, match="another configuration"):
        T.train(tiny(epochs=1, lam=2.0), tmp_path / "a", progress=False)


@pytest.mark.parametrize("damage, fragment", [
    (lambda b: b.pop("rng"), "cannot be resumed: it lacks ['rng']"),
    (lambda b: b.pop("config"), "is not a repro checkpoint"),
], ids=["no-rng", "no-config"])
def test_a_checkpoint_that_cannot_be_resumed_is_named_or_discarded(tmp_path: Path, damage, fragment) -> None:
    """A resume reads the checkpoint through the safe reader: one clear DataError, never a
    KeyError; a study discards such a checkpoint of an unfinished run and starts it again."""
    T.train(tiny(epochs=1), tmp_path / "a", progress=False)
    path = tmp_path / "a" / T.CHECKPOINT
    blob = torch.load(path, weights_only=True)
    damage(blob)
    torch.save(blob, path)
    with pytest.raises(DataError, match=re.escape(fragment)):
        T.train(tiny(epochs=2), tmp_path / "a", progress=False)
    assert fragment in checkpoint.discard_damaged_checkpoint(tmp_path / "a") and not path.exists()
    assert checkpoint.discard_damaged_checkpoint(tmp_path / "a") is None
    T.train(tiny(epochs=1), tmp_path / "b", progress=False)
    assert checkpoint.discard_damaged_checkpoint(tmp_path / "b") is None and (tmp_path / "b" / T.CHECKPOINT).is_file()


def test_nonsaturating_js_equals_bce(tmp_path: Path) -> None:
    same = dict(lr_d=2e-4)  # the identity needs equal hyper-parameters (bce's default lr_d differs)
    T.train(tiny(loss="bce", **same), tmp_path / "bce", progress=False)
    T.train(tiny(loss="js", gen_form="nonsaturating", **same), tmp_path / "jsns", progress=False)
    T.train(tiny(loss="js", **same), tmp_path / "js", progress=False)  # the study's JS: minimax
    w = weights(tmp_path / "bce")
    assert_bitwise_equal(w, weights(tmp_path / "jsns"))
    assert differs(w, weights(tmp_path / "js"))


def test_injected_nan_ends_run_as_diverged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_g_loss = T.g_loss

    def poisoned(v, cfg, epoch):
        loss = real_g_loss(v, cfg, epoch)
        return loss * float("nan") if epoch == 1 else loss

    monkeypatch.setattr(T, "g_loss", poisoned)
    r = T.train(tiny(epochs=3), tmp_path / "run", progress=False)  # must not raise
    assert r["status"] == "diverged" and "non-finite" in r["reason"]
    assert r["epochs_done"] == 1
    blob = torch.load(tmp_path / "run" / T.CHECKPOINT, weights_only=True)
    assert blob["epoch"] == 1  # the last good checkpoint is kept
    assert all(torch.isfinite(v).all() for v in blob["generator"].values())
    saved = json.loads((tmp_path / "run" / T.RESULT).read_text())
    assert saved["status"] == "diverged" and saved["reason"] == r["reason"]
    assert checkpoint.load_trained(tmp_path / "run").epoch == 1


def test_divergence_in_first_epoch_keeps_initial_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(T, "d_loss", lambda vr, vf, cfg: (vr.mean() - vf.mean()) * float("inf"))
    r = T.train(tiny(epochs=2), tmp_path / "run", progress=False)
    assert r["status"] == "diverged" and r["epochs_done"] == 0
    assert checkpoint.load_trained(tmp_path / "run").epoch == 0
    rows = list(csv.DictReader((tmp_path / "run" / T.CURVE).open()))
    assert [int(x["epoch"]) for x in rows] == [1] and rows[0]["loss_d"] == ""


def test_collapse_and_explosion_checks() -> None:
    cfg = T.TrainConfig(max_abs_score=100.0)
    ok = torch.tensor(0.5)
    T._check(ok, ok, torch.randn(8), torch.randn(8), cfg, "here")
    with pytest.raises(T.Diverged, match="constant"):
        T._check(ok, ok, torch.full((8,), 3.0), torch.full((8,), 3.0), cfg, "here")
    with pytest.raises(T.Diverged, match="exploded"):
        T._check(ok, ok, torch.randn(8) * 1e3, torch.randn(8), cfg, "here")
    with pytest.raises(T.Diverged, match="non-finite"):
        T._check(torch.tensor(float("inf")), ok, torch.randn(8), torch.randn(8), cfg, "here")
    with pytest.raises(T.Diverged, match="loss exploded"):  # scores in bounds, mean loss not
        T._check(torch.tensor(3e4), ok, torch.randn(8), torch.randn(8), T.TrainConfig(max_abs_score=1e4), "here")


def test_init_from(tmp_path: Path) -> None:
    T.train(tiny(), tmp_path / "src", progress=False)
    # lr 0: the fine-tuned run must end exactly at the source's weights
    frozen = tiny(loss="pr", aux="rkl", lam=2.0, epochs=1, lr_g=0.0, lr_d=0.0)
    r = T.train(frozen, tmp_path / "ft", init_from=tmp_path / "src", progress=False)
    assert r["status"] == "ok" and r["init_from"] == str(tmp_path / "src")
    src, ft = torch.load(tmp_path / "src" / T.CHECKPOINT, weights_only=True), \
        torch.load(tmp_path / "ft" / T.CHECKPOINT, weights_only=True)
    # the fine-tuned G starts from the source's trained (EMA) generator, D from its D
    for src_part, ft_part in (("generator_ema", "generator"), ("generator_ema", "generator_ema"),
                              ("discriminator", "discriminator")):
        for k in src[src_part]:
            assert torch.equal(src[src_part][k], ft[ft_part][k])
    assert ft["init_from"] == str(tmp_path / "src")
    with pytest.raises(ConfigError, match="do not match"):
        T.train(tiny(g_widths=(8,)), tmp_path / "bad", init_from=tmp_path / "src", progress=False)


def test_load_trained(tmp_path: Path) -> None:
    T.train(tiny(loss="pr", aux="kl", lam=0.5), tmp_path / "run", progress=False)
    m = checkpoint.load_trained(tmp_path / "run")
    blob = torch.load(tmp_path / "run" / T.CHECKPOINT, weights_only=True)
    assert m.ratio_divergence == "kl" and m.z_dim == 8 and m.epoch == 2
    assert not m.generator.training and not m.discriminator.training
    for k, v in m.generator.stacked.state_dict().items():
        assert torch.equal(v, blob["generator_ema"][k])  # the EMA weights
    x = m.sample(10, torch.Generator().manual_seed(0))
    assert x.shape == (10, 1, 28, 28) and x.abs().max() <= 1
    assert m.log_ratio(x).shape == (10,)
    no_ema = T.train(tiny(ema=0.0), tmp_path / "noema", progress=False)
    assert no_ema["status"] == "ok"
    g = checkpoint.load_trained(tmp_path / "noema").generator.stacked.state_dict()
    raw = torch.load(tmp_path / "noema" / T.CHECKPOINT, weights_only=True)["generator"]
    assert all(torch.equal(g[k], raw[k]) for k in raw)


def test_dcgan_runs(tmp_path: Path) -> None:
    r = T.train(tiny(arch="dcgan", conv_channels=4, epochs=1), tmp_path / "run", progress=False)
    assert r["status"] == "ok"


def test_curve_csv(tmp_path: Path) -> None:
    r = T.train(tiny(eval_every=1, eval_samples=200), tmp_path / "run", progress=False)
    rows = list(csv.DictReader((tmp_path / "run" / T.CURVE).open()))
    assert [int(x["epoch"]) for x in rows] == [0, 1, 2]
    for row in rows:
        assert 0 <= float(row["precision"]) <= 1 and float(row["fid"]) > 0
    assert float(rows[1]["epoch_seconds"]) > 0
    assert r["initial_fid"] == pytest.approx(float(rows[0]["fid"]))
    assert set(r["final"]) == {"fid", "precision", "recall", "density", "coverage"}


def test_cli_tiny_run(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    cmd = [sys.executable, "-m", "repro", "train", "--loss", "rkl", "--epochs", "1", "--seed", "3",
           "--out", str(out), "--train-size", "128", "--batch-size", "32", "--g-widths", "16",
           "--d-widths", "16", "--eval-every", "0", "--no-progress", "--json", "--threads", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "ok" and result["config"]["loss"] == "rkl" and result["config"]["seed"] == 3
    assert (out / T.CHECKPOINT).is_file() and (out / T.CONFIG).is_file()
    bad = subprocess.run([*cmd[:4], "--out", str(tmp_path / "x"), "--lam", "-1"], capture_output=True,
                         text=True, cwd=PROJECT_ROOT, timeout=120)
    assert bad.returncode == 2 and "lam" in bad.stderr


def test_cli_train_out_that_is_a_file_or_unwritable_is_one_line(tmp_path: Path, capsys) -> None:
    from repro.cli import main

    existing = tmp_path / "notes.txt"
    existing.write_text("keep me")
    assert main(["train", "--out", str(existing), "--epochs", "1"]) == 2
    assert "is a file, not a run folder" in capsys.readouterr().err and existing.read_text() == "keep me"
    # a folder that cannot be made (its parent is a file): the OSError is one line, not a traceback
    assert main(["train", "--out", str(existing / "run"), "--epochs", "1"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert len(err) == 1 and str(existing) in err[0]


@pytest.mark.parametrize("field, value", [("lam", float("nan")), ("lr_g", float("inf")), ("clamp", float("nan")),
                                          ("betas_d", (0.5, float("nan")))])
def test_non_finite_numbers_are_refused(field: str, value) -> None:
    with pytest.raises(ConfigError, match=f"^{field}: .* is not allowed; expected a finite number"):
        T.TrainConfig(**{field: value})


@pytest.mark.parametrize("arg", ["--g-widths=-5,32", "--betas-g=1.5,0.9", "--lr-g=1e300", f"--seed={2**64}",
                                 "--z-dim=1000000000000", "--max-abs-score=-1"])
def test_cli_train_refuses_values_the_spec_refuses(arg: str, tmp_path: Path, capsys) -> None:
    """One validation for the CLI and the spec (TrainConfig): one line, exit 2, nothing written."""
    from repro.cli import main

    assert main(["train", arg, "--out", str(tmp_path / "run")]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "is not allowed" in err[0], err
    assert not (tmp_path / "run").exists()
