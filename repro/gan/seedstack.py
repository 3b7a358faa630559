"""Several seeds of one configuration as one stacked model: states in, stacked states out.

A training run's state between epochs is a set of tensors whose first axis is the seed axis, of
length one (``repro.gan.nets`` stacks every parameter and buffer; an Adam moment has its
parameter's shape). Stacking S runs is concatenating their states on that axis, and unstacking
is slicing it. Every operation of a training step acts on each seed's slice alone (batched
matrix products, one convolution per seed, elementwise optimiser and EMA updates, per-seed losses
and random streams), so a seed's numbers do not depend on which seeds share its stack
(``tests/test_train.py`` checks it bitwise; docs/architecture.md, "Seeds trained together").

Pure functions of tensors: no I/O, no randomness.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

State = Mapping[str, torch.Tensor]


def stack_states(states: Sequence[State]) -> dict[str, torch.Tensor]:
    """Module state dicts of one-seed stacks → the state dict of their stack (seed axis first)."""
    keys = list(states[0])
    if any(list(s) != keys for s in states):
        raise ValueError("the states to stack hold different tensors (not one configuration)")
    return {k: torch.cat([s[k] for s in states]) for k in keys}


def unstack_state(state: State, i: int) -> dict[str, torch.Tensor]:
    """Seed ``i``'s one-seed state dict (copies) out of a stacked state dict."""
    return {k: v[i:i + 1].clone() for k, v in state.items()}


def stack_optimizer(states: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """torch optimiser state dicts of one-seed runs → one for their stack; None where no step was
    taken yet (a fresh optimiser). Per-parameter step counts must agree: a stack steps together."""
    if not any(s["state"] for s in states):
        return None
    if not all(s["state"] for s in states):
        raise ValueError("some optimiser states have taken steps and some have not: not one epoch")
    out: dict[str, Any] = {"state": {}, "param_groups": states[0]["param_groups"]}
    for idx, first in states[0]["state"].items():
        entry: dict[str, torch.Tensor] = {}
        for key, value in first.items():
            parts = [s["state"][idx][key] for s in states]
            if value.dim() == 0:  # the step count: one for the stack
                if any(not torch.equal(p, value) for p in parts):
                    raise ValueError(f"optimiser step counts differ across the stack ({key})")
                entry[key] = value.clone()
            else:
                entry[key] = torch.cat(parts)
        out["state"][idx] = entry
    return out


def unstack_optimizer(state: Mapping[str, Any], i: int) -> dict[str, Any]:
    """Seed ``i``'s one-seed optimiser state dict (copies) out of a stacked one."""
    return {"state": {idx: {k: v.clone() if v.dim() == 0 else v[i:i + 1].clone() for k, v in entry.items()}
                      for idx, entry in state["state"].items()},
            "param_groups": state["param_groups"]}


def clip_grad_norm_per_seed(params: Sequence[torch.Tensor], max_norm: float) -> torch.Tensor:
    """Scale each seed's gradients so that their joint 2-norm is at most ``max_norm`` (torch's
    ``clip_grad_norm_`` for every seed of a stack apart); returns the norms (S,)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(0)
    norms = torch.stack([g.pow(2).flatten(1).sum(1) for g in grads]).sum(0).sqrt()  # (S,)
    coef = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef.view(-1, *([1] * (g.dim() - 1))))
    return norms
