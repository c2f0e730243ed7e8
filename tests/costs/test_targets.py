"""What the hardware allows: the benchmark's ceilings at the measured H100 bandwidth, and L* measured against the
calibrated model and the roofline."""

import math

import pytest

from rdtheory.config import HUGINN_0125
from rdtheory.costs import (
    benchmark_ceilings,
    get_hardware,
    load_calibration,
    load_stage_records,
    measured_hardware,
    measured_saturation_width,
    model_saturation_width,
    saturation_widths_at,
)
from rdtheory.costs.targets import crossing_width

H100 = get_hardware("H100 SXM")
RECORDS = load_stage_records()
MEASURED_DF_TOKENS_PER_S = 100.5  # compiled blocks


def test_measured_hardware_uses_the_measured_ceilings():
    hw = measured_hardware()
    assert hw.bandwidth_bytes_per_s == pytest.approx(2.97e12, rel=0.01)
    assert hw.dense_bf16_flops_per_s == pytest.approx(7.75e14, rel=0.01)
    assert "measured" in hw.bandwidth_source and hw.memory_bytes == H100.memory_bytes


def test_a_6x_df_over_ar_speedup_is_out_of_reach_on_the_benchmark_workload():
    """Prompt 64, 48 tokens, r = 32, r' = 4, fixed rule: even a roofline implementation gains only about 5.1x.
    Core calls drop 6.2x (1536 -> 248), but every tick also streams the prelude and the coda with the head (about
    1.2 core calls of weights), and DF takes 55 ticks to AR's 48."""
    ceilings = benchmark_ceilings()
    assert ceilings.df_over_ar == pytest.approx(5.08, abs=0.05)
    assert ceilings.df_over_ar < 6
    assert benchmark_ceilings(H100).df_over_ar == pytest.approx(ceilings.df_over_ar, rel=0.01)  # memory-bound


def test_df_fixed_tops_out_near_140_tokens_per_s_at_the_measured_bandwidth():
    ceilings = benchmark_ceilings()
    assert MEASURED_DF_TOKENS_PER_S < ceilings.df_tokens_per_s <= 140
    assert ceilings.df_tokens_per_s == pytest.approx(138.4, abs=0.5)
    assert ceilings.ar_tokens_per_s == pytest.approx(27.3, abs=0.2)
    datasheet = benchmark_ceilings(H100)
    assert datasheet.df_tokens_per_s == pytest.approx(156.1, abs=0.5)  # 3.35 TB/s, never reached by a copy


def test_crossing_width_interpolates_between_samples():
    assert crossing_width([1, 2, 4, 8], [1.0, 1.0, 1.1, 1.5], rho=0.25) == pytest.approx(4 + 0.15 / 0.4 * 4)
    assert crossing_width([1, 2], [1.0, 1.2], rho=0.25) == math.inf
    with pytest.raises(ValueError, match=r"rho=0 must be > 0"):
        crossing_width([1, 2], [1.0, 2.0], rho=0)
    with pytest.raises(ValueError, match=r"widths=\[2, 1\] must ascend strictly"):
        crossing_width([2, 1], [1.0, 2.0])


def test_model_saturation_width_of_a_known_curve():
    """t(W) = max(1, W / 100): t reaches 1.25 at W = 125."""
    assert model_saturation_width(lambda w: max(1.0, w / 100), 1000) == pytest.approx(125.0)
    assert model_saturation_width(lambda w: max(1.0, w / 100), 120) == math.inf


def test_measured_saturation_width_on_the_h100():
    """At L = 1024, B = 1 a compiled core call costs 1.37 ms at W = 1, 1.55 ms at W = 128 (+13 %) and 1.76 ms at
    W = 256 (+28 %)."""
    assert 200 < measured_saturation_width(RECORDS, 1024, 1) < 256
    with pytest.raises(ValueError, match=r"no measured core call at width 1 for context=100, batch=1"):
        measured_saturation_width(RECORDS, 100, 1)


@pytest.mark.parametrize("context, batch", [(256, 4), (1024, 1), (1024, 4), (1024, 32), (4096, 1), (4096, 4),
                                            (4096, 32), (256, 32)])
def test_the_implementation_saturates_before_the_roofline_and_the_model_sees_it(context, batch):
    widths = saturation_widths_at(HUGINN_0125, H100, context, batch, load_calibration(), RECORDS)
    assert widths.measured < widths.roofline
    assert abs(math.log(widths.calibrated / widths.measured)) < abs(math.log(widths.roofline / widths.measured))
    # L*_rho of the roofline is about (1 + rho) times its crossover width.
    assert widths.roofline == pytest.approx(1.25 * widths.roofline_crossover, rel=0.2)


def test_saturation_widths_elsewhere_have_no_measurement():
    widths = saturation_widths_at(HUGINN_0125, get_hardware("A100 80GB SXM"), 1024, 1, records=RECORDS)
    assert widths.measured is None and 1 < widths.calibrated < widths.roofline
