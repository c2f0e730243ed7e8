"""A calibration: the fitted time of one model call and of whole generations on measured hardware, as a value.

Owns `Calibration` (frozen; loaded from `data/h100_calibration.json`, written by `fitting.calibrate`) and the
predictions made with it. Knows nothing of how it was fitted (`fitting`), of samplers, or of torch; needs no
scipy.

One call of a stage is priced per group of kernels, since its matrix products and its attention run as separate
kernels, each bound by its own roof. With P the dense peak FLOP/s and BW the bandwidth of the hardware record:

    t_call = o_stage + S(F_mm / (e_c P), B_mm / (e_w BW)) + S(F_att / (e_a P), B_kv / (e_kv BW))
    S(a, b) = (a^p + b^p)^(1/p)

F_mm, F_att: FLOPs of the matrix products and of attention (`counts`); B_mm: weight and activation bytes; B_kv:
keys and values read and written. e_*: fitted efficiencies, fractions of the datasheet peaks, so an
implementation far below the roofline shows as small efficiencies; calls over one position per row (W = 1) run
other kernels (matrix-vector products, single-query attention) and get their own bandwidth efficiencies e_w1,
e_kv1. p: fitted overlap of math and memory traffic within a group (p -> inf is the ideal roofline max(a, b),
p = 1 no overlap). o_stage: fitted seconds per call (launch gaps between the call's kernels).

A generation (passes as `workload` builds them: ticks of EMBED, CORE, DECODE, the first tick a prefill) costs the
sum of its calls at the shapes the measured implementation runs (`Padding`: under CUDA graphs, every tick after
the prefill is padded to a power-of-two width and a context that is a multiple of 256) plus a host overhead per
tick, tick_s + row_s * B (the tick's synchronisation, decision and per-row bookkeeping).

Transfer to other hardware: the same efficiencies, overheads and padding are applied to that hardware's datasheet
peaks. This assumes its kernels reach the same fractions of its peaks as on the calibration device, which nothing
here measures; the uncertainty band widens accordingly (`Calibration.band_for`). The same holds for model shapes
other than the measured one: their kernels are other sizes, so their band widens too.
"""

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from rdtheory.config import HUGINN_0125, TINY, ModelConfig
from rdtheory.costs.counts import Pass, Stage, stage_attention_flops, stage_matmul_flops, stage_traffic
from rdtheory.costs.hardware import Hardware
from rdtheory.costs.roofline import GenerationTime, check_priced_dtype

SHIPPED = "data/h100_calibration.json"
PRESETS = {"HUGINN_0125": HUGINN_0125, "TINY": TINY}  # model shapes a calibration can name


def _check_positive(name: str, value: float, allow_zero: bool = False) -> None:
    ok = math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        raise ValueError(f"{name}={value!r} must be a finite number {'>= 0' if allow_zero else '> 0'}")


@dataclass(frozen=True)
class CallWork:
    """What one call does, split by kernel group: FLOPs and bytes of its matrix products and of its attention."""

    matmul_flops: float
    attention_flops: float
    matmul_bytes: float
    kv_bytes: float
    single_query: bool

    def compute_bound(self, hw: Hardware) -> bool:
        """Whether the call's roofline is its math time: all FLOPs / peak >= all bytes / bandwidth."""
        return ((self.matmul_flops + self.attention_flops) / hw.dense_bf16_flops_per_s
                >= (self.matmul_bytes + self.kv_bytes) / hw.bandwidth_bytes_per_s)


@functools.lru_cache(maxsize=1 << 16)  # searches price the same few shapes many times
def call_work(config: ModelConfig, stage: Stage, width: int, context: int, batch: int, dtype: object = "bfloat16",
              per_query_kv: bool = False) -> CallWork:
    """The work of one call of `stage` over W positions per row, reading L, for B rows."""
    traffic = stage_traffic(config, stage, width, context, batch, dtype, per_query_kv)
    return CallWork(stage_matmul_flops(config, stage, width, batch),
                    stage_attention_flops(config, stage, width, context, batch),
                    traffic.weight_bytes + traffic.activation_bytes, traffic.kv_read_bytes + traffic.kv_write_bytes,
                    width == 1)


