from hypothesis import given, settings
from hypothesis import strategies as st

from rdtheory.knobs import PerStep, ShareLast
from rdtheory.testing.schedules import df_settings, schedules
from rdtheory.theory import (
    Cell,
    KVSharing,
    Schedule,
    ScheduleTick,
    ar_schedule,
    decode_widths,
    df_schedule,
    is_valid,
    provisional_reads,
    read_cell,
    violations,
)

SHARE, PER_STEP = ShareLast(), PerStep()


def schedule(*ticks, prompt_len=1):
    return Schedule(prompt_len, tuple(ScheduleTick(*t) for t in ticks))


def test_each_rule_can_fail():
    ok = schedule((2, ((0, 1, 2),), (1,), False, True), (2, ((1, 1, 2),), (2,)))
    assert is_valid(ok) and is_valid(ok, PER_STEP, depth_capacity=2)
    gap = schedule((2, ((0, 1, 2),), (1,), False, True), (2, ((1, 2, 2),), (2,)))
    assert any("starts at step 2 after step 0" in v for v in violations(gap))
    early = schedule((1, ((0, 1, 1), (2, 1, 1)), (), False, True), (1, ((1, 1, 1),), (1,)))
    assert any("position 2 starts in pass 1 before positions [1]" in v for v in violations(early))
    missing = schedule((1, ((0, 1, 1), (2, 1, 1)), (1,), False, True))
    assert any("position 2 starts in pass 1 before positions [1]" in v for v in violations(missing))
    commits = schedule((2, ((0, 1, 2),), (2,), False, True))
    assert any("are not the positions (1,)" in v for v in violations(commits))
    reruns = schedule((1, ((0, 1, 1),), (1,), False, True), (1, ((0, 2, 1), (1, 1, 1)), (2,)))
    assert any("token 1 is committed in tick 0 but position 0 last runs in tick 1" in v for v in violations(reruns))
    late_commit = schedule((1, ((0, 1, 1),), (), False, True), (1, ((1, 1, 1),), (1,)))
    assert any("token 1 is committed in tick 1 but position 0 last runs in tick 0" in v
               for v in violations(late_commit))
    prefill = schedule((2, ((0, 1, 2),), (1,)), (2, ((1, 1, 2),), (2,), False, True))
    assert any("tick 1 is a prefill" in v for v in violations(prefill))
    assert not is_valid(ok, PER_STEP, depth_capacity=1) and is_valid(ok, SHARE, depth_capacity=1)


def test_reads_under_each_policy():
    s = df_schedule(2, 5, inner=1, exit_depths=3, cap=8, prefill_depth=3)
    query = Cell(4, 1)  # DF tick 3, global pass 6, next to (3, 2) and (2, 3) in the same pass
    assert [read_cell(s, query, q, SHARE) for q in range(4)] == [Cell(0, 3), Cell(1, 3), Cell(2, 3), Cell(3, 2)]
    assert [read_cell(s, query, q, PER_STEP) for q in range(4)] == [Cell(0, 1), Cell(1, 1), Cell(2, 1), Cell(3, 1)]
    assert read_cell(s, Cell(3, 1), 4, SHARE) is None  # later positions are never read


def test_per_step_cache_overflows_when_inner_does_not_divide_max_depth():
    s = df_schedule(1, 3, inner=3, exit_depths=4, max_depth=4)
    assert max(c.step for c in s.cells()) == 6
    assert is_valid(s, SHARE) and not is_valid(s, PER_STEP, depth_capacity=4) and is_valid(s, PER_STEP, 6)


def test_the_theory_takes_the_models_policies_and_the_earlier_names_still_work():
    from rdtheory.model.cache import PerStep as ModelPerStep
    from rdtheory.model.cache import ShareLast as ModelShareLast

    assert ModelShareLast is ShareLast and ModelPerStep is PerStep  # one vocabulary
    assert KVSharing.SHARE_LAST == SHARE and KVSharing.PER_STEP == PER_STEP
    assert KVSharing.of(SHARE) == SHARE and KVSharing.of(PER_STEP) == PER_STEP


def test_the_policies_own_their_slots_and_reads():
    assert [SHARE.core_slot(j, k, 4) for j in range(4) for k in (1, 3)] == [0, 0, 1, 1, 2, 2, 3, 3]
    assert [PER_STEP.core_slot(j, k, 4) for k in (1, 2, 3) for j in range(4)] == list(range(12))
    assert SHARE.core_slots(4, 32) == 4 and PER_STEP.core_slots(4, 32) == 128
    assert [SHARE.read_step(k, 3) for k in (1, 3, 5)] == [3, 3, 3]
    assert [PER_STEP.read_step(k, 3) for k in (1, 3, 5)] == [1, 3, 3]
    assert SHARE.stores(99, 4) and PER_STEP.stores(4, 4) and not PER_STEP.stores(5, 4)
    assert (SHARE.per_step, PER_STEP.per_step) == (False, True) and (SHARE.label, PER_STEP.label) == (
        "ShareLast", "PerStep")


def test_prefill_reads_differ_by_policy():
    s = ar_schedule(3, 1, depth=4)
    assert provisional_reads(s, PER_STEP) == 0 and provisional_reads(s, SHARE) == 3 * 3  # pairs q<p, steps 1..3


@settings(max_examples=200)
@given(schedule_=schedules())
def test_generated_schedules_are_valid_under_both_policies(schedule_):
    deepest = max((c.step for c in schedule_.cells()), default=1)
    assert is_valid(schedule_, SHARE) and is_valid(schedule_, PER_STEP, depth_capacity=deepest)


@settings(max_examples=100)
@given(settings_=df_settings(full_prefills=st.just(True)))
def test_drafts_read_provisional_states_only_with_a_wide_front(settings_):
    s = settings_.build()
    decode = range(1, s.n_ticks)
    for sharing in (SHARE, PER_STEP):
        reads = provisional_reads(s, sharing, decode)
        if max(decode_widths(s), default=0) <= 1:
            assert reads == 0
    ar = settings_.ar(settings_.inner)
    assert provisional_reads(ar, SHARE, range(1, ar.n_ticks)) == 0
