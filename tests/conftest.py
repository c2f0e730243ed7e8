"""Test configuration: Hypothesis profiles, torch determinism, the gpu marker."""

import os

import pytest
import torch
from hypothesis import HealthCheck, settings

# The default profile is derandomized so that CI sees the same examples on every run (the shares of non-trivial
# examples that properties assert are then reproducible facts); "thorough" explores new examples each run.
settings.register_profile(
    "default", deadline=None, max_examples=25, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough", deadline=None, max_examples=200,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("RDTHEORY_HYPOTHESIS_PROFILE", "default"))

torch.use_deterministic_algorithms(True)
# Test models are tiny: one thread beats a pool whose workers spin against each other for microseconds of work.
torch.set_num_threads(1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
