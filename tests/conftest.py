"""Test-wide settings.

Hypothesis: the "ci" profile (loaded unless HYPOTHESIS_PROFILE names another) has no
deadline, since CI machines are small and shared, and prints a reproduction blob on
failure. Runs stay random, but each run uses one seed that is printed in the header, so a
failure can be replayed with ``pytest --hypothesis-seed=N``.
"""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import settings

settings.register_profile("ci", deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # Runs before Hypothesis' own plugin reads the option.
    if config.getoption("hypothesis_seed", default=None) is None:
        config.option.hypothesis_seed = random.randrange(2**32)


def pytest_report_header(config: pytest.Config) -> str:
    seed = config.getoption("hypothesis_seed", default=None)
    profile = settings.get_current_profile_name()
    return f"hypothesis profile {profile!r}, seed {seed} (replay: --hypothesis-seed={seed})"
