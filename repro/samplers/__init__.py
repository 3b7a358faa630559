"""The samplers: a registry of entries (``registry``), the parameters that pick one
(``params``), what they draw from (``proposals``) and the one entry point ``sample``
(``driver``). The rejection samplers (``rejection``: plain, DRS, OBRS) and the samplers beyond
rejection (``chains``: MH, Langevin, adaptive truncation) register themselves on import; the
registry lists them by family, then in the order registered. Adding a sampler:
docs/architecture.md, "Add a sampler".
"""

from repro.samplers import chains, rejection
from repro.samplers.driver import DEFAULT_BATCH_SIZE, sample
from repro.samplers.params import SamplingParams, option_classes
from repro.samplers.proposals import Proposals, fit_platt, truncated_latents
from repro.samplers.registry import REGISTRY, Sampler, get, register
from repro.samplers.rejection import AcceptanceTooLowError

__all__ = ["DEFAULT_BATCH_SIZE", "REGISTRY", "AcceptanceTooLowError", "Proposals", "Sampler", "SamplingParams",
           "fit_platt", "get", "option_classes", "register", "sample", "truncated_latents"]
