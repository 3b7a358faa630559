"""The project's vocabulary: every name a spec, a configuration, a result column or a table may
use, declared once. Other modules import these; none types the lists out again.

Order matters where it is shown: objectives and samplers appear in tables and figures in the
order given here.
"""

from __future__ import annotations

from typing import Final

# data
DATASETS: Final = ("mnist", "fashion-mnist")
NUM_CLASSES: Final = 10  # both data sets: ten classes (digits, garment types)
SPLITS: Final = ("val", "test")  # the reference split an evaluation compares against
# the embeddings an evaluation can measure in (repro.data.spaces); the first is the primary space,
# where the tables, the training bar and the class metrics are measured
FEATURE_SPACES: Final = ("classifier", "autoencoder")
PRIMARY_SPACE: Final = FEATURE_SPACES[0]

# objectives (docs/maths.md §3–4)
F_GAN_OBJECTIVES: Final = ("bce", "js", "kl", "rkl")  # one model per seed (and protocol)
OBJECTIVES: Final = (*F_GAN_OBJECTIVES, "pr")  # pr: the λ-PR GAN, one model per λ
CEILING: Final = "real"  # not an objective: held-out real images scored as a model (the ceiling row)
DIVERGENCES: Final = ("bce", "js", "kl", "rkl", "chi2")  # a critic's divergence (docs/maths.md §3.1)
AUX_DIVERGENCES: Final = ("chi2", "kl", "rkl")  # the λ-PR discriminator's
GENERATOR_FORMS: Final = ("minimax", "nonsaturating")  # f-GAN generator losses (docs/maths.md §3.3)
PR_GENERATOR_FORMS: Final = ("primal", "log")  # λ-PR generator losses
# how a model starts: from scratch, or fine-tuned from another objective's model of the same seed
# (λ-PR always; an f-GAN objective in the paired protocol, docs/maths.md §9.4)
PROTOCOLS: Final = ("scratch", "fine-tuned")
CRITICS: Final = ("dual", "logistic")  # D's loss: its divergence's dual bound, or the logistic loss (docs/maths.md §3.4)

# sampling (docs/maths.md §5–6)
# the samplers themselves are the entries of repro.samplers.registry
GAMMA_CONVENTIONS: Final = ("absolute", "percentile", "acceptance")
DEFAULT_GAMMA_CONVENTION: Final = "percentile"  # Azadi et al.'s code; one default for spec, API and CLI
DISCRIMINATORS: Final = ("refit", "raw")  # which D a ratio-based sampler scores with (docs/maths.md §6.4)
PREFERRED_DISCRIMINATOR: Final = "refit"  # the method; a table or claim shows it when a study has both

# the study
STAGES: Final = ("features", "train", "evaluate")
STACK_SEEDS: Final = ("auto", "always", "never")  # train a configuration's seeds as one stacked model (repro.harness.study)
EXECUTORS: Final = ("inprocess", "local", "slurm")
