"""The diffusion-forcing sampler: exact AR reductions, fixed faults, batching, the trace."""

from dataclasses import dataclass, field

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rdtheory import TINY, PerStep, ShareLast
from rdtheory.sampling.autoregressive import generate_adaptive, generate_ar
from rdtheory.sampling.diffusion_forcing import deepest_count, generate_df
from rdtheory.sampling.exits import ExitRule, FixedDepth, KLDiff, LatentDiff, TokenStability
from rdtheory.sampling.schedules import NO_NOISE, Constant, Dampened, Linear
from rdtheory.sampling.tokens import Sampling
from rdtheory.testing.equivalence import ar_limit, assert_same_latents, assert_same_tokens, check_against_oracle
from rdtheory.testing.models import random_model
from rdtheory.testing.strategies import contractive_models, depth_sensitive_models, kv_policies, prompt_batches

samplings = st.sampled_from([Sampling(), Sampling(temperature=1.0), Sampling(temperature=0.7, top_k=5)])
noises = st.sampled_from([NO_NOISE, Constant(0.3), Dampened(0.5), Linear(0.5, 8)])
# Thresholds loose enough that exits do fire before max_depth on the stable random models.
rules = st.one_of(st.floats(0.3, 1.0).map(LatentDiff), st.floats(0.3, 1.0).map(lambda e: LatentDiff(e, True)),
                  st.floats(0.02, 0.5).map(KLDiff), st.integers(0, 2).map(TokenStability),
                  st.integers(1, 6).map(FixedDepth))


