import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rdtheory.testing.schedules import df_settings, schedules
from rdtheory.theory import (
    Cell,
    Schedule,
    ScheduleTick,
    Span,
    adaptive_ar_schedule,
    ar_schedule,
    df_schedule,
    is_valid,
    max_df_ticks,
)


def runs(schedule):
    return [(t.passes, [(r.pos, r.first, r.count) for r in t.runs], t.commits, t.standing) for t in schedule.ticks]


def test_tick_normalises_runs_and_validates():
    tick = ScheduleTick(3, ((5, 1, 2), Span(2, 4, 3)), commits=(7, 6))
    assert tick.runs == (Span(2, 4, 3), Span(5, 1, 2)) and tick.commits == (6, 7)
    assert tick == ScheduleTick(3, (Span(2, 4, 3), (5, 1, 2)), (6, 7))
    assert tick.cells_at(3) == {Cell(2, 6)}
    with pytest.raises(ValueError, match=r"count \(pos=5\)=4 must be <= passes=3"):
        ScheduleTick(3, ((5, 1, 4),))
    with pytest.raises(ValueError, match=r"must name each position at most once"):
        ScheduleTick(3, ((5, 1, 1), (5, 2, 1)))
    with pytest.raises(ValueError, match=r"passes=0 must be >= 1"):
        ScheduleTick(0, ())


def test_ar_schedule_by_hand():
    s = ar_schedule(2, 3, depth=2, prefill_depth=3)
    assert runs(s) == [(3, [(0, 1, 3), (1, 1, 3)], (2,), False), (2, [(2, 1, 2)], (3,), False),
                       (2, [(3, 1, 2)], (4,), False)]
    assert s.ticks[0].prefill and s.n_passes == 7 and s.commits() == (2, 3, 4)
    assert s.by_pass()[3] == {Cell(2, 1)} and s.timeline()[Cell(3, 2)] == (2, 7)


def test_adaptive_ar_uses_per_position_depths_capped_by_max_depth():
    s = adaptive_ar_schedule(1, 4, [9, 5, 1, 7], prefill_depth=2, max_depth=6)
    assert [t.passes for t in s.ticks] == [2, 5, 1, 6]
    assert s.depths() == {0: 2, 1: 5, 2: 1, 3: 6}


def test_df_fixed_rule_runs_the_diagonal_of_figure_1():
    s = df_schedule(2, 5, inner=1, exit_depths=3, cap=8, prefill_depth=3)
    assert runs(s)[1:] == [
        (1, [(2, 1, 1)], (), False),
        (1, [(2, 2, 1), (3, 1, 1)], (), False),
        (1, [(2, 3, 1), (3, 2, 1), (4, 1, 1)], (3,), False),
        (1, [(3, 3, 1), (4, 2, 1), (5, 1, 1)], (4,), False),
        (1, [(4, 3, 1), (5, 2, 1)], (5,), False),
        (1, [(5, 3, 1)], (6,), False),
    ]
    # one diagonal per tick: cell (p, k) runs in DF tick (p - P) + k
    assert all(tick == (c.pos - 2) + c.step for c, (tick, _) in s.timeline().items() if c.pos >= 2)


def test_df_standing_wave_at_the_cap():
    s = df_schedule(1, 5, inner=1, exit_depths=3, cap=2, prefill_depth=3)
    assert [standing for *_, standing in runs(s)] == [False, False, True, False, False, False, False, False]
    assert [t.commits for t in s.ticks] == [(1,), (), (), (2,), (3,), (), (4,), (5,)]


def test_df_without_full_prefill_runs_the_prompt_in_the_wave():
    s = df_schedule(3, 2, inner=1, exit_depths=1, cap=2, full_prefill=False)
    assert runs(s) == [(1, [(0, 1, 1), (1, 1, 1)], (), False), (1, [(2, 1, 1)], (3,), False),
                       (1, [(3, 1, 1)], (4,), False)]
    assert not any(t.prefill for t in s.ticks)


def test_rightmost_rule_commits_an_unconverged_position():
    kwargs = dict(prompt_len=1, n_new=4, inner=1, exit_depths=[1, 3, 1, 1], cap=8, prefill_depth=1)
    contiguous, rightmost = df_schedule(**kwargs), df_schedule(**kwargs, rightmost=True)
    assert contiguous.depths()[1] == 3 and [t.commits for t in contiguous.ticks] == [(1,), (), (), (2, 3, 4)]
    assert rightmost.depths()[1] == 2 and [t.commits for t in rightmost.ticks] == [(1,), (), (2, 3), (4,)]


def test_headway_appends_placeholder_positions():
    s = df_schedule(1, 6, inner=2, exit_depths=4, headway=3, cap=4, prefill_depth=4)
    assert [len(t.runs) for t in s.ticks[1:]] == [1, 4, 4, 1]


