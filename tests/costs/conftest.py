"""Fixtures for the cost-model tests: models to count against and FlopCounterMode as a function."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from rdtheory.config import HUGINN_0125, TINY
from rdtheory.model.recurrent import RecurrentDepthLM


@pytest.fixture(scope="session")
def huginn_meta() -> RecurrentDepthLM:
    """Huginn-0125 (3.5B) in bf16 on the meta device: shapes without storage."""
    with torch.device("meta"):
        model = RecurrentDepthLM(HUGINN_0125)
    return model.to(torch.bfloat16)


@pytest.fixture(scope="session")
def tiny() -> RecurrentDepthLM:
    torch.manual_seed(0)
    return RecurrentDepthLM(TINY).eval()


def _counted_flops(fn) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        fn()
    return counter.get_total_flops()


@pytest.fixture(scope="session")
def counted_flops():
    """counted_flops(fn): what FlopCounterMode counts while fn() runs."""
    return _counted_flops
