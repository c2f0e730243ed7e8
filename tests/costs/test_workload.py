"""Pass sequences: AR and DF builders agree with each other, with the theory's schedules, and with what the
samplers actually run (their FLOPs under FlopCounterMode equal the FLOPs of the passes read off their Trace)."""

import math
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn.attention import SDPBackend, sdpa_kernel

from rdtheory.config import HUGINN_0125, TINY
from rdtheory.costs import (
    Pass,
    Stage,
    ar_passes,
    df_passes,
    df_steady_state,
    df_ticks,
    passes_from_schedule,
    passes_from_ticks,
    passes_from_trace,
    spread_depths,
    stage_matmul_flops,
    total_flops,
)
from rdtheory.model.cache import PerStep, ShareLast
from rdtheory.sampling.autoregressive import generate_adaptive, generate_ar
from rdtheory.sampling.diffusion_forcing import generate_df
from rdtheory.sampling.exits import FixedDepth, LatentDiff


def test_ar_passes_prefill_then_one_tick_per_token():
    passes = ar_passes(HUGINN_0125, 10, 4, 32, batch=2)
    assert passes[:3] == [Pass(Stage.EMBED, 10, 10, 2), Pass(Stage.CORE, 10, 10, 2, 32), Pass(Stage.DECODE, 10, 10, 2)]
    assert passes[3:6] == [Pass(Stage.EMBED, 1, 11, 2), Pass(Stage.CORE, 1, 11, 2, 32), Pass(Stage.DECODE, 1, 11, 2)]
    assert passes[-2] == Pass(Stage.CORE, 1, 13, 2, 32)
    assert sum(p.repeat for p in passes if p.stage is Stage.CORE) == 32 * 4


def test_adaptive_ar_takes_one_depth_per_token_after_the_first():
    passes = ar_passes(HUGINN_0125, 5, 4, [3, 7, 2])
    assert [p.repeat for p in passes if p.stage is Stage.CORE] == [7, 3, 7, 2]
    with pytest.raises(ValueError, match=r"depth has 2 entries; adaptive AR needs one per token after the first"):
        ar_passes(HUGINN_0125, 5, 4, [3, 7])


@given(mean=st.floats(1, 40), count=st.integers(0, 300))
def test_spread_depths_keep_the_mean(mean, count):
    depths = spread_depths(mean, count)
    assert len(depths) == count and sum(depths) == math.floor(count * mean)
    assert all(math.floor(mean) <= d <= math.ceil(mean) for d in depths)


@settings(max_examples=60)
@given(depth=st.integers(1, 40), inner=st.integers(1, 12), headway=st.integers(1, 4), cap=st.integers(1, 40),
       new_tokens=st.integers(1, 120))
def test_df_ticks_follow_the_fixed_rule(depth, inner, headway, cap, new_tokens):
    cap = max(cap, headway)
    ticks = df_ticks(7, new_tokens, depth, inner, headway, cap)
    steady = df_steady_state(depth, inner, headway, cap)
    # Each of the new_tokens - 1 positions spends exactly ceil(r / r') ticks in the wave.
    assert sum(w for w, _ in ticks) == (new_tokens - 1) * steady.ticks_per_token
    assert all(1 <= w <= cap for w, _ in ticks)
    assert all(ctx <= 7 + new_tokens - 1 for _, ctx in ticks)
    if new_tokens > 3 * steady.ticks_per_token * headway + cap:
        assert max(w for w, _ in ticks) == steady.width  # the steady wave is reached and never exceeded
        assert len(ticks) >= (new_tokens - 1) / steady.tokens_per_tick


def test_df_with_inner_equal_to_depth_is_ar():
    """"With this simplified exit rule, r' = r exactly recovers the original autoregressive sampler.\""""
    assert df_passes(HUGINN_0125, 12, 9, depth=32, inner=32) == ar_passes(HUGINN_0125, 12, 9, 32)


def test_df_flop_overhead_is_remark_3_2():
    """Per token, AR costs g + r f and DF ceil(r/r') (g + r' f) with f a core step and g prelude + coda + head
    (matmuls); with g = f this is the paper's (r + r/r') / (r + 1)."""
    f = stage_matmul_flops(HUGINN_0125, Stage.CORE, 1, 1)
    g = stage_matmul_flops(HUGINN_0125, Stage.EMBED, 1, 1) + stage_matmul_flops(HUGINN_0125, Stage.DECODE, 1, 1)
    matmuls = lambda passes: sum(p.repeat * stage_matmul_flops(HUGINN_0125, p.stage, p.width, p.batch)  # noqa: E731
                                 for p in passes[3:])
    n = 200
    ar, df = matmuls(ar_passes(HUGINN_0125, 8, n, 32)), matmuls(df_passes(HUGINN_0125, 8, n, 32, 4))
    assert ar == (n - 1) * (g + 32 * f)
    assert df == (n - 1) * 8 * (g + 4 * f)
    assert df / ar == pytest.approx((32 + 32 / 4) / 33, rel=0.04)  # 1.212; Huginn's g is 1.18 f


