import pytest

from rdtheory.theory import Front, Wave, df_schedule, first_front, max_df_ticks, recur, settle


def test_wave_validates_knobs():
    with pytest.raises(ValueError, match=r"cap=0 must be >= 1"):
        Wave(2, 3, 1, cap=0)
    with pytest.raises(ValueError, match=r"prompt_len=0 must be >= 1"):
        Wave(0, 3, 1)


def test_first_front_with_and_without_full_prefill():
    assert first_front(Wave(3, 4, 2)) == Front(3, (0,), 4, 1)
    assert first_front(Wave(3, 1, 2)) == Front(3, (), 3, 1)  # the prefill commits the only token
    assert first_front(Wave(5, 4, 2, cap=3, full_prefill=False)) == Front(0, (0, 0, 0), 3, 0)


@pytest.mark.parametrize("rightmost, exits", [(False, 1), (True, 3)])
def test_exit_prefix_contiguous_and_rightmost(rightmost, exits):
    wave = Wave(1, 10, 1, cap=8, rightmost=rightmost)
    front = recur(Front(1, (0, 0, 0, 0), 5, 1), 1)
    front, settled = settle(front, [True, False, True, False], wave)
    assert settled.exits == exits and settled.commits == tuple(range(2, 2 + exits))
    assert front.start == 1 + exits and front.committed == 1 + exits


def test_prompt_positions_commit_nothing_and_are_admitted_before_drafts():
    wave = Wave(4, 3, 1, headway=1, cap=3, full_prefill=False)
    front = recur(first_front(wave), 1)  # positions 0, 1, 2
    front, settled = settle(front, [True, True, False], wave)
    assert settled.commits == () and settled.added == 1  # only prompt position 3, never a draft beside it
    assert front == Front(2, (1, 0), 4, 0)


def test_standing_wave_only_when_the_cap_blocks_a_needed_position():
    wave = Wave(1, 5, 1, cap=2)
    _, blocked = settle(Front(1, (2, 1), 3, 1), [False, False], wave)
    assert blocked.standing and blocked.added == 0
    _, finished = settle(Front(3, (2, 1), 5, 3), [False, False], wave)  # position 4 = P + N - 2 admitted
    assert not finished.standing and finished.added == 0


def test_settle_checks_the_flags():
    with pytest.raises(ValueError, match=r"must have one flag per position \(2\)"):
        settle(Front(1, (1, 1), 3, 1), [True], Wave(1, 5, 1))


@pytest.mark.parametrize("full_prefill", [True, False])
def test_tick_bound_is_attained_with_cap_one(full_prefill):
    prompt, n_new, inner, depth = 2, 4, 2, 5
    schedule = df_schedule(prompt, n_new, inner, depth, cap=1, max_depth=depth, full_prefill=full_prefill)
    df_ticks = schedule.n_ticks - full_prefill
    assert df_ticks == max_df_ticks(prompt, n_new, inner, depth, full_prefill) == (3 if full_prefill else 5) * 3
