"""The diffusion-forcing sampler: exact AR reductions, fixed faults, batching, the trace.

The strategies and checks come from `rdtheory.testing`, the same public pieces a user points at their own sampler.
"""

from dataclasses import dataclass, field
from functools import partial

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rdtheory import TINY, PerStep, ShareLast
from rdtheory.sampling.autoregressive import generate_adaptive, generate_ar
from rdtheory.sampling.diffusion_forcing import deepest_count, generate_df
from rdtheory.sampling.exits import ExitRule, FixedDepth, KLDiff, LatentDiff, TokenStability
from rdtheory.sampling.schedules import NO_NOISE, Constant, Dampened, Linear
from rdtheory.testing.equivalence import (
    ar_limit,
    assert_same_latents,
    assert_same_tokens,
    check_against_oracle,
    check_wavefront_one_limit,
)
from rdtheory.testing.models import random_model
from rdtheory.testing.strategies import (
    contractive_models,
    depth_sensitive_models,
    df_knobs,
    exit_rules,
    kv_policies,
    noise_schedules,
    prompt_batches,
    prompts,
    samplings,
)


def latents_differ(a, b, rtol=1e-10):
    """Whether two runs' latents differ anywhere (beyond rounding), shapes included."""
    try:
        assert_same_latents(a.latents, b.latents, rtol)
    except AssertionError:
        return True
    return False


def test_reduction_a_fixed_depth_with_inner_equal_depth_is_static_ar():
    """DF with r' = r, headway 1, FixedDepth(r), eta = 0, beta = 0 equals static AR at depth r: tokens and
    latents, any init scale, greedy or sampled (the randomness is keyed by position)."""
    mattered = []

    @settings(max_examples=25)
    @given(model=depth_sensitive_models(), kv=kv_policies(), depth=st.integers(1, 5), sampling=samplings(),
           init_scale=st.sampled_from([0.0, 1.0]), seed=st.integers(0, 50), data=st.data())
    def check(model, kv, depth, sampling, init_scale, seed, data):
        batch = data.draw(prompt_batches(model.config.vocab_size))
        n = data.draw(st.integers(1, 6))
        common = dict(sampling=sampling, init_scale=init_scale, seed=seed, kv=kv, stop_tokens=())
        ar = generate_ar(model, batch, n, depth, **common)
        df = generate_df(model, batch, n, inner=depth, depth=depth, exit=FixedDepth(depth), headway=1, ema=0.0,
                         noise=NO_NOISE, **common)
        assert_same_tokens(df.tokens, ar.tokens, "DF vs AR")
        assert_same_latents(df.latents, ar.latents, 1e-10, "DF vs AR")
        mattered.append(generate_ar(model, batch, n, 1 if depth > 1 else 3, **common).tokens != ar.tokens)

    check()
    assert sum(mattered) >= 0.5 * len(mattered), f"depth mattered in {sum(mattered)} of {len(mattered)} examples"


def test_reduction_a_is_bitwise_for_one_row_and_matches_the_oracle():
    for seed in range(3):
        model = random_model(TINY, seed)
        for kv in (ShareLast(), PerStep()):
            def df(m, prompts, n, kv=kv, seed=seed):
                return generate_df(m, prompts, n, inner=4, depth=4, exit=FixedDepth(4), ema=0.0, init_scale=1.0,
                                   kv=kv, seed=seed, stop_tokens=())

            got = check_against_oracle(df, model, [[3, 1, 4, 1, 5]], 7, kv, depth=4, init_scale=1.0, seed=seed)
            ar = generate_ar(model, [[3, 1, 4, 1, 5]], 7, 4, init_scale=1.0, kv=kv, seed=seed, stop_tokens=())
            assert_same_latents(got.latents, ar.latents, 0.0, "bitwise")


