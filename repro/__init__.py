"""repro: precision and recall of generative models, reproduced and extended.

When a change alters the numbers a cached result holds, bump the version of the component it
changes (``repro.core.versions``): cell ids and caches are keyed by them, so stale results are
recomputed, never reused.
"""

__version__ = "0.1.0"
