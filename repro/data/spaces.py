"""The feature spaces an evaluation can measure in, by name (docs/maths.md §7.2).

- ``classifier`` (``repro.data.features``): the CNN classifier's 128-d penultimate layer, the
  primary space: every table and figure, the training bar and the class metrics (Inception-style
  score, class histogram) are measured in it;
- ``autoencoder`` (``repro.data.autoencoder``): a convolutional autoencoder's 32-d code, trained
  without labels, another architecture and seed: the second space a study's verdicts are checked
  in (``[evaluate] feature_spaces``).

Adding a space is one entry here, with its name in ``repro.core.vocab.FEATURE_SPACES``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable

from repro.core import versions
from repro.core.vocab import FEATURE_SPACES, PRIMARY_SPACE
from repro.data import autoencoder, features


@dataclass(frozen=True)
class Space:
    """A named feature space: its configuration class, its cached loader and its network's version
    (``repro.core.versions``), which a features cell of the space hashes."""

    name: str
    config: type
    load_or_train: Callable[..., features.FeatureSpace]
    version: int


SPACES: dict[str, Space] = {s.name: s for s in (
    Space("classifier", features.ClassifierConfig, features.load_or_train, versions.FEATURES),
    Space("autoencoder", autoencoder.AutoencoderConfig, autoencoder.load_or_train, versions.AUTOENCODER),
)}
assert tuple(SPACES) == FEATURE_SPACES and FEATURE_SPACES[0] == PRIMARY_SPACE, "one list of spaces, in vocab"


def get(name: str) -> Space:
    return SPACES[name]


def load(dataset: Any, name: str = PRIMARY_SPACE, progress: bool = False) -> features.FeatureSpace:
    """The cached feature space ``name`` of ``dataset`` (a name or a ``Dataset``) at its default configuration."""
    return SPACES[name].load_or_train(dataset, progress=progress)


def default_config(name: str) -> dict[str, Any]:
    """The default configuration of space ``name``, as a features cell records it."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(SPACES[name].config()).items()}
