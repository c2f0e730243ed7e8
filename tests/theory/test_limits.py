from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from rdtheory.testing.schedules import df_settings
from rdtheory.theory import ar_schedule, df_schedule, pass_limit, same_passes, tick_limit


def limit_kwargs(k):
    kwargs = k.kwargs()
    del kwargs["rightmost"]
    return kwargs


def test_tick_limit_on_generated_settings():
    seen = Counter()

    @settings(max_examples=300, database=None, derandomize=True)
    @given(k=df_settings(inners=st.integers(1, 8), depths=st.integers(1, 4)))
    def check(k):
        ar = tick_limit(**limit_kwargs(k))
        if ar is not None:
            assert k.build() == ar
            seen["tick"] += ar.n_ticks > 2

    check()
    assert seen["tick"] >= 20, seen


def test_pass_limit_on_generated_settings():
    seen = Counter()

    @settings(max_examples=200, database=None, derandomize=True)
    @given(k=df_settings(caps=st.integers(1, 2), full_prefills=st.just(True)))
    def check(k):
        kwargs = {n: v for n, v in limit_kwargs(k).items() if n not in ("headway", "full_prefill")}
        adaptive, df = pass_limit(**kwargs), k.build()
        assert (adaptive is not None) == (k.cap == 1)
        if adaptive is not None:
            assert same_passes(df, adaptive)
            seen["pass"] += df.n_ticks > adaptive.n_ticks

    check()
    assert seen["pass"] >= 30, seen


def test_inner_equal_to_depth_recovers_static_ar_for_any_cap():
    for cap in (1, 2, 8):
        assert df_schedule(3, 6, inner=4, exit_depths=4, cap=cap, prefill_depth=4) == ar_schedule(3, 6, 4)


def test_the_limits_need_their_settings():
    ar = ar_schedule(3, 6, 4)
    assert df_schedule(3, 6, inner=4, exit_depths=4, headway=2, cap=8, prefill_depth=4) != ar  # placeholders
    assert not same_passes(df_schedule(3, 6, inner=2, exit_depths=4, cap=2, prefill_depth=4), ar)  # wide front
    assert same_passes(df_schedule(3, 6, inner=2, exit_depths=4, cap=1, prefill_depth=4), ar)
    no_prefill = df_schedule(3, 6, inner=4, exit_depths=4, cap=8, full_prefill=False)
    assert no_prefill != ar and no_prefill.ticks[1:] == ar.ticks[1:] and not no_prefill.ticks[0].prefill
    assert df_schedule(3, 6, inner=4, exit_depths=4, cap=2, full_prefill=False).ticks[1:] != ar.ticks[1:]
