import math
from fractions import Fraction
from statistics import NormalDist

import pytest

from rdtheory.theory import (
    Scaling,
    TimeModel,
    attention_pairs,
    cost_order_holds,
    depth_at_least_as_fast,
    depth_preferred_probability,
    depth_schedule,
    is_valid,
    lognormal_tail,
    pass_counters,
    prefill_cost,
    throughput_ratio,
    width_mask,
    width_per_time_ratio,
    width_schedule,
)
from rdtheory.theory.prefill import flat

GRID = [(n, s) for n in range(1, 7) for s in range(1, 5)]


@pytest.mark.parametrize("length, copies", GRID)
def test_masks_are_causal_and_counted_by_the_closed_forms(length, copies):
    no_share, kv_share = width_mask(length, copies, share=False), width_mask(length, copies, share=True)
    assert len(no_share) == attention_pairs(Scaling.WIDTH_NO_SHARE, length, copies)
    assert len(kv_share) == attention_pairs(Scaling.WIDTH_KV_SHARE, length, copies)
    assert kv_share <= no_share
    for mask in (no_share, kv_share):
        assert all(flat(k, copies) <= flat(q, copies) for q, k in mask)
        assert all((q, q) in mask for q in {q for q, _ in mask}) and len({q for q, _ in mask}) == length * copies


def test_the_papers_literal_mask_leaves_the_first_copy_without_keys():
    literal = width_mask(3, 2, share=True, include_self=False)
    assert {q for q, _ in literal} == {(i, j) for i in range(3) for j in (1, 2)} - {(0, 1)}


@pytest.mark.parametrize("length, copies", GRID)
def test_theorem_4_2_cost_order(length, copies):
    costs = [prefill_cost(s, length, copies, linear=7, attention=3) for s in Scaling]
    depth, kv, no = costs
    assert kv - depth == 3 * length * copies * (copies - 1) // 2
    assert no - kv == 3 * copies * (copies - 1) * length * (length - 1) // 2
    assert depth <= kv <= no
    assert (depth < kv) == (copies >= 2) and (kv < no) == (copies >= 2 and length >= 2)


@pytest.mark.parametrize("length, copies", GRID)
def test_theorem_4_2_cost_order_with_the_papers_literal_mask(length, copies):
    """Without the self pairs, E_KVShare - E_Depth = a s L (s - 3)/2: the first inequality needs s >= 3."""
    for share, scaling in ((False, Scaling.WIDTH_NO_SHARE), (True, Scaling.WIDTH_KV_SHARE)):
        literal = width_mask(length, copies, share, include_self=False)
        assert len(literal) == attention_pairs(scaling, length, copies, include_self=False)
        assert len(width_mask(length, copies, share)) - len(literal) == length * copies  # the self pairs
    depth, kv, no = (prefill_cost(s, length, copies, linear=7, attention=3, include_self=False) for s in Scaling)
    assert 2 * (kv - depth) == 3 * copies * length * (copies - 3)
    assert no - kv == 3 * copies * (copies - 1) * length * (length - 1) // 2
    assert cost_order_holds(length, copies) and cost_order_holds(length, copies, include_self=False) == (copies >= 3)


def test_the_literal_mask_reverses_the_first_inequality_at_s_2():
    depth = prefill_cost(Scaling.DEPTH, 5, 2, linear=0)
    assert depth > prefill_cost(Scaling.WIDTH_KV_SHARE, 5, 2, linear=0, include_self=False) == depth - 5
    assert prefill_cost(Scaling.WIDTH_KV_SHARE, 5, 3, linear=0, include_self=False) == prefill_cost(
        Scaling.DEPTH, 5, 3, linear=0)
    assert depth <= prefill_cost(Scaling.WIDTH_KV_SHARE, 5, 2, linear=0)  # ours, with the self pairs


@pytest.mark.parametrize("length, copies", GRID)
def test_proposition_b4_depth_and_width_counts(length, copies):
    width, depth = pass_counters(width_schedule(length, copies)), pass_counters(depth_schedule(length, copies))
    assert (width.steps, width.width[0]) == (1, length * copies)
    assert (depth.steps, depth.width[0]) == (copies, length)
    assert is_valid(width_schedule(length, copies)) and is_valid(depth_schedule(length, copies))


@pytest.mark.parametrize("l_star", [1, 3, 8, 16])
def test_theorem_4_2_parallelism_is_piecewise(l_star):
    model = TimeModel(l_star)
    for length in range(1, 20):
        for s in range(1, 6):
            ratio = throughput_ratio(length, s, model)
            expected = s if s * length <= l_star else Fraction(l_star, length) if length <= l_star else 1
            assert ratio == expected and width_per_time_ratio(length, s, model) == s * expected
            assert depth_at_least_as_fast(length, s, model) == (s == 1 or length >= l_star)


def test_remark_4_3_probability():
    pmf = {100: Fraction(1, 4), 500: Fraction(1, 4), 2000: Fraction(1, 2)}
    assert depth_preferred_probability(pmf, 500) == Fraction(3, 4)
    assert depth_preferred_probability(pmf, 501) == Fraction(1, 2)
    with pytest.raises(ValueError, match=r"sum\(length_pmf\)=.* must be 1"):
        depth_preferred_probability({1: 0.5}, 1)
    for l_star, mu, sigma in [(300, 6.0, 1.0), (2000, 7.5, 0.4), (50, 3.0, 2.0)]:
        expected = 1 - NormalDist(mu, sigma).cdf(math.log(l_star))
        assert lognormal_tail(l_star, mu, sigma) == pytest.approx(expected, rel=1e-9)
    assert lognormal_tail(math.exp(6.0), 6.0, 1.0) == pytest.approx(0.5)
