"""Failure injection for the study tests, outside the production code.

Put this folder on PYTHONPATH and set REPRO_FAIL_CELLS=kl,rkl: every Python process started with
that environment (the ``study run`` under test and its spawned pool workers alike) imports this
module at start-up, and training cells of those objectives then fail as a crashing cell would.
"""

import os

if os.environ.get("REPRO_FAIL_CELLS"):
    from repro.harness import study

    _real_run_train = study._run_train
    _failing = set(os.environ["REPRO_FAIL_CELLS"].split(","))

    def _run_train(store, cell, cell_dir):
        if cell.labels.get("objective") in _failing:
            raise RuntimeError("failure injected by REPRO_FAIL_CELLS (tests/hooks/sitecustomize.py)")
        return _real_run_train(store, cell, cell_dir)

    study._run_train = _run_train