def test_reduction_b_wavefront_one_is_adaptive_ar_with_checks_every_inner_steps():
    """check_wavefront_one_limit: DF with max_wavefront 1 and any rule (LatentDiff among them), any EMA, equals
    adaptive AR checking the rule every r' steps, in tokens, latents and recurrences per position."""
    exited_early = []

    @settings(max_examples=25)
    @given(model=st.one_of(depth_sensitive_models(), contractive_models()), kv=kv_policies(), rule=exit_rules(),
           inner=st.integers(1, 3), ticks=st.integers(2, 5), min_depth=st.integers(1, 4),
           ema=st.sampled_from([0.0, 0.4]), depth=st.integers(1, 4), data=st.data())
    def check(model, kv, rule, inner, ticks, min_depth, ema, depth, data):
        max_depth = inner * ticks
        min_depth = min(min_depth, max_depth)
        batch = data.draw(prompt_batches(model.config.vocab_size))
        n = data.draw(st.integers(2, 6))
        common = dict(init_scale=1.0, seed=3, kv=kv, stop_tokens=())
        df, ar = check_wavefront_one_limit(partial(generate_df, ema=ema, noise=NO_NOISE, **common),
                                           partial(generate_adaptive, **common), model, batch, n, exit=rule,
                                           inner=inner, depth=depth, max_depth=max_depth, min_depth=min_depth)
        for b, prompt in enumerate(batch):
            depths = list(ar.trace.recurrences(b).values())[len(prompt):]
            exited_early.append(any(d < max_depth for d in depths))

    check()
    # In 8 runs of 25 random examples, 29 % to 73 % of the rows exited early, LatentDiff's rows from none to 21: the
    # share is held below that spread, and LatentDiff exiting early at several depths is checked on fixed models in
    # the next test.
    assert sum(exited_early) >= 0.15 * len(exited_early), f"early exits in {sum(exited_early)} rows"


def test_reduction_b_with_latent_diff_exiting_early_at_different_depths():
    """The wavefront-of-one limit for the paper's rule on fixed TINY models, where LatentDiff(0.1) exits before
    max_depth at nearly every position, at several depths."""
    early, depths = 0, set()
    for seed in range(4):
        model = random_model(TINY, seed, state_gain=1.0)
        for kv in (ShareLast(), PerStep()):
            common = dict(init_scale=1.0, seed=3, kv=kv, stop_tokens=())
            batch = [[1, 2, 3], [4, 5]]
            _, ar = check_wavefront_one_limit(partial(generate_df, ema=0.4, noise=NO_NOISE, **common),
                                              partial(generate_adaptive, **common), model, batch, 6,
                                              exit=LatentDiff(0.1), inner=2, depth=4, max_depth=12)
            for b, prompt in enumerate(batch):
                generated = list(ar.trace.recurrences(b).values())[len(prompt):]
                early += sum(d < 12 for d in generated)
                depths |= set(generated)
    assert early >= 30 and len(depths) >= 3, (early, depths)  # measured: 38 of 40 positions, depths 4 to 12


def test_the_wavefront_one_check_fails_when_checks_are_not_every_inner_steps():
    """A mutant adaptive sampler that checks its rule every step instead of every r' steps must fail the check."""
    model = random_model(TINY, 1)
    common = dict(init_scale=1.0, seed=3, stop_tokens=())

    def every_step(m, p, n, exit, check_every, **knobs):
        return generate_adaptive(m, p, n, exit, check_every=1, **knobs, **common)

    args = (partial(generate_df, ema=0.0, **common), every_step, model, [[1, 2, 3], [4, 5]], 6)
    with pytest.raises(AssertionError, match="vs adaptive AR"):
        check_wavefront_one_limit(*args, exit=LatentDiff(0.5), inner=3, depth=4, max_depth=12)
    check_wavefront_one_limit(*args, exit=LatentDiff(0.5), inner=1, depth=4, max_depth=12)  # r' = 1: no mutation


