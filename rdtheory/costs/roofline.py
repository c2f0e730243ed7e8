"""Roofline time of model calls and of whole generations, and the saturation width L*.

One call of a stage takes at least t = max(t_math, t_mem), t_math = FLOPs / peak FLOP/s, t_mem = bytes / bandwidth:
math and memory traffic overlap perfectly and each runs at its datasheet peak. A generation is a sequence of
`Pass`es run one after another, so its time is the sum over passes. The prediction for real code is
t / efficiency + overhead per call (`Correction`); uncalibrated, efficiency = 1 and overhead = 0, so predictions are
lower bounds on time and upper bounds on tokens/s. Calibration fits a `Correction` per hardware (and, if it
helps, per stage). Knows nothing about samplers; `workload` builds the passes.
"""

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rdtheory.config import ModelConfig
from rdtheory.costs.counts import Pass, Stage, dtype_bytes, stage_bytes, stage_flops
from rdtheory.costs.hardware import Hardware

if TYPE_CHECKING:
    from rdtheory.theory.timing import TimeModel

HALF_DTYPES = ("bfloat16", "float16")


@dataclass(frozen=True)
class Correction:
    """Predicted seconds of one call = roofline seconds / efficiency + overhead_s."""

    efficiency: float = 1.0
    overhead_s: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.efficiency) and self.efficiency > 0):
            raise ValueError(f"efficiency={self.efficiency!r} must be a finite number > 0")
        if not (math.isfinite(self.overhead_s) and self.overhead_s >= 0):
            raise ValueError(f"overhead_s={self.overhead_s!r} must be a finite number >= 0")

    def apply(self, roofline_s: float) -> float:
        return roofline_s / self.efficiency + self.overhead_s


UNCALIBRATED = Correction()
Corrections = Correction | Mapping[Stage, Correction]


def _correction_for(correction: Corrections, stage: Stage) -> Correction:
    if isinstance(correction, Correction):
        return correction
    return correction.get(stage, UNCALIBRATED)


def check_priced_dtype(dtype: object) -> None:
    """The records hold dense bf16/fp16 tensor-core peaks; pricing another dtype with them would be wrong."""
    dtype_bytes(dtype)
    if str(dtype).removeprefix("torch.") not in HALF_DTYPES:
        raise ValueError(f"dtype={dtype!r} cannot be priced: hardware records hold dense bf16/fp16 peaks only; "
                         f"use one of {HALF_DTYPES}")


def math_time_s(flops: float, hw: Hardware) -> float:
    """t_math = FLOPs / dense bf16 peak FLOP/s."""
    return flops / hw.dense_bf16_flops_per_s


def memory_time_s(bytes_moved: float, hw: Hardware) -> float:
    """t_mem = bytes / bandwidth bytes/s."""
    return bytes_moved / hw.bandwidth_bytes_per_s


def roofline_time_s(flops: float, bytes_moved: float, hw: Hardware) -> float:
    """max(t_math, t_mem)."""
    return max(math_time_s(flops, hw), memory_time_s(bytes_moved, hw))


def call_time_s(config: ModelConfig, hw: Hardware, stage: Stage, width: int, context: int, batch: int = 1,
                dtype: object = "bfloat16", per_query_kv: bool = False) -> float:
    """Roofline seconds of one call: max(stage_flops / peak, stage_bytes / bandwidth)."""
    check_priced_dtype(dtype)
    return roofline_time_s(stage_flops(config, stage, width, context, batch),
                           stage_bytes(config, stage, width, context, batch, dtype, per_query_kv), hw)


def is_compute_bound(config: ModelConfig, hw: Hardware, p: Pass, dtype: object = "bfloat16") -> bool:
    """Whether t_math >= t_mem for one call of the pass."""
    flops = stage_flops(config, p.stage, p.width, p.context, p.batch)
    moved = stage_bytes(config, p.stage, p.width, p.context, p.batch, dtype, p.per_query_kv)
    return math_time_s(flops, hw) >= memory_time_s(moved, hw)