def test_df_argument_errors_name_the_rule():
    with pytest.raises(ValueError, match=r"exit_depths\[3\]=0 must be an int >= 1"):
        df_schedule(2, 3, 1, [1, 1, 1, 0])
    with pytest.raises(ValueError, match=r"exit_depths\[3\]=None"):
        df_schedule(2, 3, 1, [1, 1, 1])
    with pytest.raises(ValueError, match=r"prefill_depth=None must be given"):
        df_schedule(2, 3, 1, [1, 1, 1, 1])
    with pytest.raises(ValueError, match=r"prefill_depth=2 needs full_prefill=True"):
        df_schedule(2, 3, 1, 2, full_prefill=False, prefill_depth=2)
    with pytest.raises(ValueError, match=r"headway=0 must be >= 1"):
        df_schedule(2, 3, 1, 2, headway=0)


@settings(max_examples=200)
@given(settings_=df_settings())
def test_df_schedules_are_valid_and_run_every_needed_position_once(settings_):
    s = settings_.build()
    assert is_valid(s)
    p, n = settings_.prompt_len, settings_.n_new
    assert s.commits() == tuple(range(p, p + n))
    first = p if settings_.full_prefill else 0
    ran = (set(range(p)) if settings_.full_prefill else set()) | set(range(first, p + n - 1))
    assert set(s.depths()) == (ran if n else set())
    if n:
        depth = settings_.max_depth if settings_.max_depth is not None else max(
            [settings_.exit_depths] if settings_.fixed_rule else settings_.exit_depths)
        assert s.n_ticks - settings_.full_prefill <= max_df_ticks(p, n, settings_.inner, depth, settings_.full_prefill)
    for t in s.ticks[settings_.full_prefill:]:
        assert t.passes == settings_.inner and all(r.count == settings_.inner for r in t.runs)
        assert 1 <= len(t.runs) <= settings_.cap


@settings(max_examples=200)
@given(settings_=df_settings())
def test_exits_follow_the_commit_rule(settings_):
    """A wave position exits in tick t iff all wavefront positions up to it have converged (contiguous), or some
    position at or after it has (rightmost); converged means count >= min(exit depth, max_depth)."""
    s = settings_.build()
    if not s.ticks:
        return
    cap = settings_.max_depth if settings_.max_depth is not None else 10**9
    need = lambda q: min(settings_.exit_depths if settings_.fixed_rule else settings_.exit_depths[q], cap)  # noqa: E731
    last_tick = {r.pos: i for i, t in enumerate(s.ticks) for r in t.runs}
    for i, t in enumerate(s.ticks[settings_.full_prefill:], start=settings_.full_prefill):
        converged = [r.last >= need(r.pos) for r in t.runs]
        for j, r in enumerate(t.runs):
            rule = any(converged[j:]) if settings_.rightmost else all(converged[: j + 1])
            assert (last_tick[r.pos] == i) == rule, (i, r)


@given(schedule=schedules(), data=st.data())
def test_views_agree(schedule, data):
    by_pass, timeline = schedule.by_pass(), schedule.timeline()
    assert len(by_pass) == schedule.n_passes and frozenset().union(*by_pass, frozenset()) == schedule.cells()
    assert all(c in by_pass[g - 1] and c in schedule.by_tick()[i] for c, (i, g) in timeline.items())
    assert sum(schedule.depths().values()) == len(schedule.cells())
    assert Schedule(schedule.prompt_len, list(schedule.ticks)) == schedule


@settings(max_examples=200)
@given(settings_=df_settings())
def test_admission_and_standing_waves(settings_):
    """After the exits of a tick: remaining prompt positions enter first, up to the cap; otherwise
    min(headway, room, still needed) drafts; a standing wave is a tick whose cap blocks a needed position."""
    s, k = settings_.build(), settings_
    wave_ticks = s.ticks[k.full_prefill:]
    last = k.prompt_len + k.n_new - 2
    for t, nxt in zip(wave_ticks, wave_ticks[1:] + (None,)):
        if nxt is None:
            assert not t.standing
            continue
        kept = [p for p in t.positions if p in nxt.positions]
        assert not t.standing or (kept == list(t.positions) and not t.commits)  # a standing wave exits nothing
        next_pos = max(t.positions) + 1
        room = k.cap - len(kept)
        added = [p for p in nxt.positions if p not in kept]
        assert added == list(range(next_pos, next_pos + len(added)))
        expected = min(room, k.prompt_len - next_pos) if next_pos < k.prompt_len else min(
            k.headway, room, last - next_pos + 1)
        assert len(added) == expected
        assert t.standing == (last - next_pos + 1 > 0 and room == 0)


def test_a_stop_token_truncates_the_run():
    full = df_schedule(1, 8, inner=1, exit_depths=2, cap=4, prefill_depth=2)
    stopped = full.truncated(4)
    assert stopped.commits() == (1, 2, 3, 4) and is_valid(stopped)
    assert stopped.ticks == full.ticks[: len(stopped.ticks)]
    assert full.truncated(8) == full and full.truncated(0) == Schedule(1, ())
    together = df_schedule(1, 6, inner=1, exit_depths=[1, 3, 1, 1, 1, 1, 1], cap=8, prefill_depth=1)
    assert together.ticks[3].commits == (2, 3, 4)  # one tick commits three tokens; a stop at token 3 cuts it
    assert together.truncated(3).ticks[-1].commits == (2, 3) and is_valid(together.truncated(3))

