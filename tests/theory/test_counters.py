from fractions import Fraction

import pytest
from hypothesis import given

from rdtheory.testing.schedules import schedules
from rdtheory.theory import (
    Schedule,
    ScheduleTick,
    Timed,
    TimeModel,
    ar_schedule,
    counters,
    df_schedule,
    is_valid,
    pass_counters,
    tick_counters,
)
from rdtheory.theory.counters import pass_active, set_difference_events, tick_active


def test_definition_b1_by_hand():
    s = ar_schedule(3, 3, depth=2)
    c = pass_counters(s)
    assert c.depth == (0, 1, 2, 3, 4, 5, 6)
    assert c.width == (3, 3, 1, 1, 1, 1, 0)  # w_0 = L_0 = 3
    assert c.entries == (0, 1, 0, 1, 0, 0) and c.exits == (0, 3, 0, 1, 0, 1)
    t = tick_counters(s)
    assert t.width == (3, 1, 1, 0) and t.entries == (1, 1, 0) and t.exits == (3, 1, 1)


def test_df_width_grows_to_the_steady_front():
    c = tick_counters(df_schedule(1, 8, inner=2, exit_depths=6, prefill_depth=6))
    assert c.width == (1, 1, 2, 3, 3, 3, 3, 3, 2, 1, 0)  # K = 3 positions in flight in the steady state


@given(schedule=schedules())
def test_counters_obey_the_updates(schedule):
    """Entries and exits counted per position (first and last step) satisfy the width update and agree with the
    set-difference form: every position of a sampler's schedule is active in one unbroken run of steps."""
    for c, active in ((pass_counters(schedule), pass_active(schedule)), (tick_counters(schedule),
                                                                          tick_active(schedule))):
        assert c.updates_hold() and c.width[-1] == 0
        assert sum(c.entries) - sum(c.exits) == -c.width[0]
        assert (c.entries, c.exits) == set_difference_events(active)
        assert counters(active) == c
    assert pass_counters(schedule).work == len(schedule.cells())
    if schedule.ticks and schedule.ticks[0].prefill:
        assert pass_counters(schedule).width[0] == schedule.prompt_len


def test_a_position_that_pauses_breaks_the_updates():
    """Position 0 skips the second pass of tick 0 and resumes in tick 1: it enters once and exits once, so the
    per-position events no longer give w_{t+1} = w_t + e - x, while the set-difference form (a re-entry) does."""
    s = Schedule(2, (ScheduleTick(2, ((0, 1, 1), (1, 1, 2))), ScheduleTick(1, ((0, 2, 1),))))
    assert is_valid(s)
    c = pass_counters(s)
    assert c.width == (2, 1, 1, 0) and c.entries == (0, 0, 0) and c.exits == (0, 1, 1)
    assert not c.updates_hold()
    assert set_difference_events(pass_active(s)) == ((0, 1, 0), (1, 1, 1)) != (c.entries, c.exits)
    assert counters(pass_active(s)) == c and tick_counters(s).updates_hold()  # ticks {0, 1}, {0}: no pause


def test_time_model_is_flat_then_linear():
    m = TimeModel(l_star=4, pass_s=2)
    assert [m.pass_time(w) for w in (0, 1, 4, 6, 8)] == [2, 2, 2, 3, 4]
    assert m.pass_time(5) == Fraction(5, 2) and TimeModel(4, 0.5).pass_time(6) == 0.75
    with pytest.raises(ValueError, match=r"l_star=0 must be >= 1"):
        TimeModel(0)
    with pytest.raises(ValueError, match=r"pass_s=0 must be a real > 0"):
        TimeModel(4, 0)
    assert not m.stages_timed and m.prelude_time(8) == m.coda_time(8) == 0
    staged = TimeModel(l_star=4, pass_s=2, prelude_s=1, coda_s=Fraction(1, 2))
    assert staged.stages_timed and [staged.prelude_time(w) for w in (1, 4, 6)] == [1, 1, Fraction(3, 2)]
    assert staged.coda_time(8) == 1
    for name in ("prelude_s", "coda_s"):
        with pytest.raises(ValueError, match=rf"{name}=-1 must be a real >= 0"):
            TimeModel(4, **{name: -1})


def test_timed_queries():
    s = ar_schedule(6, 2, depth=2, prefill_depth=2)  # passes of widths 6, 6, 1, 1
    t = Timed(s, TimeModel(l_star=3))
    assert t.ends == (2, 4, 5, 6) and t.end == 6
    assert [t.depth(x) for x in (0, 1.9, 2, 4.5, 6, 99)] == [0, 0, 1, 2, 4, 4]
    assert [t.width(x) for x in (0, 2, 4, 6)] == [6, 6, 1, 0]
    assert [t.work(x) for x in (0, 2, 4, 5, 6)] == [0, 6, 12, 13, 14]
    assert [t.tokens(x) for x in (3.9, 4, 5.9, 6)] == [0, 1, 1, 2]
    assert t.stage_ends == (0, 2, 4, 4, 4, 5, 6, 6) and t.stage_depth(4) == 5


def test_timed_stages():
    """Per tick: prelude, core passes, coda; commits at the end of the coda."""
    s = ar_schedule(6, 2, depth=2, prefill_depth=2)  # ticks: prefill (6 positions, 2 passes), then 1 position
    t = Timed(s, TimeModel(l_star=3, prelude_s=1, coda_s=Fraction(1, 2)))
    # prefill: prelude 2 (width 6 > L* = 3), passes 2 + 2, coda 1; decode: prelude 1, passes 1 + 1, coda 1/2
    assert t.stage_ends == (2, 4, 6, 7, 8, 9, 10, Fraction(21, 2))
    assert t.ends == (4, 6, 9, 10) and t.end == Fraction(21, 2)
    assert t.commit_times == [7, Fraction(21, 2)]
    assert [t.depth(x) for x in (3.9, 4, 8.9, 9, 10)] == [0, 1, 2, 3, 4]
    assert [t.tokens(x) for x in (6, 7, 10, Fraction(21, 2))] == [0, 1, 1, 2]
