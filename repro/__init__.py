"""repro: precision and recall of generative models, reproduced and extended.

Bump ``CODE_VERSION`` when a change alters the numbers a cached result holds:
it is part of every cache key, so stale results are recomputed, never reused.
"""

__version__ = "0.1.0"
# Evaluation cells only (training results unchanged): bump when an evaluation's outputs change.
EVAL_PROTOCOL = 3  # 2: mode coverage from the classifier (classes_covered, class_kl); 3: the class
# diagnostics (fid_rebalanced, ratio_class_gap, classes.json)
CODE_VERSION = 5  # 2: refit D, real subset per evaluation seed, min-max KL, primal λ-PR; 3: DRS at a
# target acceptance keeps M; 4: one evaluation protocol (the training curve's real subset is drawn
# like an evaluation cell's, repro.evaluation) and one DRS γ convention default (percentile);
# 5: networks stacked over seeds (their checkpoints' layout), dropout masks from uniform draws,
# fused Adam, KL and RKL against a logistic ratio estimator
