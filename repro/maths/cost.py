"""What a sampler spends, in one unit, so that samplers are compared at equal cost
(docs/maths.md §6.8).

One unit is a forward pass of G or of D on one sample. A gradient evaluation of log r(G(z))
(Langevin) is a forward and a backward pass of both networks, a backward pass costing about two
forwards: ``GRAD_UNITS`` = 6. Per-sample costs count what is spent for the returned samples;
the one-off costs of a run (the burn-in that fixes M and the rule's constants, the fit of an
adaptive truncation) are recorded apart (``setup_*``), and the refit of the discriminator, shared
by every sampler of a model, is not counted.
"""

from __future__ import annotations

from typing import Any

GRAD_UNITS = 6.0


def record(n: int, g: float, d: float, grad: float = 0.0, setup_g: float = 0.0, setup_d: float = 0.0) -> dict[str, Any]:
    """The cost statistics of a run that returned n samples (counts are totals over the run)."""
    per = (g + d + GRAD_UNITS * grad) / n if n else 0.0
    return {"g_evals": g, "d_evals": d, "grad_evals": grad, "setup_g_evals": setup_g, "setup_d_evals": setup_d,
            "cost_per_sample": per}
