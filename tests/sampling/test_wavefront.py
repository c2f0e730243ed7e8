"""The commit rule (`exit_prefix`) on hand-built [B, W] tensors, and a row's bookkeeping (`RowFront`) through
sequences of commits and appends, each against integers worked out by hand."""

import pytest
import torch

from rdtheory.sampling.wavefront import RowFront, exit_prefix

T, F = True, False


def _exits(converged, *, valid=None, inputs=None, predicted=None, draft=None, commits=None, budget=None,
           stops=(), rightmost=False, hold=True):
    """exit_prefix over rows given as lists; by default every entry is valid, commits, consumed a committed input
    (no drafts) and predicts token 10 + its index; the budget is large."""
    converged = torch.tensor(converged)
    b, w = converged.shape

    def grid(value, default):
        return torch.tensor(value) if value is not None else default

    out = exit_prefix(
        converged,
        grid(valid, torch.ones(b, w, dtype=torch.bool)),
        grid(inputs, torch.zeros(b, w, dtype=torch.long)),
        grid(predicted, 10 + torch.arange(w).expand(b, w)),
        grid(draft, torch.zeros(b, w, dtype=torch.bool)),
        grid(commits, torch.ones(b, w, dtype=torch.bool)),
        grid(budget, torch.full((b,), 100)),
        torch.tensor(stops, dtype=torch.long),
        rightmost,
        hold,
    )
    assert out[0].dtype == torch.long and out[1].dtype == torch.bool and out[0].shape == out[1].shape == (b,)
    return out[0].tolist(), out[1].tolist()


# ------------------------------------------------------------------------------------------------ exit_prefix


def test_contiguous_rule_commits_the_converged_prefix():
    assert _exits([[T, T, F, T], [F, T, T, T], [T, T, T, T]]) == ([2, 0, 4], [F, F, F])


def test_rightmost_rule_commits_up_to_the_last_converged_position():
    assert _exits([[T, T, F, T], [F, T, T, F], [F, F, F, F]], rightmost=True) == ([4, 3, 0], [F, F, F])


def test_padding_never_exits():
    valid = [[T, T, T, F], [T, T, F, F]]
    converged = [[T, T, T, T], [F, T, T, T]]
    assert _exits(converged, valid=valid) == ([3, 0], [F, F])
    assert _exits(converged, valid=valid, rightmost=True) == ([3, 2], [F, F])


def test_a_stale_draft_holds_itself_and_everything_to_its_right():
    """Entry i consumed inputs[i]; a draft must equal the token its left neighbour now commits (predicted[i-1]).
    Row 0: entry 2 consumed 77 where 11 is committed. Row 1: the head's input is never stale, even as a draft."""
    kw = dict(inputs=[[99, 10, 77, 12], [5, 10, 11, 12]], predicted=[[10, 11, 12, 13], [10, 11, 12, 13]],
              draft=[[F, T, T, T], [T, T, T, T]])
    converged = [[T, T, T, T], [T, T, T, T]]
    assert _exits(converged, **kw) == ([2, 4], [F, F])
    assert _exits(converged, rightmost=True, **kw) == ([2, 4], [F, F])
    assert _exits(converged, hold=False, **kw) == ([4, 4], [F, F])  # the rule's verdict alone
    # A stale input that is not a draft (a prompt token) holds nothing.
    assert _exits(converged, **{**kw, "draft": [[F, F, F, F], [F, F, F, F]]}) == ([4, 4], [F, F])


def test_never_more_commits_than_the_budget():
    """Row 0: budget 2, every entry commits. Row 1: budget 2, but the head is a prompt position that leaves without
    committing, so three entries leave. Row 2: budget 0."""
    commits = [[T, T, T, T], [F, T, T, T], [T, T, T, T]]
    assert _exits([[T, T, T, T]] * 3, commits=commits, budget=[2, 2, 0]) == ([2, 3, 0], [F, F, F])
    assert _exits([[T, T, T, T]] * 3, commits=commits, budget=[2, 2, 0], rightmost=True) == ([2, 3, 0], [F, F, F])
    assert _exits([[T, T, T, T]] * 3, commits=commits, budget=[4, 3, 1]) == ([4, 4, 1], [F, F, F])


def test_a_committed_stop_token_ends_the_row_after_it():
    predicted = [[10, 42, 11, 42], [42, 10, 11, 12], [10, 11, 42, 12], [42, 10, 11, 12]]
    converged = [[T, T, T, T], [T, T, T, T], [T, T, F, F], [T, T, T, T]]
    commits = [[T, T, T, T], [T, T, T, T], [T, T, T, T], [F, T, T, T]]
    # Row 0: the first stop (entry 1) ends it; row 1: the head commits a stop; row 2: the stop lies past the
    # converged prefix, so it is not committed; row 3: the stop is predicted by a position that commits nothing.
    assert _exits(converged, predicted=predicted, commits=commits, stops=[42, 63]) == (
        [2, 1, 2, 4], [T, T, F, F])
    assert _exits(converged, predicted=predicted, commits=commits, stops=[]) == ([4, 4, 2, 4], [F, F, F, F])