def test_generic_ticks_pad_rows_and_skip_idle_ticks():
    passes = passes_from_ticks([(4, [2, 0, 3], [9, 0, 7]), (2, [0, 0, 0], [0, 0, 0])], per_query_kv=True)
    assert passes == [Pass(Stage.EMBED, 3, 9, 3), Pass(Stage.CORE, 3, 9, 3, 4, True), Pass(Stage.DECODE, 3, 9, 3)]
    with pytest.raises(ValueError, match="must be non-empty and of equal length"):
        passes_from_ticks([(1, [1], [1, 2])])


def test_passes_from_a_duck_typed_trace():
    run = lambda row, pos: SimpleNamespace(row=row, pos=pos)  # noqa: E731
    trace = SimpleNamespace(prompt_lengths=[3, 2], ticks=[
        SimpleNamespace(passes=5, prefill=True, runs=[run(0, 0), run(0, 1), run(0, 2), run(1, 0), run(1, 1)]),
        SimpleNamespace(passes=2, prefill=False, runs=[run(0, 3), run(0, 4), run(1, 2)]),
    ])
    assert passes_from_trace(trace, per_query_kv=True) == [
        Pass(Stage.EMBED, 3, 3, 2), Pass(Stage.CORE, 3, 3, 2, 5), Pass(Stage.DECODE, 3, 3, 2),
        Pass(Stage.EMBED, 2, 5, 2), Pass(Stage.CORE, 2, 5, 2, 2, True), Pass(Stage.DECODE, 2, 5, 2)]


def test_theory_schedules_convert_to_the_builders_passes():
    from rdtheory.theory.schedule import ar_schedule, df_schedule

    assert passes_from_schedule(ar_schedule(6, 5, 8), batch=3) == ar_passes(HUGINN_0125, 6, 5, 8, batch=3)
    assert passes_from_schedule(df_schedule(6, 20, 4, 32, cap=128)) == df_passes(HUGINN_0125, 6, 20, 32, 4)


def prompts(lengths):
    return [[(5 * i + 3 * j) % TINY.vocab_size for j in range(n)] for i, n in enumerate(lengths)]


@pytest.mark.parametrize("lengths", [[4, 4], [5, 3]])
def test_ar_runs_cost_what_their_trace_says(tiny, counted_flops, lengths):
    with sdpa_kernel(SDPBackend.MATH):
        gen = None

        def run():
            nonlocal gen
            gen = generate_ar(tiny, prompts(lengths), 4, depth=2, stop_tokens=())
        counted = counted_flops(run)
    passes = passes_from_trace(gen.trace)
    assert counted == total_flops(TINY, passes)
    if len(set(lengths)) == 1:
        assert passes == ar_passes(TINY, lengths[0], 4, 2, batch=len(lengths))


def test_adaptive_ar_runs_cost_what_their_trace_says(tiny, counted_flops):
    with sdpa_kernel(SDPBackend.MATH):
        gen = None

        def run():
            nonlocal gen
            gen = generate_adaptive(tiny, prompts([4, 6]), 5, LatentDiff(0.5), max_depth=5, stop_tokens=())
        counted = counted_flops(run)
    assert len({t.passes for t in gen.trace.ticks}) > 1  # exits happened at different depths
    assert counted == total_flops(TINY, passes_from_trace(gen.trace))


@pytest.mark.parametrize("kv", [ShareLast(), PerStep()])
def test_df_runs_cost_what_their_trace_says(tiny, counted_flops, kv):
    with sdpa_kernel(SDPBackend.MATH):
        gen = None

        def run():
            nonlocal gen
            gen = generate_df(tiny, prompts([4, 6]), 6, inner=2, depth=4, exit=FixedDepth(4), max_wavefront=3,
                              stop_tokens=(), kv=kv)
        counted = counted_flops(run)
    passes = passes_from_trace(gen.trace, per_query_kv=kv.per_step)
    assert max(p.width for p in passes[3:]) > 1  # a real wave ran
    assert counted == total_flops(TINY, passes)
    assert gen.trace.n_ticks == len(passes) // 3
