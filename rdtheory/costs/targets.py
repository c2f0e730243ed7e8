"""What the hardware allows, in principle and as measured: saturation widths L* from measured and modelled curves,
and the ceilings of the benchmark workload (prompt 64, 48 new tokens, r = 32, r' = 4, fixed rule).

Owns no model of its own: it evaluates the roofline (`roofline`), a calibration (`calibration`) and measured stage
records (`fitting.StageRecord`) at the shapes that matter. Knows nothing of samplers' code.

L*_rho, the measured saturation width: the width W at which one core call (context L and batch B fixed) costs
(1 + rho) times a call over one position per row, t(W) = (1 + rho) t(1), by linear interpolation of t between the
measured widths around the crossing (time grows linearly in W past the knee); inf if no measured width at this
(L, B) reaches it. The same definition applied to the roofline curve gives about (1 + rho) times the roofline's
crossover width L* (`roofline.saturation_width`), which is reported next to it. rho = 0.25 by default: larger than
the step of up to 19 % that the measured implementation takes from W = 1 to W = 2 by switching kernels.
"""

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rdtheory.config import HUGINN_0125, ModelConfig
from rdtheory.costs.calibration import Calibration, load_calibration
from rdtheory.costs.counts import Stage
from rdtheory.costs.fitting import StageRecord
from rdtheory.costs.hardware import Hardware, get_hardware
from rdtheory.costs.roofline import call_time_s, generation_time_s, saturation_width
from rdtheory.costs.workload import ar_passes, df_passes
from rdtheory.paper import DF_DEFAULTS

RHO = 0.25
BENCHMARK = dict(prompt_length=64, new_tokens=48, depth=DF_DEFAULTS.depth, inner=DF_DEFAULTS.inner)


def crossing_width(widths: Sequence[int], seconds: Sequence[float], rho: float = RHO) -> float:
    """The W where t(W) first reaches (1 + rho) t(widths[0]), linearly interpolated between sampled widths
    (ascending, widths[0] the reference, usually 1); inf if no sample reaches it."""
    if not rho > 0:
        raise ValueError(f"rho={rho!r} must be > 0")
    if len(widths) != len(seconds) or list(widths) != sorted(set(widths)):
        raise ValueError(f"widths={list(widths)} must ascend strictly and match seconds one to one")
    threshold = (1 + rho) * seconds[0]
    for i in range(1, len(widths)):
        if seconds[i] >= threshold:
            w0, w1, t0, t1 = widths[i - 1], widths[i], seconds[i - 1], seconds[i]
            return w0 + (threshold - t0) * (w1 - w0) / (t1 - t0)
    return math.inf


def measured_saturation_width(records: Sequence[StageRecord], context: int, batch: int, rho: float = RHO) -> float:
    """L*_rho of the measured core calls at (L, B) (module doc)."""
    points = sorted((r.width, r.seconds) for r in records
                    if r.stage is Stage.CORE and r.context == context and r.batch == batch)
    if not points or points[0][0] != 1:
        raise ValueError(f"no measured core call at width 1 for context={context}, batch={batch}")
    return crossing_width([w for w, _ in points], [t for _, t in points], rho)


def model_saturation_width(seconds: Callable[[int], float], max_width: int, rho: float = RHO) -> float:
    """L*_rho of a modelled curve t(W), W = 1 .. max_width, nondecreasing: bisection on integers, then linear
    interpolation within the last step; inf if t(max_width) stays below the threshold."""
    if not rho > 0:
        raise ValueError(f"rho={rho!r} must be > 0")
    threshold = (1 + rho) * seconds(1)
    if seconds(max_width) < threshold:
        return math.inf
    low, high = 1, max_width  # t(low) < threshold <= t(high)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if seconds(mid) < threshold else (low, mid)
    t_low, t_high = seconds(low), seconds(high)
    return low + (threshold - t_low) / (t_high - t_low)


@dataclass(frozen=True)
class SaturationWidths:
    """L* at one (context, batch) on one hardware record: measured (None off the calibration device), the
    calibrated model's and the roofline's L*_rho, and the roofline's crossover L*."""

    hardware: str
    context: int
    batch: int
    measured: float | None
    calibrated: float
    roofline: float
    roofline_crossover: float


def saturation_widths_at(config: ModelConfig, hw: Hardware, context: int, batch: int,
                         calibration: Calibration | None = None, records: Sequence[StageRecord] = (),
                         rho: float = RHO) -> SaturationWidths:
    """Every L* of `SaturationWidths`; `records` are used only when hw is the calibration's hardware."""
    cal = load_calibration() if calibration is None else calibration
    measured = measured_saturation_width(records, context, batch, rho) if (
        records and hw.name == cal.hardware) else None
    calibrated = model_saturation_width(lambda w: cal.call_s(config, hw, Stage.CORE, w, context, batch), context, rho)
    roofline = model_saturation_width(lambda w: call_time_s(config, hw, Stage.CORE, w, context, batch), context, rho)
    return SaturationWidths(hw.name, context, batch, measured, calibrated, roofline,
                            saturation_width(config, hw, context, batch))


# ------------------------------------------------------------------------------------------ benchmark ceilings

def measured_hardware(calibration: Calibration | None = None) -> Hardware:
    """The calibration's hardware record at its measured ceilings: copy bandwidth (bytes read plus written by a
    large device copy) and bf16 matmul rate, as `rdtheory.gpu.environment.ceilings` measured them next to the stage
    timings."""
    cal = load_calibration() if calibration is None else calibration
    ceilings = cal.provenance["stages"]["ceilings"]
    source = f"measured ceilings of {cal.provenance['stages']['file']}"
    return dataclasses.replace(get_hardware(cal.hardware), name=f"{cal.hardware} (measured ceilings)",
                               bandwidth_bytes_per_s=ceilings["copy_bytes_per_s"], bandwidth_source=source,
                               dense_bf16_flops_per_s=ceilings["bf16_matmul_flops_per_s"], flops_source=source,
                               sparse_bf16_flops_per_s=None)


@dataclass(frozen=True)
class BenchmarkCeilings:
    """Roofline seconds of the benchmark's AR and DF (fixed rule) generations on one hardware record, batch 1."""

    hardware: Hardware
    new_tokens: int
    ar_s: float
    df_s: float

    @property
    def df_over_ar(self) -> float:
        """The largest DF/AR speedup any implementation can show on this workload and hardware."""
        return self.ar_s / self.df_s

    @property
    def ar_tokens_per_s(self) -> float:
        return self.new_tokens / self.ar_s

    @property
    def df_tokens_per_s(self) -> float:
        """The most tokens/s DF with the fixed rule can reach on this workload and hardware."""
        return self.new_tokens / self.df_s


def benchmark_ceilings(hardware: str | Hardware | None = None, config: ModelConfig = HUGINN_0125
                       ) -> BenchmarkCeilings:
    """Roofline AR (r = 32) and DF (r' = 4, FixedDepth(32), headway 1, cap 128, full prefill) times for prompt 64
    and 48 new tokens; default hardware: the calibrated H100 at its measured ceilings (`measured_hardware`)."""
    hw = measured_hardware() if hardware is None else get_hardware(hardware)
    b = BENCHMARK
    ar = ar_passes(config, b["prompt_length"], b["new_tokens"], b["depth"])
    df = df_passes(config, b["prompt_length"], b["new_tokens"], b["depth"], b["inner"])
    return BenchmarkCeilings(hw, b["new_tokens"], generation_time_s(config, hw, ar), generation_time_s(config, hw, df))
