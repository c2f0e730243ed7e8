from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rdtheory.testing.schedules import df_settings
from rdtheory.theory import (
    Timed,
    TimeModel,
    decode_serial_passes,
    fixed_rule_speedup,
    flop_ratio,
    ideal_speedup,
    paper_flop_ratio,
    schedule_flop_ratio,
    ticks_per_token,
)

FIXED = dict(profiles=st.just(False), full_prefills=st.just(True), n_news=st.integers(2, 8))


def depth_of(k):
    return min(k.exit_depths, k.max_depth) if k.max_depth is not None else k.exit_depths


def test_remark_3_2_table_for_r_32():
    ratios = [round(float(paper_flop_ratio(32, q)), 3) for q in (1, 2, 4, 8, 16, 32)]
    assert ratios == [1.939, 1.455, 1.212, 1.091, 1.030, 1.0]
    assert [round(float(ideal_speedup(32, q)), 2) for q in (1, 2, 4, 8, 16, 32)] == [16.5, 11.0, 6.6, 3.67, 1.94, 1.0]


@pytest.mark.parametrize("depth", range(1, 13))
@pytest.mark.parametrize("inner", range(1, 7))
def test_paper_ratio_is_exact_iff_inner_divides_depth(depth, inner):
    assert (flop_ratio(depth, inner) == paper_flop_ratio(depth, inner)) == (depth % inner == 0)
    assert flop_ratio(depth, inner) >= paper_flop_ratio(depth, inner)


@pytest.mark.parametrize("depth", range(1, 13))
def test_df_never_has_equivalent_flops_unless_it_is_ar(depth):
    """The paper's "equivalent total FLOP requirements": false for every r' != D, by its own Remark 3.2."""
    for inner in range(1, 16):
        assert (flop_ratio(depth, inner) == 1) == (inner == depth) and flop_ratio(depth, inner) >= 1
        assert (paper_flop_ratio(depth, inner) > 1) == (inner < depth)


@settings(max_examples=200)
@given(k=df_settings(**FIXED))
def test_schedule_flops_match_the_closed_form(k):
    df = k.build()
    ar = k.ar(depth_of(k))
    for pc in (0, 1, 2):
        assert schedule_flop_ratio(df, ar, pc) == flop_ratio(depth_of(k), k.inner, pc)


@settings(max_examples=200)
@given(k=df_settings(headways=st.just(1), **FIXED))
def test_serial_speedup_and_its_limit(k):
    assume(k.cap >= ticks_per_token(depth_of(k), k.inner))
    df, ar = k.build(), k.ar(depth_of(k))
    speedup = fixed_rule_speedup(k.n_new, depth_of(k), k.inner)
    assert Fraction(decode_serial_passes(ar), decode_serial_passes(df)) == speedup
    assert speedup <= ideal_speedup(depth_of(k), k.inner)


def test_speedup_approaches_the_ideal():
    gaps = [ideal_speedup(32, 4) - fixed_rule_speedup(n, 32, 4) for n in (2, 10, 100, 10_000)]
    assert all(a > b > 0 for a, b in zip(gaps, gaps[1:])) and gaps[-1] < Fraction(1, 100)


@settings(max_examples=100)
@given(k=df_settings(**FIXED), split=st.sampled_from([(0, 1), (1, 0), (1, 1), (0, 0)]))
def test_serial_pass_equivalents_are_the_time_model_with_timed_stages(k, split):
    """decode_serial_passes(s, pc) is the decode time on TimeModel(L*, 1, prelude_s, coda_s), pc = their sum, when
    no pass is wider than L*."""
    df, ar = k.build(), k.ar(depth_of(k))
    model = TimeModel(max(k.prompt_len, k.cap), 1, *split)
    for s in (df, ar):
        prefill = s.ticks[0]
        assert Timed(s, model).end - (prefill.passes + sum(split)) == decode_serial_passes(s, sum(split))
