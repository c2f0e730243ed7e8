"""The planning API: predictions that respect the roofline, clear errors for impossible settings, and Table 1
against the bandwidth ceiling of its GPU."""

import dataclasses

import pytest

from rdtheory.config import HUGINN_0125
from rdtheory.costs import (
    AdaptiveAR,
    Correction,
    DiffusionForcing,
    StaticAR,
    UnknownHardware,
    bandwidth_bound_tokens_per_s,
    get_hardware,
    plan,
    table1_bandwidth_check,
)
from rdtheory.costs.table1 import TABLE1_TOKENS_PER_S, TASKS
from rdtheory.model.cache import PerStep, ShareLast
from rdtheory.paper import TABLE1

KNOBS = dict(prompt_length=200, new_tokens=256)


def test_static_ar_on_h100_approaches_the_weight_streaming_ceiling():
    p = plan(HUGINN_0125, "H100 SXM", StaticAR(32), **KNOBS)
    ceiling = bandwidth_bound_tokens_per_s(HUGINN_0125, "H100 SXM", StaticAR(32))
    assert 0.95 * ceiling < p.decode_tokens_per_s < ceiling
    assert p.tokens_per_s < p.decode_tokens_per_s  # the prefill costs time
    assert p.calls == 34 * 256
    assert p.memory.weight_bytes == 7_129_953_600
    assert p.memory.kv_cache_bytes == (200 + 255 + 1) * 168_960


def test_diffusion_forcing_is_faster_than_ar_but_below_the_ideal_speedup():
    ar = plan(HUGINN_0125, "H100 SXM", StaticAR(32), **KNOBS)
    df = plan(HUGINN_0125, "H100 SXM", DiffusionForcing(depth=32, inner=4), **KNOBS)
    speedup = df.decode_tokens_per_s / ar.decode_tokens_per_s
    assert 4 < speedup < 33 / 5  # the ideal (r + 1) / (r' + 1) assumes width-free, ramp-free ticks
    assert df.flops > ar.flops  # DF does not save FLOPs (Remark 3.2)


def test_batching_raises_throughput_until_compute_bound():
    one = plan(HUGINN_0125, "H100 SXM", StaticAR(32), **KNOBS)
    many = plan(HUGINN_0125, "H100 SXM", StaticAR(32), batch=64, **KNOBS)
    huge = plan(HUGINN_0125, "H100 SXM", StaticAR(32), batch=1024, prompt_length=8, new_tokens=8)
    assert many.tokens_per_s > 30 * one.tokens_per_s
    assert huge.compute_bound_share > 0.9 > one.compute_bound_share


def test_adaptive_ar_at_its_max_depth_equals_static_ar():
    static = plan(HUGINN_0125, "A100 80GB SXM", StaticAR(16), **KNOBS)
    adaptive = plan(HUGINN_0125, "A100 80GB SXM", AdaptiveAR(mean_depth=16, max_depth=16), **KNOBS)
    shallow = plan(HUGINN_0125, "A100 80GB SXM", AdaptiveAR(mean_depth=6.5, max_depth=16), **KNOBS)
    assert adaptive.seconds == pytest.approx(static.seconds)
    assert shallow.tokens_per_s > 2 * static.tokens_per_s


def test_correction_is_applied_per_call():
    base = plan(HUGINN_0125, "H200 SXM", StaticAR(8), **KNOBS)
    slow = plan(HUGINN_0125, "H200 SXM", StaticAR(8), correction=Correction(0.5, 2e-5), **KNOBS)
    assert slow.seconds == pytest.approx(2 * base.seconds + base.calls * 2e-5)


def test_per_step_kv_costs_memory_and_time():
    share = plan(HUGINN_0125, "H100 SXM", DiffusionForcing(), kv=ShareLast(), **KNOBS)
    per_step = plan(HUGINN_0125, "H100 SXM", DiffusionForcing(), kv=PerStep(), **KNOBS)
    assert per_step.memory.kv_cache_bytes == 132 / 8 * share.memory.kv_cache_bytes
    assert per_step.seconds > share.seconds


def test_custom_hardware_records_are_accepted():
    fast = dataclasses.replace(get_hardware("H100 SXM"), name="H100 x2 bandwidth", bandwidth_bytes_per_s=6.7e12)
    assert plan(HUGINN_0125, fast, StaticAR(32), **KNOBS).decode_tokens_per_s == pytest.approx(
        2 * plan(HUGINN_0125, "H100 SXM", StaticAR(32), **KNOBS).decode_tokens_per_s, rel=0.02)