def pass_time_s(config: ModelConfig, hw: Hardware, p: Pass, dtype: object = "bfloat16",
                correction: Corrections = UNCALIBRATED) -> float:
    """repeat * correction(call_time_s)."""
    t = call_time_s(config, hw, p.stage, p.width, p.context, p.batch, dtype, p.per_query_kv)
    return p.repeat * _correction_for(correction, p.stage).apply(t)


@dataclass(frozen=True)
class GenerationTime:
    """Predicted seconds of a sequence of passes, split by stage and by which roof bound each pass."""

    seconds: float
    compute_bound_s: float
    calls: int
    by_stage_s: dict[Stage, float] = field(default_factory=dict)


def generation_time(config: ModelConfig, hw: Hardware, passes: Iterable[Pass], dtype: object = "bfloat16",
                    correction: Corrections = UNCALIBRATED) -> GenerationTime:
    """Sum of pass_time_s over the passes, run one after another."""
    total = compute = 0.0
    calls = 0
    by_stage = {s: 0.0 for s in Stage}
    for p in passes:
        t = pass_time_s(config, hw, p, dtype, correction)
        total += t
        by_stage[p.stage] += t
        calls += p.repeat
        if is_compute_bound(config, hw, p, dtype):
            compute += t
    return GenerationTime(total, compute, calls, by_stage)


def generation_time_s(config: ModelConfig, hw: Hardware, passes: Iterable[Pass], dtype: object = "bfloat16",
                      correction: Corrections = UNCALIBRATED) -> float:
    """Seconds of a sequence of passes: sum of pass_time_s."""
    return generation_time(config, hw, passes, dtype, correction).seconds


def saturation_width(config: ModelConfig, hw: Hardware, context: int, batch: int = 1, dtype: object = "bfloat16",
                     per_query_kv: bool = False) -> float:
    """L*: the width W at which one core call over W positions per row (context L, batch B fixed) turns
    compute-bound. FLOPs are a W and bytes b0 + b1 W (weights and shared KV reads in b0), so
    L* = (b0 / bandwidth) / (a / peak - b1 / bandwidth), or inf if the call never turns compute-bound.
    Below L* a core call costs about the same whatever its width (the premise of Thm 4.4); above it, time grows
    in proportion to W."""
    check_priced_dtype(dtype)
    a = stage_flops(config, Stage.CORE, 1, context, batch)
    one = stage_bytes(config, Stage.CORE, 1, context, batch, dtype, per_query_kv)
    b1 = stage_bytes(config, Stage.CORE, 2, context, batch, dtype, per_query_kv) - one
    b0 = one - b1
    slope = a / hw.dense_bf16_flops_per_s - b1 / hw.bandwidth_bytes_per_s
    return b0 / hw.bandwidth_bytes_per_s / slope if slope > 0 else math.inf


def saturation_widths(config: ModelConfig, hardware: Iterable[Hardware], context: int, batch: int = 1,
                      dtype: object = "bfloat16") -> dict[str, float]:
    """L* of each record, by name."""
    return {hw.name: saturation_width(config, hw, context, batch, dtype) for hw in hardware}


def time_model(config: ModelConfig, hw: Hardware, context: int, batch: int = 1, dtype: object = "bfloat16"
               ) -> "TimeModel":
    """The theory's clock (`rdtheory.theory.TimeModel`: a pass over w positions takes pass_s max(1, w / L*)) for
    core calls on `hw`: l_star = floor(L*) and pass_s = the math time of a core call at width l_star, so the
    clock equals the roofline for every width >= l_star and, below it, charges the crossover time (at most
    the few per cent of width-dependent traffic more than the roofline)."""
    from rdtheory.theory.timing import TimeModel  # deferred: costs stays importable while theory is not needed

    l_star = saturation_width(config, hw, context, batch, dtype)
    if not math.isfinite(l_star) or l_star < 1:
        raise ValueError(f"saturation width {l_star} on {hw.name} at context={context}, batch={batch} has no "
                         "finite integer floor >= 1; the time model needs one")
    width = math.floor(l_star)
    return TimeModel(width, math_time_s(stage_flops(config, Stage.CORE, width, context, batch), hw))
