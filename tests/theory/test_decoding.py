from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rdtheory.testing.schedules import df_settings, time_models
from rdtheory.theory import (
    Timed,
    TimeModel,
    ar_schedule,
    compare_decoding,
    decode_widths,
    decoding_premises,
    df_schedule,
    first_parallel_pass_end,
    fixed_rule_entry_tick,
    fixed_rule_exit_tick,
    fixed_rule_has_parallel_pass,
    stage_depth_premises,
    theorem_4_4,
    theorem_4_4_stage_depth,
    ticks_per_token,
    tokens_never_behind,
    wavefront_bound,
)
from rdtheory.theory.schedule import exit_depths_of
from rdtheory.theory.wavefront import Wave

FULL = dict(full_prefills=st.just(True))


def effective_depth(k):
    return min(k.exit_depths, k.max_depth) if k.max_depth is not None else k.exit_depths


def test_theorem_4_4_on_generated_schedules():
    seen = Counter()

    @settings(max_examples=400, database=None, derandomize=True)
    @given(k=df_settings(**FULL), ar_depth=st.integers(1, 8), model=time_models())
    def check(k, ar_depth, model):
        df, ar = k.build(), k.ar(ar_depth)
        c = compare_decoding(df, ar, model)
        if decoding_premises(df, ar, model):
            widest = max(decode_widths(df), default=0)
            if widest > model.l_star:  # the failing regime W > L*: DF falls behind in depth
                g = df.ticks[0].passes + decode_widths(df).index(widest) + 1
                if ar.n_passes > g:
                    assert not c.equal_depth
                    seen["wide"] += 1
            return
        assert theorem_4_4(df, ar, model)
        assert not c.width_strictly_greater  # the paper's pointwise reading never holds
        seen["premises"] += 1
        seen["strict"] += c.work_strict_from is not None
        seen["not strict"] += c.work_strict_from is None and df.n_ticks > 2

    check()
    assert seen["premises"] >= 150 and seen["strict"] >= 50 and seen["not strict"] >= 10 and seen["wide"] >= 10, seen


def test_theorem_4_4_by_hand_and_where_it_fails():
    df = df_schedule(1, 6, inner=1, exit_depths=4, cap=4, prefill_depth=4)
    ar = ar_schedule(1, 6, depth=4)
    fits, too_narrow = TimeModel(l_star=4), TimeModel(l_star=2)
    assert decoding_premises(df, ar, fits) == [] and theorem_4_4(df, ar, fits)
    c = compare_decoding(df, ar, fits)
    assert c.work_strict_from == first_parallel_pass_end(df, fits) == 6  # prefill 4 passes, then {1}, then {1, 2}
    # w(T) = |H_d(T)|: the head alone right after the prefill (T = 4), so never a strict pointwise lead there
    assert c.width[:6] == ((1, 1),) * 5 + ((2, 1),)
    assert decoding_premises(df, ar, too_narrow) == ["a DF decode pass is wider than l_star=2"]
    assert not compare_decoding(df, ar, too_narrow).equal_depth
    # r = 1: DF is AR, no extra width at all
    one = df_schedule(1, 6, inner=1, exit_depths=1, cap=4, prefill_depth=1)
    assert one == ar_schedule(1, 6, 1) and compare_decoding(one, ar_schedule(1, 6, 1), fits).work_strict_from is None


@pytest.mark.parametrize("depth", range(2, 7))
def test_timed_prelude_and_coda_break_equal_core_pass_depth(depth):
    """Prelude + coda timed at one pass per tick: at T = end of prefill + (D + 1) t0, AR has run D core passes
    and DF only r'(D + 1)/(r' + 1) < D (exactly that when r' + 1 divides D + 1), for every r' < D."""
    model = TimeModel(l_star=8, pass_s=1, prelude_s=Fraction(1, 2), coda_s=Fraction(1, 2))
    ar = ar_schedule(1, 8, depth)
    prefill_end = depth + 1
    for inner in range(1, depth):
        df = df_schedule(1, 8, inner, depth, prefill_depth=depth)
        assert decoding_premises(df, ar, TimeModel(8)) == []
        assert decoding_premises(df, ar, model)[-1].startswith("the time model times the prelude or coda")
        a, b = Timed(df, model), Timed(ar, model)
        budget = prefill_end + depth + 1
        assert budget < min(a.end, b.end)
        df_passes, ar_passes = a.depth(budget) - depth, b.depth(budget) - depth
        assert ar_passes == depth and df_passes < depth
        if (depth + 1) % (inner + 1) == 0:
            assert df_passes == Fraction(inner * (depth + 1), inner + 1)
        assert not compare_decoding(df, ar, model).equal_depth and not theorem_4_4(df, ar, model)
        assert theorem_4_4(df, ar, TimeModel(8))  # the untimed clock of the precise statement
    same = df_schedule(1, 8, depth, depth, prefill_depth=depth)  # r' = D: DF is AR, timed or not
    assert same == ar and compare_decoding(same, ar, model).equal_depth


