"""The seeds' statements checked against a study: the reproduction ledger.

- ``core``: verdicts, the records (``Source``, ``Statement``, ``Verdict``) and the tests they share;
- ``objectives``, ``truncation``, ``rejection``, ``lambda_pr``: the checks, by subject;
  ``beyond``: the claims of the samplers beyond rejection, from their own papers;
- ``ledger``: every statement with its quoted sentence and test, and ``check_all``.

``check_all(agg, paired)`` → one ``Verdict`` per statement; ``Verdict.as_dict()`` is a record of
``runs/<study>/claims.json``. How each statement is tested: docs/maths.md §9.
"""

from repro.analysis.claims.beyond import ddls_improves, equal_cost_configs, mh_improves
from repro.analysis.claims.core import (
    ALPHA, CONTRADICTED, DOCUMENTS, INCONCLUSIVE, NOT_CONTRADICTED, SOURCE_INCONSISTENT, SUPPORTED, UNTESTABLE,
    VERDICTS, Outcome, Source, Statement, Verdict, combine, fmt_ci, fmt_rho, pick, sign, significant_signs,
    with_spaces,
)
from repro.analysis.claims.lambda_pr import lambda_beats_truncation, lambda_tradeoff
from repro.analysis.claims.ledger import STATEMENTS, check_all
from repro.analysis.claims.objectives import (
    bce_js_between_drs, bce_realistic, fgan_theory, forward_kl_trained, kl_best_prd, kl_drs_best_fid,
    kl_full_coverage, rkl_lowest_recall_drs, rkl_mode_collapse, rkl_vs_kl,
)
from repro.analysis.claims.rejection import (
    HIGH_ACCEPTANCE, RECALL_TOLERANCE, REFERENCE_ACCEPTANCE, REFERENCE_BUDGET, REFERENCE_GAMMA, SELECTIVE_ACCEPTANCE,
    STABLE_MARGIN, drs_gamma_acceptance, drs_precision, drs_selective_best_fid, drs_selective_stable, drs_selector,
    drs_soft_truncation, obrs_budget, obrs_fid, obrs_prd, published_selector, soft_truncation_sigma, table1_configs,
)
from repro.analysis.claims.truncation import prd_misses_sigma_trend, soft_truncation, soft_truncation_never_both

__all__ = [name for name in dir() if not name.startswith("_")]