@dataclass(frozen=True)
class CallModel:
    """Fitted efficiencies (fractions of datasheet peaks), overlap exponent and seconds per call (module doc)."""

    compute_efficiency: float
    attention_compute_efficiency: float
    weight_efficiency: float
    kv_efficiency: float
    single_weight_efficiency: float
    single_kv_efficiency: float
    overlap: float
    embed_overhead_s: float
    core_overhead_s: float
    decode_overhead_s: float

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            _check_positive(name, value, allow_zero=name.endswith("_s"))
        if self.overlap < 1:
            raise ValueError(f"overlap={self.overlap!r} must be >= 1 (1: math and memory never overlap)")

    def overhead_s(self, stage: Stage) -> float:
        return {Stage.EMBED: self.embed_overhead_s, Stage.CORE: self.core_overhead_s,
                Stage.DECODE: self.decode_overhead_s}[stage]

    def _group_s(self, math_s: float, memory_s: float) -> float:
        p = self.overlap
        return (math_s**p + memory_s**p) ** (1 / p)

    def seconds(self, stage: Stage, work: CallWork, hw: Hardware) -> float:
        """t_call of the module doc."""
        peak, bw = hw.dense_bf16_flops_per_s, hw.bandwidth_bytes_per_s
        e_w = self.single_weight_efficiency if work.single_query else self.weight_efficiency
        e_kv = self.single_kv_efficiency if work.single_query else self.kv_efficiency
        matmul = self._group_s(work.matmul_flops / (self.compute_efficiency * peak), work.matmul_bytes / (e_w * bw))
        attention = self._group_s(work.attention_flops / (self.attention_compute_efficiency * peak),
                                  work.kv_bytes / (e_kv * bw))
        return self.overhead_s(stage) + matmul + attention


@dataclass(frozen=True)
class HostModel:
    """Host seconds per tick of a generation: tick_s + row_s * batch."""

    tick_s: float
    row_s: float

    def __post_init__(self) -> None:
        _check_positive("tick_s", self.tick_s, allow_zero=True)
        _check_positive("row_s", self.row_s, allow_zero=True)

    def seconds(self, batch: int) -> float:
        return self.tick_s + self.row_s * batch