@pytest.mark.parametrize("call, error, message", [
    (lambda: plan(HUGINN_0125, "TPU v9", StaticAR(), **KNOBS), UnknownHardware,
     r"hardware='TPU v9' is unknown; known: .* \(or pass a Hardware record\)"),
    (lambda: plan(HUGINN_0125, "L40S", StaticAR(), prompt_length=4000, new_tokens=200), ValueError,
     r"prompt_length=4000 \+ new_tokens=200 - 1 exceeds block_size=4096"),
    (lambda: plan(HUGINN_0125, "L40S", StaticAR(64), kv=PerStep(), batch=8, prompt_length=2000, new_tokens=1000),
     ValueError, r"the generation needs .* GB .* > memory_bytes=48 GB of L40S"),
    (lambda: plan(HUGINN_0125, "H100 SXM", StaticAR(), dtype="float32", **KNOBS), ValueError,
     r"dtype='float32' cannot be priced"),
    (lambda: plan(HUGINN_0125, "H100 SXM", StaticAR(), batch=0, **KNOBS), ValueError, r"batch=0 must be an int >= 1"),
    (lambda: plan(HUGINN_0125, "H100 SXM", "ar", **KNOBS), TypeError, r"sampler=.ar. must be a StaticAR"),
    (lambda: StaticAR(0), ValueError, r"depth=0 must be an int >= 1"),
    (lambda: AdaptiveAR(mean_depth=40, max_depth=32), ValueError, r"mean_depth=40 must lie in \[1, max_depth=32\]"),
    (lambda: DiffusionForcing(headway=4, max_wavefront=2), ValueError, r"max_wavefront=2 must be >= headway=4"),
])
def test_impossible_settings_raise_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_a_model_that_fits_on_a_large_card_only():
    knobs = dict(kv=PerStep(), batch=8, prompt_length=2000, new_tokens=1000)
    assert plan(HUGINN_0125, "MI300X", StaticAR(64), **knobs).memory.total_bytes < 192e9
    with pytest.raises(ValueError, match="memory_bytes=80 GB of H100 SXM"):
        plan(HUGINN_0125, "H100 SXM", StaticAR(64), **knobs)


def test_the_memory_error_suggests_share_last_only_where_a_slot_is_kept_per_step():
    knobs = dict(batch=8, prompt_length=2000, new_tokens=1000)
    suggestion = r"or use ShareLast \(kv=PerStep\(\) keeps a cache slot per recurrence step\)$"
    with pytest.raises(ValueError, match=suggestion):
        plan(HUGINN_0125, "L40S", StaticAR(64), kv=PerStep(), **knobs)
    for kv in (ShareLast(), None):  # None is ShareLast
        with pytest.raises(ValueError, match=r"> memory_bytes=48 GB of L40S") as info:
            plan(HUGINN_0125, "L40S", StaticAR(64), kv=kv, batch=64, prompt_length=3000, new_tokens=1000)
        assert str(info.value).endswith("lower batch, prompt_length or new_tokens") and "ShareLast" not in str(
            info.value)


def test_table1_ceiling_on_a100_40gb():
    """Static AR r = 32 reads 108.65 GB per token: at most 14.3 tok/s on an A100-40GB, below the 36.1 reported."""
    reported = TABLE1.row("Static AR (r=32)").tokens_per_s[TASKS.index("GSM8K")]
    checks = {(c.sampler, c.task): c for c in table1_bandwidth_check()}
    assert len(checks) == len(TABLE1_TOKENS_PER_S) * len(TASKS)
    gsm8k = checks[(StaticAR(32), "GSM8K")]
    assert round(gsm8k.ceiling_tokens_per_s, 1) == 14.3
    assert gsm8k.reported_tokens_per_s == reported and round(gsm8k.ratio, 1) == 2.5
    assert all(checks[(s, "GSM8K")].exceeds for s, _ in TABLE1_TOKENS_PER_S)
    assert not any(checks[(s, "MATH500")].exceeds for s, _ in TABLE1_TOKENS_PER_S)
    # Even the faster 80 GB part could not reach the GSM8K figure.
    assert bandwidth_bound_tokens_per_s(HUGINN_0125, "A100 80GB SXM", StaticAR(32)) < reported


def test_each_planning_sampler_owns_its_label_prefill_and_passes():
    from rdtheory.costs.plan import AdaptiveAR, DiffusionForcing, StaticAR, sampler_label, sampler_passes

    samplers = [StaticAR(8), AdaptiveAR(5.5, 12), DiffusionForcing(8, 2, 1, 16)]
    assert [sampler_label(s) for s in samplers] == ["AR r=8", "adaptive AR mean r=5.5 max 12",
                                                    "DF r'=2 FixedDepth(8) headway=1 cap=16"]
    assert [s.prefill_depth for s in samplers] == [8, 12, 8]
    for s in samplers:
        passes = sampler_passes(HUGINN_0125, s, 16, 6)
        assert passes == s.passes(HUGINN_0125, 16, 6) and passes[1].repeat == s.prefill_depth
    with pytest.raises(TypeError, match="sampler='AR' must be a StaticAR, AdaptiveAR or DiffusionForcing"):
        sampler_passes(HUGINN_0125, "AR", 16, 6)