def _reduction_c_inside(seen, model, batch, kv, depth, cap, headway, ema, noise, init_scale, continuous, rule,
                        min_depth, full_prefill, sampling, data):
    """One example of reduction (c) inside the line: the knobs made consistent with it, DF against static AR."""
    headway = headway if cap == 1 else 1
    init_scale = 0.0 if noise.active else init_scale
    continuous = continuous and not noise.active
    longest = max(map(len, batch))
    if not full_prefill and cap < longest and (continuous or not kv.per_step):
        cap, headway = longest, 1  # the prompt enters whole
    if isinstance(rule, FixedDepth):
        rule, min_depth, max_depth = FixedDepth(min(rule.depth, depth), rule.rightmost), min(min_depth, depth), None
    else:
        max_depth = data.draw(st.integers(1, depth))
        min_depth = min(min_depth, max_depth)  # generate_df refuses min_depth > max_depth
    limit = ar_limit(depth, depth, rule, cap, headway, noise, init_scale, continuous, continuous, full_prefill,
                     min_depth, max_depth, kv=kv, prompt_len=longest)
    assert limit.holds, limit.reason
    common = dict(init_scale=init_scale, seed=1, kv=kv, stop_tokens=(), continuous_compute=continuous,
                  sampling=sampling)
    knobs = dict(inner=depth, depth=depth, exit=rule, max_wavefront=cap, headway=headway, ema=ema, noise=noise,
                 full_prefill=full_prefill, min_depth=min_depth, **common)
    ar = generate_ar(model, batch, 5, depth, **common)
    df = generate_df(model, batch, 5, max_depth=max_depth, **knobs)
    assert_same_tokens(df.tokens, ar.tokens, limit.reason)
    assert_same_latents(df.latents, ar.latents, 1e-10, limit.reason)
    seen["examples"] += 1
    seen["depth_mattered"] += generate_ar(model, batch, 5, 1, **common).tokens != ar.tokens
    seen["no_prefill"] += not full_prefill
    seen["chunked"] += not full_prefill and cap < longest
    if max_depth is not None:  # without the cap at r the rule decides, and then DF leaves AR
        seen["adaptive"] += 1
        seen["cap_mattered"] += latents_differ(generate_df(model, batch, 5, max_depth=2 * depth, **knobs), ar)


def test_reduction_c_inside_the_line_eta_and_beta_do_not_matter():
    """r' = r, one position per tick (a cap of 1 or headway 1): any EMA, any noise schedule on a zero initial
    state, any init scale without noise, any sampling; a rule certain to commit after the one tick (FixedDepth(d)
    with d, min_depth <= r, or LatentDiff, KLDiff, TokenStability with max_depth <= r); a full prefill, or none
    when the whole prompt enters the first tick or keys are PerStep (without continuous compute; the prompt in
    chunks is drawn in every example of the next test)."""
    seen = dict(examples=0, depth_mattered=0, adaptive=0, cap_mattered=0, no_prefill=0, chunked=0)

    @settings(max_examples=30)
    @given(model=depth_sensitive_models(), kv=kv_policies(), depth=st.integers(2, 4), cap=st.sampled_from([1, 2, 8]),
           headway=st.sampled_from([1, 2]), ema=st.sampled_from([0.0, 0.5]), noise=noise_schedules(),
           init_scale=st.sampled_from([0.0, 1.0]), continuous=st.booleans(), rule=exit_rules(),
           min_depth=st.integers(1, 4), full_prefill=st.booleans(), sampling=samplings(), data=st.data())
    def check(model, kv, depth, cap, headway, ema, noise, init_scale, continuous, rule, min_depth, full_prefill,
              sampling, data):
        batch = data.draw(prompt_batches(model.config.vocab_size, max_batch=2))
        _reduction_c_inside(seen, model, batch, kv, depth, cap, headway, ema, noise, init_scale, continuous, rule,
                            min_depth, full_prefill, sampling, data)

    check()
    n = seen["examples"]
    # Shares held below what random examples give (in 7 runs: adaptive rules 13 to 27 of 30, no prefill 8 to 18):
    # three of four rule kinds are adaptive, half the draws skip the prefill.
    assert seen["depth_mattered"] >= 0.5 * n, seen
    assert seen["adaptive"] >= 0.3 * n and seen["cap_mattered"] >= 0.3 * seen["adaptive"], seen
    assert seen["no_prefill"] >= 0.2 * n, seen


def test_reduction_c_inside_the_line_with_the_prompt_in_chunks():
    """The same line where the prompt enters in chunks: no prefill, PerStep keys, no continuous compute, a cap
    below the longest prompt (every example, by construction)."""
    seen = dict(examples=0, depth_mattered=0, adaptive=0, cap_mattered=0, no_prefill=0, chunked=0)

    @settings(max_examples=10)
    @given(model=depth_sensitive_models(), depth=st.integers(2, 4), headway=st.sampled_from([1, 2]),
           ema=st.sampled_from([0.0, 0.5]), noise=noise_schedules(), init_scale=st.sampled_from([0.0, 1.0]),
           rule=exit_rules(), min_depth=st.integers(1, 4), sampling=samplings(), data=st.data())
    def check(model, depth, headway, ema, noise, init_scale, rule, min_depth, sampling, data):
        batch = data.draw(st.lists(prompts(model.config.vocab_size, 2, 6), min_size=1, max_size=2))
        cap = data.draw(st.integers(1, max(map(len, batch)) - 1))
        _reduction_c_inside(seen, model, batch, PerStep(), depth, cap, headway, ema, noise, init_scale, False, rule,
                            min_depth, False, sampling, data)

    check()
    assert seen["chunked"] == seen["examples"] >= 8, seen
    assert seen["depth_mattered"] >= 0.5 * seen["examples"], seen