@dataclass(frozen=True)
class Padding:
    """Call shapes the implementation runs after the prefill: W -> the next power of two (if width_pow2),
    L -> the next multiple of context_step (at most block_size), W at most the padded L."""

    width_pow2: bool = True
    context_step: int = 256

    def __post_init__(self) -> None:
        if not isinstance(self.context_step, int) or self.context_step < 1:
            raise ValueError(f"context_step={self.context_step!r} must be an int >= 1")

    def apply(self, p: Pass, block_size: int) -> Pass:
        context = min(block_size, -(-p.context // self.context_step) * self.context_step)
        width = 1 << (p.width - 1).bit_length() if self.width_pow2 else p.width
        return Pass(p.stage, min(width, context), context, p.batch, p.repeat, p.per_query_kv)


@dataclass(frozen=True)
class Band:
    """Relative error e = predicted / measured - 1 lies in [low, high] (quantiles of held-out residuals): the
    measured seconds lie in [t / (1 + high), t / (1 + low)] and the measured rate in [r (1 + low), r (1 + high)]."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not -1 < self.low <= self.high:
            raise ValueError(f"low={self.low!r} and high={self.high!r} must satisfy -1 < low <= high")

    def seconds(self, predicted_s: float) -> tuple[float, float]:
        return predicted_s / (1 + self.high), predicted_s / (1 + self.low)

    def rate(self, predicted_rate: float) -> tuple[float, float]:
        return predicted_rate * (1 + self.low), predicted_rate * (1 + self.high)

    def widened(self, fraction: float) -> "Band":
        """Both ends moved out by `fraction` of the predicted value: (1 + low)(1 - f) - 1, (1 + high)(1 + f) - 1."""
        _check_positive("fraction", fraction, allow_zero=True)
        return Band((1 + self.low) * (1 - fraction) - 1, (1 + self.high) * (1 + fraction) - 1)


@dataclass(frozen=True)
class Calibration:
    """A fitted call model, host model, padding and band for `hardware` (a record name) and `model` (a name in
    PRESETS, or "custom"), with the fit's residual summary and the measurements' provenance (informational dicts,
    as in the JSON).

    transfer_widening: how far the band widens on other hardware (`Band.widened`). The efficiencies are fractions
    of datasheet peaks; on the calibration device the measured ceilings already sit up to this fraction below the
    datasheet's (max of 1 - copy/datasheet bandwidth and 1 - matmul/datasheet FLOP/s), and nothing here tells how
    another device's achievable fractions compare, so its band widens by that much on both sides. An assumption,
    not a measurement. Hardware is matched by record name, the model by its preset's shape; each mismatch widens
    the band once more."""

    hardware: str
    model: str
    call: CallModel
    host: HostModel
    padding: Padding
    band: Band
    transfer_widening: float
    residuals: Mapping[str, Any] = field(default_factory=dict, compare=False)
    provenance: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        _check_positive("transfer_widening", self.transfer_widening, allow_zero=True)

    def band_for(self, hw: Hardware, config: ModelConfig) -> Band:
        """The band, widened by transfer_widening for other hardware and again for another model shape."""
        band = self.band if hw.name == self.hardware else self.band.widened(self.transfer_widening)
        return band if PRESETS.get(self.model) == config else band.widened(self.transfer_widening)

    def call_s(self, config: ModelConfig, hw: Hardware, stage: Stage, width: int, context: int, batch: int = 1,
               dtype: object = "bfloat16", per_query_kv: bool = False) -> float:
        """Predicted seconds of one call at exactly this shape (no padding, no host time)."""
        check_priced_dtype(dtype)
        return self.call.seconds(stage, call_work(config, stage, width, context, batch, dtype, per_query_kv), hw)

    def run_shapes(self, config: ModelConfig, passes: Sequence[Pass], prefill_ticks: int = 1) -> list[Pass]:
        """The passes at the shapes the implementation runs: the first `prefill_ticks` ticks (3 passes each) as
        they are, the rest padded."""
        head = 3 * prefill_ticks
        return list(passes[:head]) + [self.padding.apply(p, config.block_size) for p in passes[head:]]

    def generation(self, config: ModelConfig, hw: Hardware, passes: Sequence[Pass], dtype: object = "bfloat16",
                   prefill_ticks: int = 1) -> GenerationTime:
        """Calls at run shapes plus host time per tick (one tick per EMBED pass; B is that pass's batch).
        by_stage_s holds device seconds only; compute_bound_s the device seconds of roofline-compute-bound calls."""
        total = compute = 0.0
        by_stage = {s: 0.0 for s in Stage}
        check_priced_dtype(dtype)
        for p in self.run_shapes(config, passes, prefill_ticks):
            work = call_work(config, p.stage, p.width, p.context, p.batch, dtype, p.per_query_kv)
            t = p.repeat * self.call.seconds(p.stage, work, hw)
            by_stage[p.stage] += t
            total += t + (self.host.seconds(p.batch) if p.stage is Stage.EMBED else 0.0)
            compute += t if work.compute_bound(hw) else 0.0
        return GenerationTime(total, compute, sum(p.repeat for p in passes), by_stage)

    def generation_s(self, config: ModelConfig, hw: Hardware, passes: Sequence[Pass], dtype: object = "bfloat16",
                     prefill_ticks: int = 1) -> float:
        return self.generation(config, hw, passes, dtype, prefill_ticks).seconds

    # ------------------------------------------------------------------------------------------------ JSON

    def to_json(self) -> dict[str, Any]:
        parts = {"call_model": self.call, "host_model": self.host, "padding": self.padding, "band": self.band}
        return ({"kind": "calibration", "hardware": self.hardware, "model": self.model}
                | {key: dict(vars(value)) for key, value in parts.items()}
                | {"transfer_widening": self.transfer_widening, "residuals": dict(self.residuals),
                   "provenance": dict(self.provenance)})

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> "Calibration":
        if raw.get("kind") != "calibration":
            raise ValueError(f"kind={raw.get('kind')!r} must be 'calibration'")
        return cls(raw["hardware"], raw["model"], CallModel(**raw["call_model"]), HostModel(**raw["host_model"]),
                   Padding(**raw["padding"]), Band(**raw["band"]), raw["transfer_widening"],
                   raw.get("residuals", {}), raw.get("provenance", {}))


def load_calibration(path: str | Path | None = None) -> Calibration:
    """A calibration from a JSON file (default: the shipped H100 calibration)."""
    if path is None:
        return _shipped()
    return Calibration.from_json(json.loads(Path(path).read_text()))


@functools.cache
def _shipped() -> Calibration:
    return Calibration.from_json(json.loads(resources.files("rdtheory.costs").joinpath(SHIPPED).read_text()))


def write_calibration(calibration: Calibration, path: str | Path) -> None:
    Path(path).write_text(json.dumps(calibration.to_json(), indent=1) + "\n")

