"""repro: precision and recall of generative models, reproduced and extended.

When a change alters the numbers a cached result holds, bump the version of the component it
changes (``repro.core.versions``): cell ids and caches are keyed by them, so stale results are
recomputed, never reused.
"""

from typing import Any

from repro.core.versions import PACKAGE as __version__  # noqa: F401 - the package's version


def __getattr__(name: str) -> Any:
    # ``repro.evaluate(images, dataset="mnist")``: the metric suite of any samples
    # (``repro.evaluation.evaluate``), imported on first use so that ``import repro`` stays light
    if name == "evaluate":
        from repro.evaluation import evaluate  # noqa: PLC0415

        return evaluate
    raise AttributeError(f"module 'repro' has no attribute {name!r}")
