"""Noise schedules: the accepted range of every parameter, edges included, and beta as the theory's formulas give
it, for one count and for a tensor of counts."""

import pytest
import torch

from rdtheory.sampling.schedules import NO_NOISE, Constant, Dampened, Linear
from rdtheory.theory.correspondence import constant_beta, dampened_beta, linear_beta

KINDS = [Constant, Dampened, Linear]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("beta0", [0.0, 1.0, 0.25])
def test_beta0_in_the_closed_unit_interval_is_accepted(kind, beta0):
    schedule = kind(beta0)
    assert schedule.beta0 == beta0 and schedule.active == (beta0 > 0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("beta0", [-0.01, 1.01, 2.0])
def test_beta0_outside_the_unit_interval_is_refused(kind, beta0):
    with pytest.raises(ValueError, match=rf"beta0={beta0} must lie in \[0, 1\]"):
        kind(beta0)


def test_linear_depth_is_a_count_from_one():
    assert Linear(0.5, 1).beta(0) == 0.5 and Linear(0.5, 1).beta(1) == 0.0
    for depth in (0, -3):
        with pytest.raises(ValueError, match=rf"depth={depth} must be >= 1"):
            Linear(0.5, depth)


@pytest.mark.parametrize("schedule,formula", [
    (Constant(0.3), lambda n: constant_beta(0.3, n)),
    (Dampened(0.5), lambda n: dampened_beta(0.5, n)),
    (Linear(0.4, 6), lambda n: linear_beta(0.4, 6, n)),
    (Linear(1.0, 1), lambda n: linear_beta(1.0, 1, n)),
])
def test_beta_follows_the_formula_for_one_count_and_for_a_tensor_of_counts(schedule, formula):
    counts = torch.tensor([[0, 1, 2, 5], [6, 7, 12, 40]])
    want = [[formula(int(n)) for n in row] for row in counts]
    assert [[schedule.beta(int(n)) for n in row] for row in counts] == want
    got = schedule.beta_tensor(counts)
    assert got.dtype == torch.float64 and got.shape == counts.shape and got.device == counts.device
    # Tensor and Python float arithmetic may round the last bit differently.
    assert got.flatten().tolist() == pytest.approx([w for row in want for w in row], abs=1e-15)


def test_no_noise_is_inactive_and_zero_everywhere():
    assert not NO_NOISE.active and NO_NOISE.beta_tensor(torch.arange(5)).tolist() == [0.0] * 5
