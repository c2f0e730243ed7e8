import math
from collections import Counter

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rdtheory.theory import ScalarToy, committed_error_bound, fixed_point_distance, is_valid, window_error_bound


def test_bound_closed_forms():
    lam, eps, b, lip, m = 0.5, 0.1, 2.0, 0.25, 2
    alpha, beta = eps * b / (1 - lam**m), lip / (1 - lam)
    assert committed_error_bound(lam, eps, b, lip, 0, m) == pytest.approx(lam**m * alpha)
    assert committed_error_bound(lam, eps, b, lip, 2, m) == pytest.approx(alpha * (lam**m + beta * (1 + beta)))
    for i in range(5):
        assert window_error_bound(lam, eps, b, lip, i, m) - committed_error_bound(lam, eps, b, lip, i, m) == (
            pytest.approx(eps * b))
    assert committed_error_bound(0.9, 0.0, 5.0, 3.0, 7, 4) == 0.0  # eps -> 0 recovers the AR solution
    assert committed_error_bound(0.5, 0.1, 1.0, 0.5, 6) == pytest.approx(0.1 * 1 / 0.5 * (0.5 + 6))  # beta = 1
    assert fixed_point_distance(0.5, 0.3, window=1) == pytest.approx(0.3)


def test_bound_arguments_are_checked():
    with pytest.raises(ValueError, match=r"contraction=1.0 must lie in \[0, 1\)"):
        committed_error_bound(1.0, 0.1, 1.0, 0.1, 0)
    with pytest.raises(ValueError, match=r"index=-1 must be >= 0"):
        committed_error_bound(0.5, 0.1, 1.0, 0.1, -1)
    with pytest.raises(ValueError, match=r"window=0 must be >= 1"):
        window_error_bound(0.5, 0.1, 1.0, 0.1, 0, window=0)


toys = st.builds(
    lambda a, b, ctx, ins: ScalarToy(a, b, tuple(ins), tuple(ctx)),
    st.floats(-0.9, 0.9), st.floats(-0.9, 0.9),
    st.lists(st.floats(-1, 1), min_size=1, max_size=3), st.lists(st.floats(-1, 1), min_size=5, max_size=9),
)


def test_df_commits_within_the_bound_under_the_contiguous_rule():
    seen = Counter()

    @settings(max_examples=120, database=None, derandomize=True, deadline=None)
    @given(toy=toys, inner=st.integers(1, 3), eps=st.sampled_from([0.3, 0.1, 0.03, 0.01]), cap=st.integers(1, 5),
           headway=st.integers(1, 2))
    def check(toy, inner, eps, cap, headway):
        run = toy.run(inner, eps, headway=headway, cap=cap, max_depth=300)
        assume(run.unconverged_exits == 0)  # (A4): no exit forced by the depth cap
        assert is_valid(run.schedule)
        exact, p0 = toy.fixed_points(), len(toy.context)
        for pos, z in run.committed.items():
            bound = committed_error_bound(toy.contraction, eps, toy.state_bound, toy.lipschitz, pos - p0, inner)
            error = abs(z - exact[pos])
            assert error <= bound + 1e-12, (pos, error, bound)
            seen["tight"] += error > bound / 20
            seen["positions"] += 1
        seen["wide"] += max(len(t.runs) for t in run.schedule.ticks[1:]) >= 2

    check()
    assert seen["positions"] >= 300 and seen["tight"] >= 10 and seen["wide"] >= 50, seen


def test_rightmost_rule_breaks_the_bound():
    """Position P + 1 starts at its fixed point and converges at once; the rightmost rule then commits P after two
    steps, far from its fixed point, however small eps is."""
    a, init = 0.9, 1.0
    toy = ScalarToy(a, 0.0, (0.0, -1.0, init - a * math.sin(init), init - a * math.sin(init)), (0.0,))
    exact = toy.fixed_points()
    for eps in (1e-3, 1e-6):
        bound = committed_error_bound(toy.contraction, eps, toy.state_bound, toy.lipschitz, 0, 1)
        right = toy.run(1, eps, rightmost=True, init=init)
        contiguous = toy.run(1, eps, init=init)
        assert right.unconverged_exits == 1 and right.schedule.depths()[1] == 2
        assert abs(right.committed[1] - exact[1]) > 0.1 > 5 * bound
        assert contiguous.unconverged_exits == 0 and abs(contiguous.committed[1] - exact[1]) <= bound