def _breaker(name, data, depth, longest):
    """Knobs that move DF off its AR limit (inside-the-line base knobs changed), and the AR side's continuous
    compute."""
    draw = data.draw
    noises = noise_schedules(kinds=(Constant, Dampened, Linear))
    if name == "noise on a random initial state":
        return dict(noise=draw(noises), init_scale=1.0), False
    if name == "noise on a carried state":
        return dict(noise=draw(noises), init_scale=0.0, continuous_compute=True), True
    if name == "headway above 1 under a cap above 1":
        return dict(headway=draw(st.integers(2, 3)), max_wavefront=draw(st.integers(2, 8))), False
    if name == "continuous compute on one side":
        on_df = draw(st.booleans())
        return dict(continuous_compute=on_df), not on_df
    if name == "a rule that fires a tick late":
        return dict(exit=FixedDepth(depth + draw(st.integers(1, depth)))), False
    if name == "min_depth above r":
        return dict(min_depth=draw(st.integers(depth + 1, 2 * depth))), False
    if name == "inner below depth":
        return dict(inner=draw(st.integers(1, depth - 1))), False
    if name == "no prefill, ShareLast keys, the prompt in chunks":
        return dict(full_prefill=False, kv=ShareLast(), max_wavefront=draw(st.integers(1, longest - 1))), False
    raise ValueError(name)


# Each breaking knob, with the share of examples in which it must change the tokens (it must change the latents in
# nearly all): the knobs that change every new position's recurrence do so most of the time; noise (beta0 down to
# 0.1) and a chunked prompt reach the tokens only through the states, less often: in 41-45 % of 150 random
# examples each, so of BREAKER_EXAMPLES they must change the tokens at least once (missed with probability 4e-4).
BREAKERS = {"noise on a random initial state": 0.05, "noise on a carried state": 0.05,
            "headway above 1 under a cap above 1": 0.5, "continuous compute on one side": 0.5,
            "a rule that fires a tick late": 0.5, "min_depth above r": 0.5, "inner below depth": 0.5,
            "no prefill, ShareLast keys, the prompt in chunks": 0.05}
BREAKER_EXAMPLES = 15


@pytest.mark.parametrize("name", BREAKERS)
def test_reduction_c_outside_the_line_each_breaking_knob_matters(name):
    """One knob past the line, the rest inside it (EMA on, greedy or sampled): ar_limit must say the limit is not
    certain, and the knob must change the latents in nearly every example and the tokens in a share of them."""
    seen = dict(examples=0, tokens=0, latents=0)

    @settings(max_examples=BREAKER_EXAMPLES)
    @given(model=depth_sensitive_models(), kv=kv_policies(), depth=st.integers(2, 4), sampling=samplings(),
           seed=st.integers(0, 50), data=st.data())
    def check(model, kv, depth, sampling, seed, data):
        batch = data.draw(prompt_batches(model.config.vocab_size, max_batch=2, min_distinct_lengths=2))
        longest = max(map(len, batch))
        knobs = dict(inner=depth, depth=depth, exit=FixedDepth(depth), max_wavefront=8, headway=1, ema=0.5,
                     noise=NO_NOISE, init_scale=1.0, continuous_compute=False, full_prefill=True, min_depth=1, kv=kv)
        change, ar_cc = _breaker(name, data, depth, longest)
        knobs |= change
        limit = ar_limit(knobs["inner"], depth, knobs["exit"], knobs["max_wavefront"], knobs["headway"],
                         knobs["noise"], knobs["init_scale"], knobs["continuous_compute"], ar_cc,
                         knobs["full_prefill"], knobs["min_depth"], kv=knobs["kv"], prompt_len=longest)
        assert not limit.holds
        common = dict(sampling=sampling, seed=seed, stop_tokens=())
        ar = generate_ar(model, batch, 6, depth, init_scale=knobs["init_scale"], kv=knobs["kv"],
                         continuous_compute=ar_cc, **common)
        df = generate_df(model, batch, 6, **knobs, **common)
        seen["examples"] += 1
        seen["tokens"] += df.tokens != ar.tokens
        seen["latents"] += latents_differ(df, ar)

    check()
    assert seen["latents"] >= 0.9 * seen["examples"], seen
    assert seen["tokens"] >= max(1.0, BREAKERS[name] * seen["examples"]), seen


