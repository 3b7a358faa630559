"""Shared test configuration: hypothesis profiles, chosen with HYPOTHESIS_PROFILE.

- ``default`` (``make test``): 50 examples per property, no deadline (2 shared CPU cores).
- ``ci``: 1000 examples per property, derandomised so that a CI run is reproducible.
- ``thorough`` (``make proptest``): 2000 examples per property.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# Timing varies a lot on shared CPUs (training jobs run beside the tests): no deadlines, and
# slow data generation is not a failure.
_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])

settings.register_profile("default", max_examples=50, **_COMMON)
settings.register_profile("ci", max_examples=1000, derandomize=True, print_blob=True, **_COMMON)
settings.register_profile("thorough", max_examples=2000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
