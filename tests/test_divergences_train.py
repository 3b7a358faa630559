"""The λ-PR generator-loss variant added for training (repro.maths.divergences.pr_generator_loss_log)."""

from __future__ import annotations

import math

import pytest
import torch

from repro.maths import divergences as dv


@pytest.mark.parametrize("aux", ["kl", "rkl"])
def test_log_form_by_hand(aux: str) -> None:
    v = torch.tensor([-3.0, 0.0, 2.0])
    lam = 2.0
    log_r = dv.log_ratio(v, aux)
    expected = -torch.clamp(log_r + math.log(lam), max=0.0).mean()
    assert torch.allclose(dv.pr_generator_loss_log(v, lam, aux), expected)
    # kl: log r = v − 1 → log λr = v − 1 + log 2: only the first two samples are below 0
    if aux == "kl":
        assert float(dv.pr_generator_loss_log(v, lam, aux)) == pytest.approx(-((-4 + math.log(2)) + (-1 + math.log(2))) / 3)


@pytest.mark.parametrize("aux", ["kl", "rkl"])
def test_log_form_gradient_does_not_vanish_where_primal_does(aux: str) -> None:
    v = torch.tensor([-30.0], requires_grad=True)  # D is sure the sample is fake: r ≈ 0
    dv.pr_generator_loss(v, 1.0, aux).backward()
    g_primal = float(v.grad)
    v.grad = None
    dv.pr_generator_loss_log(v, 1.0, aux).backward()
    g_log = float(v.grad)
    assert abs(g_primal) < 1e-9 and g_log == pytest.approx(-1.0)


@pytest.mark.parametrize("aux", ["kl", "rkl"])
def test_forms_share_the_saturated_set(aux: str) -> None:
    """Samples with λ r ≥ 1 get no gradient in either form; the others get one of the same sign."""
    v = torch.linspace(-4, 4, 41, requires_grad=True)
    lam = 3.0
    dv.pr_generator_loss(v, lam, aux).backward()
    gp = v.grad.clone()
    v.grad = None
    dv.pr_generator_loss_log(v, lam, aux).backward()
    gl = v.grad.clone()
    active = dv.log_ratio(v.detach(), aux) + math.log(lam) < 0
    assert torch.all(gp[~active] == 0) and torch.all(gl[~active] == 0)
    assert torch.all(torch.sign(gp[active]) == torch.sign(gl[active]))
    assert torch.all(gl[active] < 0)


def test_log_form_refuses_chi2() -> None:
    with pytest.raises(ValueError, match="chi2"):
        dv.pr_generator_loss_log(torch.zeros(3), 1.0, "chi2")