def test_never_more_than_max_new_tokens_and_bounded_ticks():
    @settings(max_examples=40)
    @given(model=depth_sensitive_models(), knobs=df_knobs(), data=st.data())
    def check(model, knobs, data):
        batch = data.draw(prompt_batches(model.config.vocab_size))
        n = data.draw(st.integers(0, 7))
        run = generate_df(model, batch, n, stop_tokens=(), **knobs.kwargs())
        assert all(len(t) == n for t in run.tokens) and set(run.finished) <= {"length"}
        assert run.trace.n_ticks <= run.trace.tick_bound
        max_depth = 2 * knobs.depth if knobs.max_depth is None else knobs.max_depth
        deepest = max(knobs.depth, deepest_count(knobs.inner, max_depth, knobs.max_wavefront))
        assert all(n <= deepest for b in range(len(batch)) for n in run.trace.recurrences(b).values())
        for b, prompt in enumerate(batch):
            commits = run.trace.commits(b)
            assert [c.pos for c in commits] == list(range(len(prompt), len(prompt) + n))
            assert [c.token for c in commits] == run.tokens[b]
            assert len(run.latents[b]) == n

    check()


def test_a_stop_token_ends_the_row_when_committed():
    model = random_model(TINY, 5)
    batch = [[1, 2, 3], [9, 8, 7, 6]]
    for rule in (FixedDepth(4), LatentDiff(0.5)):
        free = generate_df(model, batch, 10, inner=2, depth=4, exit=rule, max_wavefront=4, stop_tokens=())
        stop = free.tokens[0][4]
        got = generate_df(model, batch, 10, inner=2, depth=4, exit=rule, max_wavefront=4, stop_tokens=[stop])
        cut = free.tokens[0].index(stop) + 1
        assert got.tokens[0] == free.tokens[0][:cut] and got.finished[0] == "stop"
        second = free.tokens[1].index(stop) + 1 if stop in free.tokens[1] else 10
        assert got.tokens[1] == free.tokens[1][:second]


def test_a_cap_of_one_never_stalls_and_caps_report_standing_waves():
    model = random_model(TINY, 2)
    one = generate_df(model, [[1, 2, 3]], 8, inner=1, depth=3, exit=FixedDepth(3), max_wavefront=1, stop_tokens=())
    assert len(one.tokens[0]) == 8 and one.trace.n_ticks == 1 + 7 * 3
    # The head holds the front for two ticks of three, except the last position, after which nothing is needed.
    assert one.trace.standing_waves == 6 * 2
    wide = generate_df(model, [[1, 2, 3]], 8, inner=1, depth=3, exit=FixedDepth(3), max_wavefront=8, stop_tokens=())
    assert wide.trace.standing_waves == 0 and wide.trace.n_ticks == 7 + 3


