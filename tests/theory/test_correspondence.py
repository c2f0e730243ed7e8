from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rdtheory.testing.schedules import df_settings
from rdtheory.theory import (
    Cell,
    Schedule,
    ScheduleTick,
    constant_beta,
    dampened_beta,
    df_schedule,
    diffusion_time,
    ema_embeddings,
    ema_impulse_response,
    ema_step_response,
    levels_rise_to_the_right,
    linear_beta,
    mix,
    mixed_variance,
    noise_level,
    tick_noise_levels,
)


def test_diffusion_time_and_noise_level():
    assert [diffusion_time(Cell(0, k), 4) for k in (1, 2, 4, 6)] == [3, 2, 0, 0]
    assert [noise_level(n, 4) for n in (0, 1, 4, 9)] == [1, Fraction(3, 4), 0, 0]


def test_df_levels_by_hand():
    s = df_schedule(1, 5, inner=2, exit_depths=4, prefill_depth=4)
    assert tick_noise_levels(s, 4)[1:4] == ({1: 1}, {1: Fraction(1, 2), 2: 1}, {2: Fraction(1, 2), 3: 1})


@settings(max_examples=200)
@given(k=df_settings())
def test_df_is_diffusion_forcing_with_levels_rising_to_the_right(k):
    s = k.build()
    assert levels_rise_to_the_right(s)
    if k.full_prefill and k.headway == 1:
        assert levels_rise_to_the_right(Schedule(s.prompt_len, s.ticks[1:]), strictly=True)


def test_levels_falling_to_the_right_are_detected():
    falling = Schedule(1, (ScheduleTick(1, ((0, 1, 1), (1, 3, 1))),))  # position 1 is two recurrences ahead
    assert not levels_rise_to_the_right(falling)
    assert levels_rise_to_the_right(Schedule(1, (ScheduleTick(1, ((0, 3, 1), (1, 1, 1))),)), strictly=True)


def test_headway_puts_several_positions_at_the_same_level():
    s = df_schedule(1, 6, inner=1, exit_depths=3, headway=2, prefill_depth=3)
    assert levels_rise_to_the_right(s) and not levels_rise_to_the_right(Schedule(1, s.ticks[1:]), strictly=True)


def test_noise_schedules():
    assert [constant_beta(0.5, n) for n in (0, 4, 8)] == [0.5, 0.5, 0.5]
    assert [dampened_beta(0.5, n) for n in (0, 1, 4)] == [0.5, 0.25, 0.1]
    assert [linear_beta(0.5, 8, n) for n in (0, 4, 8, 12)] == [0.5, 0.25, 0.0, 0.0]
    assert all(dampened_beta(0.5, n) > 0 for n in range(1000))  # the code's schedule never switches noise off
    with pytest.raises(ValueError, match=r"beta0=1.5 must lie in \[0, 1\]"):
        dampened_beta(1.5, 0)


@pytest.mark.parametrize("beta", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_mixing_variance(beta):
    assert mix(2.0, 4.0, beta) == pytest.approx((1 - beta) * 2 + beta * 4)
    assert mixed_variance(1.0, 1.0, beta, variance_preserving=True) == pytest.approx(1.0)
    shrunk = mixed_variance(1.0, 1.0, beta)
    assert shrunk == pytest.approx(1 - 2 * beta * (1 - beta)) and (shrunk < 1) == (0 < beta < 1)


@pytest.mark.parametrize("eta", [0.0, 0.1, 0.5, 0.9])
def test_ema_is_a_unit_gain_filter(eta):
    assert ema_embeddings([3.0] * 6, eta) == pytest.approx([3.0] * 6)
    assert ema_embeddings([3.0] * 6, eta, shrink_new=True) == pytest.approx(
        [3.0 * ema_step_response(eta, t) for t in range(6)])
    impulse = ema_embeddings([0, 0, 1, 0, 0, 0, 0], eta)
    assert impulse[2:] == pytest.approx([ema_impulse_response(eta, k) for k in range(5)])
    step = ema_embeddings([0, 1, 1, 1, 1], eta)
    assert step[1:] == pytest.approx([ema_step_response(eta, k) for k in range(4)])
    xs, ys = [1.0, -2.0, 0.5, 4.0], [0.3, 0.3, -1.0, 2.0]
    both = ema_embeddings([x + 2 * y for x, y in zip(xs, ys)], eta)
    assert both == pytest.approx([a + 2 * b for a, b in zip(ema_embeddings(xs, eta), ema_embeddings(ys, eta))])


@given(eta=st.floats(0, 0.99), lag=st.integers(0, 30))
def test_impulse_response_sums_to_the_step_response(eta, lag):
    assert sum(ema_impulse_response(eta, k) for k in range(lag + 1)) == pytest.approx(ema_step_response(eta, lag))