def test_reduction_a_fixed_depth_with_inner_equal_depth_is_static_ar():
    """DF with r' = r, headway 1, FixedDepth(r), eta = 0, beta = 0 equals static AR at depth r: tokens and
    latents, any init scale, greedy or sampled (the randomness is keyed by position)."""
    mattered = []

    @settings(max_examples=25)
    @given(model=depth_sensitive_models(), kv=kv_policies(), depth=st.integers(1, 5), sampling=samplings,
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
    exited_early = []

    @settings(max_examples=25)
    @given(model=st.one_of(depth_sensitive_models(), contractive_models()), kv=kv_policies(), rule=rules,
           inner=st.integers(1, 3), ticks=st.integers(2, 5), min_depth=st.integers(1, 4),
           ema=st.sampled_from([0.0, 0.4]), depth=st.integers(1, 4), data=st.data())
    def check(model, kv, rule, inner, ticks, min_depth, ema, depth, data):
        max_depth = inner * ticks
        min_depth = min(min_depth, max_depth)
        batch = data.draw(prompt_batches(model.config.vocab_size))
        n = data.draw(st.integers(2, 6))
        common = dict(init_scale=1.0, seed=3, kv=kv, stop_tokens=(), max_depth=max_depth, min_depth=min_depth)
        ar = generate_adaptive(model, batch, n, rule, check_every=inner, prefill_depth=depth, **common)
        df = generate_df(model, batch, n, inner=inner, depth=depth, exit=rule, max_wavefront=1, ema=ema,
                         noise=NO_NOISE, **common)
        assert_same_tokens(df.tokens, ar.tokens, "DF(W=1) vs adaptive AR")
        assert_same_latents(df.latents, ar.latents, 1e-10, "DF(W=1) vs adaptive AR")
        for b, prompt in enumerate(batch):
            assert df.trace.recurrences(b) == ar.trace.recurrences(b)
            depths = list(ar.trace.recurrences(b).values())[len(prompt):]
            exited_early.append(any(d < max_depth for d in depths))

    check()
    assert sum(exited_early) >= 0.3 * len(exited_early), f"early exits in {sum(exited_early)} rows"


@settings(max_examples=20)
@given(model=depth_sensitive_models(), kv=kv_policies(), depth=st.integers(2, 4), cap=st.sampled_from([1, 2, 8]),
       headway=st.sampled_from([1, 2]), ema=st.sampled_from([0.0, 0.5]), noise=noises,
       init_scale=st.sampled_from([0.0, 1.0]), continuous=st.booleans(), shallow=st.booleans(), sampling=samplings,
       data=st.data())
def test_reduction_c_inside_the_line_eta_and_beta_do_not_matter(model, kv, depth, cap, headway, ema, noise, init_scale,
                                                                 continuous, shallow, sampling, data):
    """r' = r, one position per tick: any EMA, any noise schedule on a zero initial state, any cap,
    FixedDepth(d <= r)."""
    headway = headway if cap == 1 else 1
    init_scale = 0.0 if noise.active else init_scale
    continuous = continuous and not noise.active
    rule = FixedDepth(depth - 1 if shallow else depth)
    limit = ar_limit(depth, depth, rule, cap, headway, noise, init_scale, continuous, continuous)
    assert limit.holds, limit.reason
    batch = data.draw(prompt_batches(model.config.vocab_size, max_batch=2))
    common = dict(init_scale=init_scale, seed=1, kv=kv, stop_tokens=(), continuous_compute=continuous,
                  sampling=sampling)
    ar = generate_ar(model, batch, 5, depth, **common)
    df = generate_df(model, batch, 5, inner=depth, depth=depth, exit=rule, max_wavefront=cap, headway=headway, ema=ema,
                     noise=noise, **common)
    assert_same_tokens(df.tokens, ar.tokens, limit.reason)
    assert_same_latents(df.latents, ar.latents, 1e-10, limit.reason)


BREAKERS = {
    "noise on a random initial state": dict(noise=Constant(0.3), init_scale=1.0),
    "noise on a carried state": dict(noise=Constant(0.3), init_scale=0.0, continuous_compute=True, ar_cc=True),
    "dampened noise on a random initial state": dict(noise=Dampened(0.5), init_scale=1.0),
    "headway 2 under a cap of 2": dict(headway=2, max_wavefront=2),
    "continuous compute on one side": dict(continuous_compute=True),
    "a rule that fires a tick late": dict(exit="late"),
    "inner below depth": dict(inner="half"),
}


@pytest.mark.parametrize("name", list(BREAKERS))
def test_reduction_c_outside_the_line_each_breaking_knob_matters(name):
    depth = 4
    differed = 0
    for seed in range(6):
        model = random_model(TINY, seed)
        knobs = dict(inner=depth, depth=depth, exit=FixedDepth(depth), max_wavefront=8, headway=1, ema=0.5,
                     noise=NO_NOISE, init_scale=1.0, continuous_compute=False, seed=seed, stop_tokens=())
        knobs |= BREAKERS[name]
        ar_cc = knobs.pop("ar_cc", False)
        knobs["exit"] = FixedDepth(depth + 1) if knobs["exit"] == "late" else knobs["exit"]
        knobs["inner"] = depth // 2 if knobs["inner"] == "half" else knobs["inner"]
        limit = ar_limit(knobs["inner"], depth, knobs["exit"], knobs["max_wavefront"], knobs["headway"], knobs["noise"],
                         knobs["init_scale"], knobs["continuous_compute"], ar_cc)
        assert not limit.holds
        ar = generate_ar(model, [[1, 2, 3], [7, 5]], 6, depth, init_scale=knobs["init_scale"], seed=seed,
                         stop_tokens=(), continuous_compute=ar_cc)
        df = generate_df(model, [[1, 2, 3], [7, 5]], 6, **knobs)
        differed += df.tokens != ar.tokens
    assert differed >= 4, f"{name}: DF differed from AR for only {differed} of 6 models"


def test_never_more_than_max_new_tokens_and_bounded_ticks():
    @settings(max_examples=40)
    @given(model=depth_sensitive_models(), kv=kv_policies(), rule=rules, inner=st.integers(1, 3),
           cap=st.integers(1, 6), headway=st.integers(1, 3), full_prefill=st.booleans(), noise=noises,
           max_depth=st.integers(1, 9), data=st.data())
    def check(model, kv, rule, inner, cap, headway, full_prefill, noise, max_depth, data):
        batch = data.draw(prompt_batches(model.config.vocab_size))
        n = data.draw(st.integers(0, 7))
        run = generate_df(model, batch, n, inner=inner, depth=3, exit=rule, max_wavefront=cap, headway=headway,
                          full_prefill=full_prefill, noise=noise, max_depth=max_depth, stop_tokens=(), kv=kv)
        assert all(len(t) == n for t in run.tokens) and set(run.finished) <= {"length"}
        assert run.trace.n_ticks <= run.trace.tick_bound
        deepest = deepest_count(inner, max_depth, cap)
        assert all(n <= max(3, deepest) for b in range(len(batch)) for n in run.trace.recurrences(b).values())
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


def test_batch_rows_equal_single_runs():
    @settings(max_examples=25)
    @given(model=depth_sensitive_models(), kv=kv_policies(), rule=rules, inner=st.integers(1, 3),
           cap=st.integers(1, 5), headway=st.integers(1, 2), full_prefill=st.booleans(), noise=noises,
           ema=st.sampled_from([0.0, 0.3]), sampling=samplings, continuous=st.booleans(), data=st.data())
    def check(model, kv, rule, inner, cap, headway, full_prefill, noise, ema, sampling, continuous, data):
        batch = data.draw(prompt_batches(model.config.vocab_size))
        knobs = dict(inner=inner, depth=3, exit=rule, max_wavefront=cap, headway=headway, full_prefill=full_prefill,
                     noise=noise, ema=ema, sampling=sampling, continuous_compute=continuous, kv=kv, seed=7,
                     stop_tokens=(), init_scale=1.0)
        together = generate_df(model, batch, 5, **knobs)
        for b, prompt in enumerate(batch):
            alone = generate_df(model, [prompt], 5, row_ids=[b], **knobs)
            assert_same_tokens(alone.tokens, [together.tokens[b]], f"row {b}")
            assert_same_latents(alone.latents, [together.latents[b]], 1e-9, f"row {b}")
            assert alone.trace.recurrences(0) == together.trace.recurrences(b)

    check()


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
