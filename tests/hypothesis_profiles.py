"""Hypothesis profiles. `make test` (the default, "repeatable") runs the same examples on every run, so CI's verdict
on a commit never depends on the draw: a property that fails, fails every time and on every machine. `make explore`
("explore") draws new examples on each run, more of them, to look for what the fixed set misses; a failure it
finds becomes a deterministic test of its own."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("repeatable", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))
