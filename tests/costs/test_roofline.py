"""Roofline times: the reference numbers, monotonicity, the L* crossover and the calibration hook."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rdtheory.config import HUGINN_0125, TINY
from rdtheory.costs import (
    UNCALIBRATED,
    Correction,
    DiffusionForcing,
    Pass,
    Stage,
    StaticAR,
    bandwidth_bound_tokens_per_s,
    call_time_s,
    generation_time,
    generation_time_s,
    get_hardware,
    is_compute_bound,
    load_hardware,
    pass_time_s,
    saturation_width,
    saturation_widths,
    time_model,
    total_traffic,
)

H100 = get_hardware("H100 SXM")
RECORDS = sorted(load_hardware().values(), key=lambda hw: hw.name)


def token_passes(core_calls: int, width: int = 1, context: int = 1) -> list[Pass]:
    return [Pass(s, width, context, 1, core_calls if s is Stage.CORE else 1) for s in Stage]


def test_ar_reads_108_6_gb_of_weights_per_token_and_runs_at_30_8_tokens_per_s_on_h100():
    weights = total_traffic(HUGINN_0125, token_passes(32), "bfloat16").weight_bytes
    assert round(weights / 1e9, 1) == 108.6
    assert round(H100.bandwidth_bytes_per_s / weights, 1) == 30.8
    assert round(bandwidth_bound_tokens_per_s(HUGINN_0125, H100, StaticAR(32)), 1) == 30.8
    # The full roofline of one token at a short context is within 1% of the weight-streaming time.
    t = generation_time_s(HUGINN_0125, H100, token_passes(32, context=100))
    assert 1 / t == pytest.approx(30.8, rel=0.01)


def test_df_tick_reads_17_gb_and_runs_about_198_ticks_per_s_on_h100():
    weights = total_traffic(HUGINN_0125, token_passes(4), "bfloat16").weight_bytes
    assert round(weights / 1e9, 1) == 17.0
    assert round(H100.bandwidth_bytes_per_s / weights) == 198
    assert round(bandwidth_bound_tokens_per_s(HUGINN_0125, H100, DiffusionForcing(inner=4))) == 198
    # A wave of 8 positions costs about the same as one: the premise of the paper's speedup.
    wave = generation_time_s(HUGINN_0125, H100, token_passes(4, width=8, context=500))
    single = generation_time_s(HUGINN_0125, H100, token_passes(4, width=1, context=500))
    assert 1 < wave / single < 1.05


@settings(max_examples=40, deadline=None)
@given(hw=st.sampled_from(RECORDS), stage=st.sampled_from(Stage), width=st.integers(1, 2000),
       context=st.integers(0, 4000), batch=st.integers(1, 8), per_query=st.booleans())
def test_call_time_grows_with_width_context_and_batch(hw, stage, width, context, batch, per_query):
    context += width
    t = call_time_s(HUGINN_0125, hw, stage, width, context, batch, per_query_kv=per_query)
    assert t > 0
    assert call_time_s(HUGINN_0125, hw, stage, width + 1, context + 1, batch, per_query_kv=per_query) >= t
    assert call_time_s(HUGINN_0125, hw, stage, width, context + 1, batch, per_query_kv=per_query) >= t
    assert call_time_s(HUGINN_0125, hw, stage, width, context, batch + 1, per_query_kv=per_query) >= t


@pytest.mark.parametrize("hw", RECORDS, ids=lambda hw: hw.name)
def test_saturation_width_is_the_compute_bound_crossover(hw):
    l_star = saturation_width(HUGINN_0125, hw, context=1024)
    below, above = math.floor(l_star), math.ceil(l_star) + (l_star == math.ceil(l_star))
    assert not is_compute_bound(HUGINN_0125, hw, Pass(Stage.CORE, below, 1024))
    assert is_compute_bound(HUGINN_0125, hw, Pass(Stage.CORE, above, 1024))
    # Flat below L*: a core call over L* positions costs little more than over one.
    flat = call_time_s(HUGINN_0125, hw, Stage.CORE, below, 1024) / call_time_s(HUGINN_0125, hw, Stage.CORE, 1, 1024)
    assert 1 < flat < 1.15
    # Linear above: doubling a compute-bound width doubles the time.
    t1 = call_time_s(HUGINN_0125, hw, Stage.CORE, 2 * above, 4 * above)
    t2 = call_time_s(HUGINN_0125, hw, Stage.CORE, 4 * above, 4 * above)
    assert t2 == pytest.approx(2 * t1, rel=1e-9)
    # For a bf16 model whose weights dominate, L* sits just above the ridge point.
    assert hw.ridge_flops_per_byte < l_star < 1.15 * hw.ridge_flops_per_byte


def test_saturation_width_orders_like_the_ridge_and_halves_with_batch():
    widths = saturation_widths(HUGINN_0125, RECORDS, context=1)
    by_ridge = sorted(RECORDS, key=lambda hw: hw.ridge_flops_per_byte)
    assert [widths[hw.name] for hw in by_ridge] == sorted(widths.values())
    assert round(widths["H100 SXM"]) == 324
    assert saturation_width(HUGINN_0125, H100, 1, batch=2) == pytest.approx(widths["H100 SXM"] / 2, rel=0.01)


def test_per_query_keys_at_long_context_never_saturate():
    """PerStep wavefront attention reads its own L keys per query: bytes grow as fast as FLOPs in W."""
    assert saturation_width(HUGINN_0125, H100, 4096, per_query_kv=True) == math.inf
    assert math.isfinite(saturation_width(HUGINN_0125, H100, 4096))


def test_correction_scales_and_offsets_each_call():
    p = Pass(Stage.CORE, 4, 100, 1, repeat=10)
    base = pass_time_s(HUGINN_0125, H100, p)
    assert pass_time_s(HUGINN_0125, H100, p, correction=UNCALIBRATED) == base
    assert pass_time_s(HUGINN_0125, H100, p, correction=Correction(0.5, 1e-3)) == pytest.approx(2 * base + 10e-3)
    per_stage = {Stage.CORE: Correction(0.25)}
    assert pass_time_s(HUGINN_0125, H100, p, correction=per_stage) == pytest.approx(4 * base)
    embed = Pass(Stage.EMBED, 4, 100)
    assert pass_time_s(HUGINN_0125, H100, embed, correction=per_stage) == pass_time_s(HUGINN_0125, H100, embed)
    with pytest.raises(ValueError, match="efficiency=0 must be a finite number > 0"):
        Correction(efficiency=0)
    with pytest.raises(ValueError, match="overhead_s=-1.0 must be a finite number >= 0"):
        Correction(overhead_s=-1.0)


def test_generation_time_sums_its_passes():
    passes = [Pass(Stage.EMBED, 100, 100), Pass(Stage.CORE, 100, 100, repeat=32), Pass(Stage.DECODE, 100, 100)]
    timing = generation_time(HUGINN_0125, H100, passes)
    assert timing.seconds == pytest.approx(sum(pass_time_s(HUGINN_0125, H100, p) for p in passes))
    assert timing.calls == 34
    assert timing.by_stage_s[Stage.CORE] == pytest.approx(pass_time_s(HUGINN_0125, H100, passes[1]))
    assert timing.compute_bound_s == 0  # 100 positions are below L* on an H100


def test_only_half_precision_can_be_priced():
    with pytest.raises(ValueError, match="dtype='float32' cannot be priced"):
        call_time_s(TINY, H100, Stage.CORE, 1, 1, dtype="float32")


def test_time_model_matches_the_roofline_above_l_star():
    model = time_model(HUGINN_0125, H100, context=512)
    assert model.l_star == math.floor(saturation_width(HUGINN_0125, H100, 512))
    for width in (model.l_star, 2 * model.l_star, 5 * model.l_star):
        assert float(model.pass_time(width)) == pytest.approx(call_time_s(HUGINN_0125, H100, Stage.CORE, width, 512)
                                                              if width > model.l_star else model.pass_s, rel=1e-9)
    roof = call_time_s(HUGINN_0125, H100, Stage.CORE, 1, 512)
    assert roof < float(model.pass_time(1)) < 1.15 * roof
