"""Declared vs ran: the trace of an actual run is the schedule the theory constructs for the same knobs."""

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rdtheory import TINY, ShareLast
from rdtheory.sampling.autoregressive import generate_adaptive, generate_ar
from rdtheory.sampling.diffusion_forcing import deepest_count, generate_df
from rdtheory.sampling.exits import FixedDepth, KLDiff, LatentDiff, TokenStability
from rdtheory.testing.models import random_model
from rdtheory.testing.strategies import depth_sensitive_models, kv_policies, prompt_batches
from rdtheory.theory import KVSharing, adaptive_ar_schedule, ar_schedule, df_schedule, is_valid, pass_counters

rules = st.one_of(st.floats(0.3, 1.0).map(LatentDiff), st.floats(0.3, 1.0).map(lambda e: LatentDiff(e, True)),
                  st.floats(0.02, 0.5).map(KLDiff), st.integers(0, 2).map(TokenStability))


def exit_depths(schedule):
    """Each run position's recurrences when it left (its total count)."""
    return schedule.depths()


@settings(max_examples=20)
@given(model=depth_sensitive_models(), kv=kv_policies(), depth=st.integers(1, 4), data=st.data())
def test_static_ar_runs_the_ar_schedule(model, kv, depth, data):
    batch = data.draw(prompt_batches(model.config.vocab_size))
    n = data.draw(st.integers(1, 5))
    run = generate_ar(model, batch, n, depth, kv=kv, stop_tokens=())
    for b, prompt in enumerate(batch):
        ran = run.trace.to_schedule(b)
        assert ran == ar_schedule(len(prompt), n, depth)
        assert is_valid(ran, KVSharing.of(kv), depth)
        assert pass_counters(ran).depth[-1] == run.trace.core_passes if len(batch) == 1 else True


@settings(max_examples=20)
@given(model=depth_sensitive_models(), rule=rules, max_depth=st.integers(2, 6), data=st.data())
def test_adaptive_ar_runs_the_adaptive_schedule_of_its_exit_depths(model, rule, max_depth, data):
    batch = data.draw(prompt_batches(model.config.vocab_size))
    run = generate_adaptive(model, batch, 4, rule, max_depth=max_depth, stop_tokens=())
    for b, prompt in enumerate(batch):
        ran = run.trace.to_schedule(b)
        assert ran == adaptive_ar_schedule(len(prompt), 4, exit_depths(ran), max_depth)


def test_df_fixed_rule_runs_the_declared_schedule():
    """FixedDepth(d) with max_depth d, any headway. With hold_stale_drafts=False the run is exactly the theory's
    df_schedule for the same knobs. Holding stale drafts (the default), it is that schedule whenever no position
    was held, i.e. every position left at d rounded up to whole ticks; then both runs give the same tokens (and
    latents, to rounding). Not vacuous: the wavefront is often wider than one position, and holds occur with
    headway >= 2."""
    wide, held = [], []  # held: over rows where two drafts can be in the wavefront together

    # Widest caps, largest headways and most tokens first: Hypothesis starts from the first values, and those are the
    # examples where several positions and stale drafts share the wavefront.
    @settings(max_examples=40)
    @given(model=depth_sensitive_models(), kv=kv_policies(), inner=st.integers(1, 3), depth=st.integers(1, 6),
           cap=st.sampled_from([6, 5, 4, 3, 2, 1]), headway=st.sampled_from([3, 2, 1]), full_prefill=st.booleans(),
           rightmost=st.booleans(), data=st.data())
    def check(model, kv, inner, depth, cap, headway, full_prefill, rightmost, data):
        batch = data.draw(prompt_batches(model.config.vocab_size))
        n = data.draw(st.sampled_from([8, 7, 6, 5, 4, 3, 2, 1]))
        knobs = dict(inner=inner, depth=depth, exit=FixedDepth(depth, rightmost), max_wavefront=cap, headway=headway,
                     full_prefill=full_prefill, kv=kv, stop_tokens=(), max_depth=depth)
        free = generate_df(model, batch, n, hold_stale_drafts=False, **knobs)
        holding = generate_df(model, batch, n, **knobs)
        exit_at = inner * math.ceil(depth / inner)
        for b, prompt in enumerate(batch):
            declared = df_schedule(len(prompt), n, inner, depth, headway=headway, cap=cap, max_depth=depth,
                                   full_prefill=full_prefill, prefill_depth=depth if full_prefill else None,
                                   rightmost=rightmost)
            ran = free.trace.to_schedule(b)
            assert ran == declared
            assert is_valid(ran, KVSharing.of(kv), deepest_count(inner, depth, cap, hold_stale_drafts=False))
            assert max(ran.depths().values()) <= exit_at
            ran_holding = holding.trace.to_schedule(b)
            was_held = max(ran_holding.depths().values()) > exit_at
            if was_held:
                assert ran_holding != declared
            else:
                assert ran_holding == declared
                assert holding.tokens[b] == free.tokens[b]
                torch.testing.assert_close(holding.latents[b], free.latents[b], rtol=1e-9, atol=1e-9)
            assert is_valid(ran_holding, KVSharing.of(kv), deepest_count(inner, depth, cap))
            assert not (was_held and headway == 1), "the fixed rule with headway 1 never meets a stale draft"
            if headway >= 2 and cap >= 2 and n >= 3:  # two drafts can be in the wavefront together
                held.append(was_held)
            wide.append(max((len(t.runs) for t in ran.ticks if not t.prefill), default=0) > 1)

    check()
    assert sum(wide) >= 0.3 * len(wide), f"the wavefront was wider than one position in {sum(wide)} rows"
    assert len(held) >= 5 and sum(held) >= 0.25 * len(held), \
        f"stale drafts held a position in {sum(held)} of {len(held)} rows with headway, cap and tokens >= 2, 2, 3"