def test_equal_depth_in_passes_of_any_stage():
    """Clause (a) read over every stage pass holds when each prelude and coda takes a core pass's time."""
    seen = Counter()

    @settings(max_examples=300, database=None, derandomize=True)
    @given(k=df_settings(**FULL), ar_depth=st.integers(1, 8), base=time_models())
    def check(k, ar_depth, base):
        model = TimeModel(base.l_star, base.pass_s, base.pass_s, base.pass_s)
        df, ar = k.build(), k.ar(ar_depth)
        if stage_depth_premises(df, ar, model):
            return
        assert theorem_4_4_stage_depth(df, ar, model)
        seen["premises"] += 1
        seen["core depth differs"] += not compare_decoding(df, ar, model).equal_depth

    check()
    assert seen["premises"] >= 100 and seen["core depth differs"] >= 30, seen


def test_timed_stages_by_hand():
    df, ar = df_schedule(1, 6, inner=1, exit_depths=4, cap=4, prefill_depth=4), ar_schedule(1, 6, depth=4)
    each = TimeModel(l_star=4, pass_s=1, prelude_s=1, coda_s=1)
    assert stage_depth_premises(df, ar, each) == [] and theorem_4_4_stage_depth(df, ar, each)
    c = compare_decoding(df, ar, each)
    assert not c.equal_depth
    # (c) is not claimed on this clock: at T = 9 AR has processed 6 hidden states and DF only 5
    assert dict(zip(c.budgets, c.work))[9] == (5, 6) and not c.work_at_least
    half = TimeModel(l_star=4, pass_s=1, prelude_s=Fraction(1, 2), coda_s=Fraction(1, 2))
    assert stage_depth_premises(df, ar, half) == ["prelude_s=1/2 and coda_s=1/2 must both equal pass_s=1"]
    assert not theorem_4_4_stage_depth(df, ar, half) and not compare_decoding(df, ar, half).equal_depth
    untimed = TimeModel(l_star=4)
    assert stage_depth_premises(df, ar, untimed) == ["prelude_s=0 and coda_s=0 must both equal pass_s=1"]
    assert compare_decoding(df, ar, untimed).equal_depth


@settings(max_examples=300)
@given(k=df_settings(profiles=st.just(False), **FULL))
def test_parallel_pass_characterisation_for_the_fixed_rule(k):
    has = max(decode_widths(k.build()), default=0) >= 2
    assert has == fixed_rule_has_parallel_pass(k.n_new, k.inner, effective_depth(k), k.headway, k.cap)


@settings(max_examples=300)
@given(k=df_settings(profiles=st.just(False), headways=st.just(1), **FULL))
def test_fixed_rule_entry_and_exit_ticks_in_closed_form(k):
    s, big_k = k.build(), ticks_per_token(effective_depth(k), k.inner)
    first_tick = {}
    for i, t in enumerate(s.ticks):
        for p in t.positions:
            first_tick.setdefault(p, i)
    commit_ticks = s.commit_ticks()
    for i in range(k.n_new - 1):
        assert first_tick[k.prompt_len + i] == fixed_rule_entry_tick(i, big_k, k.cap)
        assert commit_ticks[k.prompt_len + i + 1] == fixed_rule_exit_tick(i, big_k, k.cap)
    assert max(decode_widths(s), default=0) == min(k.cap, big_k, max(k.n_new - 1, 0))


def test_token_lead_iff_inner_divides_the_depth():
    seen = Counter()

    @settings(max_examples=300, database=None, derandomize=True)
    @given(k=df_settings(profiles=st.just(False), headways=st.just(1), **FULL))
    def check(k):
        depth = effective_depth(k)
        df, ar = k.build(), k.ar(depth)
        lead = tokens_never_behind(df, ar, TimeModel(l_star=k.cap))
        assert lead == (depth % k.inner == 0 or k.n_new <= 1)
        seen[lead] += 1

    check()
    assert seen[True] >= 30 and seen[False] >= 30, seen


@settings(max_examples=300)
@given(k=df_settings(**FULL))
def test_wavefront_size_is_bounded_by_the_cap_and_headway_not_by_r(k):
    """Remark 4.5's W is the wavefront size: at most min(cap, headway · ceil(max_depth / r')) after a full prefill."""
    wave = Wave(k.prompt_len, k.n_new, k.inner, k.headway, k.cap)
    depths = exit_depths_of(k.exit_depths, wave.positions_run)
    deepest = max((min(d, k.max_depth or d) for d in depths.values()), default=1)
    assert max(decode_widths(k.build()), default=0) <= wavefront_bound(k.inner, deepest, k.headway, k.cap)


def test_wavefront_can_exceed_r():
    """r = 2, r' = 1, headway 4: the wavefront holds 8 > r positions; only the cap (or headway·ceil(r/r')) limits it."""
    assert max(decode_widths(df_schedule(1, 20, 1, 2, headway=4, cap=16, prefill_depth=2))) == 8
    assert wavefront_bound(1, 2, 4, 16) == 8
    assert max(decode_widths(df_schedule(1, 20, 1, 2, headway=4, cap=5, prefill_depth=2))) == 5