def test_a_wavefront_of_width_zero_has_no_exits():
    empty = torch.zeros(2, 0, dtype=torch.bool)
    exits, stop = exit_prefix(empty, empty, empty.long(), empty.long(), empty, empty, torch.tensor([3, 3]),
                              torch.tensor([1]), False)
    assert exits.tolist() == [0, 0] and stop.tolist() == [False, False]


# ------------------------------------------------------------------------------------------------ RowFront


def test_commits_after_a_full_prefill():
    """Prompt of 3 and 4 new tokens; the prefill committed token 7 and the head is position 3."""
    f = RowFront(prompt_len=3, n_new=4, head=3, width=2, admitted=3, committed=[7])
    assert (f.last_needed, f.budget) == (5, 3)
    f.commit(2, False, [8, 9, 5])  # positions 3 and 4 leave, committing the tokens of positions 4 and 5
    assert (f.committed, f.head, f.width, f.budget, f.done) == ([7, 8, 9], 5, 0, 1, False)
    f.commit(0, False, [1])
    assert (f.committed, f.head, f.done) == ([7, 8, 9], 5, False)
    f.commit(1, False, [4, 6])
    assert (f.committed, f.head, f.budget, f.done, f.finished) == ([7, 8, 9, 4], 6, 0, True, "length")


def test_a_stop_ends_the_row_with_budget_left():
    f = RowFront(prompt_len=2, n_new=5, head=2, width=3, admitted=2, committed=[1])
    f.commit(1, True, [2, 3, 4])
    assert (f.committed, f.done, f.finished, f.budget) == ([1, 2], True, "stop", 3)


def test_prompt_positions_leave_without_committing():
    """No prefill: a prompt of 3 is in the wavefront from position 0; position 2 (P - 1) commits the first token."""
    f = RowFront(prompt_len=3, n_new=2, head=0, width=3, admitted=3)
    f.commit(2, False, [11, 12, 13])
    assert (f.committed, f.head, f.width) == ([], 2, 1)
    f.commit(1, False, [21, 22])
    assert (f.committed, f.head, f.width, f.done) == ([21], 3, 0, False)


def test_plan_append_admits_the_prompt_first_up_to_the_cap():
    f = RowFront(prompt_len=5, n_new=3, head=0, width=2, admitted=2)
    assert f.plan_append(cap=3, headway=1) == (1, 0, False)  # the headway does not limit prompt positions
    assert (f.admitted, f.width) == (3, 3)
    assert f.plan_append(cap=3, headway=1) == (0, 0, True)  # no room: a standing wave
    f.commit(2, False, [0, 0, 0])
    assert f.plan_append(cap=3, headway=1) == (2, 0, False) and (f.admitted, f.width) == (5, 3)


def test_plan_append_adds_drafts_by_headway_until_the_last_needed_position():
    """Prompt 4, 5 new tokens: positions 4..7 must run (token 8 is decoded from position 7)."""
    f = RowFront(prompt_len=4, n_new=5, head=4, width=1, admitted=4, committed=[9])
    assert f.plan_append(cap=128, headway=1) == (0, 1, False) and f.width == 2
    assert f.plan_append(cap=128, headway=3) == (0, 2, False) and f.width == 4  # only positions 6 and 7 remain
    assert f.plan_append(cap=128, headway=3) == (0, 0, False)  # all needed positions run: not standing
    g = RowFront(prompt_len=4, n_new=5, head=4, width=2, admitted=4, committed=[9])
    assert g.plan_append(cap=2, headway=1) == (0, 0, True) and g.width == 2  # at the cap with positions to come
    assert g.plan_append(cap=3, headway=2) == (0, 1, False) and g.width == 3  # the cap binds before the headway


def test_plan_append_does_nothing_for_a_finished_row():
    f = RowFront(prompt_len=4, n_new=5, head=4, width=1, admitted=4, committed=[9], done=True)
    assert f.plan_append(cap=128, headway=4) == (0, 0, False) and f.width == 1


@pytest.mark.parametrize("headway", [1, 2])
def test_a_row_runs_every_needed_position_once(headway):
    """Commit and append in turn, with the head leaving every tick: every position P..P+N-2 enters once, in order,
    and the row ends with its N tokens."""
    f = RowFront(prompt_len=3, n_new=6, head=3, width=1, admitted=3, committed=[0])
    entered = [3]
    for _ in range(10):  # six ticks at most
        f.commit(1, False, [len(f.committed)] * f.width)
        _, drafts, _ = f.plan_append(cap=4, headway=headway)
        entered += range(f.head + f.width - drafts, f.head + f.width)
        if f.done:
            break
    assert f.done and entered == [3, 4, 5, 6, 7] and f.committed == [0, 1, 2, 3, 4, 5] and f.finished == "length"
