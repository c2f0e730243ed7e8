"""Test configuration: Hypothesis profiles, torch determinism, the gpu marker, and the two measures that say
whether a greedy outcome of a float32 model is robust to rounding (`decision_margins`, `rounding_reach`)."""

import copy
import os
from collections.abc import Callable

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


# A greedy token is robust to rounding when the gap between its two largest logits exceeds how far rounding can move
# them. float32 rounding is measured against a float64 copy of the same model on the same inputs; two float32 runs
# (another CPU's kernels, another torch build) that each lie within e of the float64 logits differ by at most 2e, so
# a decision whose margin exceeds ROUNDING_REACH * e cannot flip (4x more than needed). On the shipped model's 256
# held-out grids e is 1.5e-4 at r = 1 and 4.3e-4 at r = 2; its logits from AVX-512 kernels and from generic ones
# (ATEN_CPU_CAPABILITY=default MKL_ENABLE_INSTRUCTIONS=SSE4_2) differ by 9e-5 at r = 1 and 1.5e-4 at r = 2.
ROUNDING_REACH = 8.0


def _decision_margins(model: torch.nn.Module, generation) -> list[float]:
    """For each row of a greedy `generation`, the smallest gap between the two largest logits of the distributions
    its tokens were picked from, recomputed from the latents they were decoded from (inf for a row without tokens).
    Needs a model without coda blocks (a latent alone then gives its logits), as the shipped one is."""
    assert len(model.transformer.coda) == 0, "the logits of a model with coda blocks need its cache"
    out = []
    with torch.no_grad():
        for tokens, latents in zip(generation.tokens, generation.latents):
            if not tokens:
                out.append(float("inf"))
                continue
            logits = model.decode(latents[None], model.chunk(torch.zeros(1, len(latents), dtype=torch.long)))[0]
            top = logits.topk(2, dim=-1)
            assert top.indices[:, 0].tolist() == tokens, "the recomputed logits must pick the run's greedy tokens"
            out.append((top.values[:, 0] - top.values[:, 1]).min().item())
    return out


def _float32_logit_error(model: torch.nn.Module, ids: torch.Tensor, depth: int) -> float:
    """The largest |float32 - float64| logit of `model` (float32) on ids [B, S] at `depth`, from a random initial
    state (as the samplers start): the reach of float32 rounding in this model at this depth."""
    wide = copy.deepcopy(model).double()
    with torch.no_grad():
        narrow, _ = model(ids, depth, init_scale=1.0)
        exact, _ = wide(ids, depth, init_scale=1.0)
    return (narrow.double() - exact).abs().max().item()


@pytest.fixture(scope="session")
def decision_margins() -> Callable[..., list[float]]:
    """decision_margins(model, generation): per row, its smallest top-1 minus top-2 logit gap."""
    return _decision_margins


@pytest.fixture(scope="session")
def rounding_reach() -> Callable[..., float]:
    """rounding_reach(model, ids, depth): the logit margin below which float32 rounding could flip a greedy decision
    of `model` at `depth` (ROUNDING_REACH times the float32 error measured on ids)."""
    return lambda model, ids, depth: ROUNDING_REACH * _float32_logit_error(model, ids, depth)