def test_df_any_rule_runs_the_schedule_of_its_exit_depths():
    """For any exit rule, knobs and batch, the run is the theory's DF schedule driven by each position's actual
    exit depth (stale drafts and rule verdicts only decide those depths, never the control flow), whether stale
    drafts are held or not."""
    wide = []

    @settings(max_examples=30)  # widest caps first: Hypothesis starts from the first values
    @given(model=depth_sensitive_models(), kv=kv_policies(), rule=rules, inner=st.integers(1, 3),
           cap=st.sampled_from([6, 5, 4, 3, 2, 1]), headway=st.integers(1, 3), full_prefill=st.booleans(),
           max_depth=st.integers(2, 8), hold=st.booleans(), data=st.data())
    def check(model, kv, rule, inner, cap, headway, full_prefill, max_depth, hold, data):
        batch = data.draw(prompt_batches(model.config.vocab_size))
        n = data.draw(st.integers(1, 6))
        run = generate_df(model, batch, n, inner=inner, depth=3, exit=rule, max_wavefront=cap, headway=headway,
                          full_prefill=full_prefill, max_depth=max_depth, kv=kv, stop_tokens=(),
                          hold_stale_drafts=hold)
        for b, prompt in enumerate(batch):
            ran = run.trace.to_schedule(b)
            depths = exit_depths(ran)
            theory = df_schedule(len(prompt), n, inner, depths.__getitem__, headway=headway, cap=cap,
                                 full_prefill=full_prefill, prefill_depth=3 if full_prefill else None,
                                 rightmost=rule.rightmost)
            assert ran == theory
            # The sampler's slots: a full prefill runs at depth 3, deeper than max_depth = 2 allows a new position.
            assert is_valid(ran, KVSharing.of(kv), max(3, deepest_count(inner, max_depth, cap, hold)))
            wide.append(max((len(t.runs) for t in ran.ticks if not t.prefill), default=0) > 1)

    check()
    # Loose rules exit in one tick, so wide wavefronts are fewer here: 19 % to 71 % of the rows in 9 runs of random
    # examples.
    assert sum(wide) >= 0.1 * len(wide), f"the wavefront was wider than one position in {sum(wide)} rows"


def test_positions_held_on_stale_drafts_are_still_the_schedule_of_their_exit_depths():
    """Headway 3 appends placeholder drafts, so positions reach their depth together with a stale input and are
    held: the consistency rule changes exit depths, and only exit depths."""
    model = random_model(TINY, 3)
    run = generate_df(model, [[1, 2, 3]], 10, inner=1, depth=3, exit=FixedDepth(3), headway=3, max_wavefront=6,
                      stop_tokens=())
    ran = run.trace.to_schedule(0)
    depths = ran.depths()
    held = [p for p, d in depths.items() if p >= 3 and d > 3]
    assert held, depths
    assert ran == df_schedule(3, 10, 1, depths.__getitem__, headway=3, cap=6, prefill_depth=3)
    assert ran != df_schedule(3, 10, 1, 3, headway=3, cap=6, prefill_depth=3)
    free = generate_df(model, [[1, 2, 3]], 10, inner=1, depth=3, exit=FixedDepth(3), headway=3, max_wavefront=6,
                       stop_tokens=(), hold_stale_drafts=False)
    assert free.trace.to_schedule(0) == df_schedule(3, 10, 1, 3, headway=3, cap=6, prefill_depth=3)


def test_share_last_runs_are_valid_under_share_last():
    model = random_model(TINY, 0)
    run = generate_df(model, [[1, 2, 3]], 5, inner=2, depth=4, exit=FixedDepth(4), kv=ShareLast(), stop_tokens=())
    assert is_valid(run.trace.to_schedule(0), KVSharing.SHARE_LAST)