def test_fixed_rule_pipeline_shape():
    """FixedDepth(r), r' | r, headway 1, full prefill: every new position runs exactly r recurrences, the front
    fills in r/r' ticks and then commits one token per tick: N - 1 + r/r' ticks in all."""
    model = random_model(TINY, 3)
    for depth, inner in ((6, 2), (6, 3), (4, 4), (8, 2)):
        run = generate_df(model, [[5, 6, 7, 8]], 9, inner=inner, depth=depth, exit=FixedDepth(depth),
                          stop_tokens=(), ema=0.3)
        assert run.trace.n_ticks == 9 - 1 + depth // inner
        assert run.trace.recurrences(0) == {p: depth for p in range(4 + 8)}
        assert run.trace.core_passes == depth + (9 - 1 + depth // inner - 1) * inner


def test_max_ticks_stops_the_run():
    model = random_model(TINY, 4)
    run = generate_df(model, [[1, 2]], 10, inner=1, depth=3, exit=LatentDiff(0.0), max_ticks=5, stop_tokens=())
    assert run.trace.max_ticks_reached and run.finished == ["max_ticks"] and len(run.tokens[0]) < 10


@pytest.mark.parametrize("full_prefill", [True, False])
@pytest.mark.parametrize("max_ticks", [1, 2, 5])
def test_max_ticks_counts_diffusion_forcing_ticks_not_the_prefill(full_prefill, max_ticks):
    model = random_model(TINY, 4)
    run = generate_df(model, [[1, 2]], 10, inner=1, depth=3, exit=FixedDepth(3), max_ticks=max_ticks,
                      full_prefill=full_prefill, stop_tokens=())
    ticks = run.trace.ticks
    assert sum(not t.prefill for t in ticks) == max_ticks and sum(t.prefill for t in ticks) == int(full_prefill)
    assert run.trace.max_ticks_reached and run.finished == ["max_ticks"]


def test_batch_rows_equal_single_runs():
    """Rows of different prompt lengths (every batch has at least two) advance their own wavefronts in one batched
    step; each row equals its single-row run, whatever the knobs."""
    seen = dict(examples=0, uneven=0)

    @settings(max_examples=25)  # adaptive rules first: Hypothesis starts from the first kind, and rows exit apart
    @given(model=depth_sensitive_models(), knobs=df_knobs(max_wavefronts=st.integers(1, 5), rules=exit_rules(
        kinds=(LatentDiff, KLDiff, TokenStability, FixedDepth))), data=st.data())
    def check(model, knobs, data):
        batch = data.draw(prompt_batches(model.config.vocab_size, min_distinct_lengths=2))
        assert len({len(p) for p in batch}) >= 2
        together = generate_df(model, batch, 5, stop_tokens=(), **knobs.kwargs())
        for b, prompt in enumerate(batch):
            alone = generate_df(model, [prompt], 5, row_ids=[b], stop_tokens=(), **knobs.kwargs())
            assert_same_tokens(alone.tokens, [together.tokens[b]], f"row {b}")
            assert_same_latents(alone.latents, [together.latents[b]], 1e-9, f"row {b}")
            assert alone.trace.recurrences(0) == together.trace.recurrences(b)
        seen["examples"] += 1
        # Rows whose fronts stood at different heads in some tick: the batch really was ragged while it ran.
        seen["uneven"] += any(len({blk.head - len(batch[blk.row]) for blk in t.blocks}) > 1
                              for t in together.trace.ticks if not t.prefill)

    check()
    assert seen["uneven"] >= 0.3 * seen["examples"], seen  # measured: 10 to 24 of 25 over 16 runs of random examples



def test_a_stopped_row_under_per_step_keys_leaves_the_other_rows_running():
    """A row that stops keeps leftover wavefront entries; they must not recur (under PerStep their counts would
    address cache slots past the allocation)."""
    model = random_model(TINY, 5)
    kw = dict(inner=2, depth=4, exit=FixedDepth(4), max_wavefront=4, stop_tokens=[52], kv=PerStep())
    run = generate_df(model, [[1, 2, 3], [9, 8, 7, 6]], 30, **kw)
    assert run.finished == ["length", "stop"] and run.tokens[1] == [52] and len(run.tokens[0]) == 30
    for b, prompt in enumerate([[1, 2, 3], [9, 8, 7, 6]]):
        alone = generate_df(model, [prompt], 30, row_ids=[b], **kw)
        assert alone.tokens == [run.tokens[b]] and alone.finished == [run.finished[b]]


def test_batch_rows_equal_single_runs_with_stop_tokens():
    """Rows that stop at different ticks, every knob drawn (PerStep and ShareLast keys): each row of the batch
    equals its single-row run, tokens, latents, recurrences and how it finished."""
    seen = dict(examples=0, some_stop=0, per_step_stop=0)

    @settings(max_examples=25)
    @given(model=depth_sensitive_models(), knobs=df_knobs(max_wavefronts=st.integers(1, 5)), data=st.data())
    def check(model, knobs, data):
        batch = data.draw(prompt_batches(model.config.vocab_size, min_distinct_lengths=2))
        free = generate_df(model, batch, 6, stop_tokens=(), **knobs.kwargs())
        # A stop token the free run commits early in some row, so that row stops while others may go on.
        row = data.draw(st.integers(0, len(batch) - 1))
        stops = [free.tokens[row][data.draw(st.integers(0, 2))]]
        together = generate_df(model, batch, 6, stop_tokens=stops, **knobs.kwargs())
        for b, prompt in enumerate(batch):
            alone = generate_df(model, [prompt], 6, row_ids=[b], stop_tokens=stops, **knobs.kwargs())
            assert_same_tokens(alone.tokens, [together.tokens[b]], f"row {b}")
            assert_same_latents(alone.latents, [together.latents[b]], 1e-9, f"row {b}")
            assert alone.finished == [together.finished[b]] and alone.trace.recurrences(0) == \
                together.trace.recurrences(b)
        stopped = "stop" in together.finished and "length" in together.finished
        seen["examples"] += 1
        seen["some_stop"] += stopped
        seen["per_step_stop"] += stopped and isinstance(knobs.kv, PerStep)

    check()
    # A row stopped while another ran on in a good share of the examples, some of them with PerStep keys.
    assert seen["some_stop"] >= 0.3 * seen["examples"] and seen["per_step_stop"] >= 2, seen


@dataclass(frozen=True)
class _StartProbe(ExitRule):
    """An exit rule whose memory is each position's initial state, never updated, logged at every check."""

    rightmost: bool = False
    log: list = field(default_factory=list, compare=False)

    def start(self, state, vocab_size):
        return (state.clone(),)

    def check(self, memory, state, logits, tokens, depth):
        self.log.append(memory[0].clone())
        return (depth >= 4) | (state[..., 0] > 0), memory


@pytest.mark.parametrize("rightmost", [False, True])
@pytest.mark.parametrize("full_prefill", [True, False])
def test_per_position_memory_stays_aligned_with_absolute_positions(rightmost, full_prefill):
    """After uneven exits and appends, slot i of a row's wavefront must hold position head+i's memory."""
    model = random_model(TINY, 8)
    probe = _StartProbe(rightmost)
    batch = [[1, 2, 3], [4], [5, 6, 7, 8, 9]]
    run = generate_df(model, batch, 9, inner=1, depth=3, exit=probe, max_wavefront=5, headway=2, ema=0.0,
                      full_prefill=full_prefill, init_scale=1.0, seed=2, stop_tokens=())
    ticks = [t for t in run.trace.ticks if not t.prefill]
    assert len(ticks) == len(probe.log)
    pos = torch.arange(20)[None].expand(3, -1)
    initial = model.initial_state(model.chunk(pos), 1.0, 2, torch.arange(3))
    uneven = 0
    for tick, memory in zip(ticks, probe.log):
        for block in tick.blocks:
            width = len(block.firsts)
            expected = initial[block.row, block.head: block.head + width]
            assert torch.equal(memory[block.row, :width], expected), (block.row, block.head)
        uneven += len({len(c) for c in [[x for x in tick.commits if x.row == r] for r in range(3)]}) > 1
    assert uneven >= 3, "exits were never uneven across rows"


@pytest.mark.parametrize("kv", [ShareLast(), PerStep()], ids=["share-last", "per-step"])
def test_without_prefill_the_prompt_runs_through_the_wavefront(kv):
    model = random_model(TINY, 6)
    run = generate_df(model, [[1, 2, 3, 4, 5, 6]], 4, inner=2, depth=4, exit=FixedDepth(4), max_wavefront=3,
                      full_prefill=False, stop_tokens=(), kv=kv)
    assert not run.trace.ticks[0].prefill
    assert run.trace.recurrences(0) == {p: 4 for p in range(6 + 3)}
    assert [c.pos for c in run.trace.commits(0)] == [6, 7, 8, 9]


@pytest.mark.parametrize("schedule", [Constant(0.3), Dampened(0.5), Linear(0.4, 6)])
def test_noise_schedules_on_the_device_follow_the_theory_formulas(schedule):
    counts = torch.arange(0, 12)
    assert schedule.beta_tensor(counts).tolist() == pytest.approx([schedule.beta(n) for n in range(12)], abs=1e-15)
