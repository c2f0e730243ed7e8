"""Planning: predicted time, tokens/s and memory of one generation on one accelerator, before running anything.

`plan(config, hardware, sampler, prompt_length=, new_tokens=, batch=)` builds the passes of the sampler
(`workload`), prices them (`roofline`; with a `Calibration`, as the measured implementation runs them, with an
uncertainty band) and checks the footprint (`memory`) against the accelerator's capacity. Samplers are described
by small frozen knob objects (`StaticAR`, `AdaptiveAR`, `DiffusionForcing`), not by the sampler code, which this
module never imports. Searches over knobs and hardware live in `search`. Impossible settings raise `ValueError`
naming the argument, its value and the rule.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass

from rdtheory.config import ModelConfig
from rdtheory.costs.calibration import Band, Calibration
from rdtheory.costs.counts import KVSharing, Pass, Stage, Traffic, total_flops, total_traffic
from rdtheory.costs.hardware import Hardware, get_hardware
from rdtheory.costs.memory import Footprint, footprint
from rdtheory.costs.roofline import UNCALIBRATED, Corrections, check_priced_dtype, generation_time
from rdtheory.costs.workload import ar_passes, df_passes, df_steady_state, prefill_passes, spread_depths
from rdtheory.paper import DEPTH, DF_DEFAULTS


def _positive(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}={value!r} must be an int >= 1")


@dataclass(frozen=True)
class StaticAR:
    """Every token runs exactly `depth` recurrences; the prompt is prefilled at that depth (default: the paper's r)."""

    depth: int = DEPTH

    def __post_init__(self) -> None:
        _positive("depth", self.depth)

    @property
    def label(self) -> str:
        return f"AR r={self.depth}"

    @property
    def prefill_depth(self) -> int:
        return self.depth

    @property
    def recurrences_per_tick(self) -> int:
        """Serial core passes per step of decoding (a token step: r)."""
        return self.depth

    @property
    def tokens_per_tick(self) -> int:
        return 1

    def passes(self, config: ModelConfig, prompt_length: int, new_tokens: int, batch: int = 1,
               kv: KVSharing | None = None, prefill_depth: int | None = None) -> list[Pass]:
        return ar_passes(config, prompt_length, new_tokens, self.depth, batch, prefill_depth)

    def state_shape(self, kv: KVSharing | None) -> tuple[int, int, int, bool]:
        """(deepest recurrence a PerStep cache holds, wavefront width, state vectors per position, per-query KV)."""
        return self.depth, 1, 2, False


@dataclass(frozen=True)
class AdaptiveAR:
    """Tokens exit after `mean_depth` recurrences on average (at most `max_depth`); prefill at max_depth."""

    mean_depth: float
    max_depth: int = DEPTH

    def __post_init__(self) -> None:
        _positive("max_depth", self.max_depth)
        if not (math.isfinite(self.mean_depth) and 1 <= self.mean_depth <= self.max_depth):
            raise ValueError(f"mean_depth={self.mean_depth!r} must lie in [1, max_depth={self.max_depth}]")

    @property
    def label(self) -> str:
        return f"adaptive AR mean r={self.mean_depth:g} max {self.max_depth}"

    @property
    def prefill_depth(self) -> int:
        return self.max_depth

    def passes(self, config: ModelConfig, prompt_length: int, new_tokens: int, batch: int = 1,
               kv: KVSharing | None = None, prefill_depth: int | None = None) -> list[Pass]:
        depths = spread_depths(self.mean_depth, new_tokens - 1)
        return ar_passes(config, prompt_length, new_tokens, depths, batch,
                         prefill_depth=self.max_depth if prefill_depth is None else prefill_depth)

    def state_shape(self, kv: KVSharing | None) -> tuple[int, int, int, bool]:
        return self.max_depth, 1, 2, False


@dataclass(frozen=True)
class DiffusionForcing:
    """The DF sampler with the fixed exit rule: r' = `inner` recurrences per tick over the wave, a position
    frozen after `depth` recurrences, `headway` new positions per tick, at most `max_wavefront` active. The
    defaults are the paper's experiments' settings (`rdtheory.paper.DF_DEFAULTS`)."""

    depth: int = DF_DEFAULTS.depth
    inner: int = DF_DEFAULTS.inner
    headway: int = DF_DEFAULTS.headway
    max_wavefront: int = DF_DEFAULTS.max_wavefront

    def __post_init__(self) -> None:
        for name in ("depth", "inner", "headway", "max_wavefront"):
            _positive(name, getattr(self, name))
        if self.max_wavefront < self.headway:
            raise ValueError(f"max_wavefront={self.max_wavefront} must be >= headway={self.headway}")

    @property
    def label(self) -> str:
        return f"DF r'={self.inner} FixedDepth({self.depth}) headway={self.headway} cap={self.max_wavefront}"

    @property
    def prefill_depth(self) -> int:
        return self.depth

    @property
    def recurrences_per_tick(self) -> int:
        """Serial core passes per tick (r')."""
        return self.inner

    @property
    def tokens_per_tick(self) -> int:
        """New positions a tick admits at most (headway), hence tokens committed per tick over a run."""
        return self.headway

    def passes(self, config: ModelConfig, prompt_length: int, new_tokens: int, batch: int = 1,
               kv: KVSharing | None = None, prefill_depth: int | None = None) -> list[Pass]:
        return df_passes(config, prompt_length, new_tokens, self.depth, self.inner, self.headway,
                         self.max_wavefront, batch, kv is not None and kv.reads_per_query, prefill_depth)

    def state_shape(self, kv: KVSharing | None) -> tuple[int, int, int, bool]:
        """A PerStep cache holds ceil(r/r') r' recurrences; the steady wavefront's width; states, drafts, EMA and
        the exit rule's memory (4 vectors) per position."""
        steady = df_steady_state(self.depth, self.inner, self.headway, self.max_wavefront)
        return (max(self.depth, steady.ticks_per_token * self.inner), steady.width, 4,
                kv is not None and kv.reads_per_query)


Sampler = StaticAR | AdaptiveAR | DiffusionForcing


@dataclass(frozen=True)
class Prediction:
    """A planned generation of `new_tokens` tokens for each of `batch` rows after a `prompt_length` prompt.

    tokens_per_s counts new tokens of all rows over the whole time, prefill included; decode_tokens_per_s counts
    the tokens after the first over the time after the prefill. Uncalibrated, both are upper bounds and `band` is
    None; calibrated, `band` bounds the relative error of `seconds` (`Band`, from held-out residuals)."""

    hardware: Hardware
    sampler: Sampler
    batch: int
    prompt_length: int
    new_tokens: int
    seconds: float
    prefill_s: float
    calls: int
    compute_bound_share: float
    flops: int
    traffic: Traffic
    memory: Footprint
    band: Band | None = None

    @property
    def tokens_per_s(self) -> float:
        return self.batch * self.new_tokens / self.seconds

    @property
    def seconds_range(self) -> tuple[float, float] | None:
        """(low, high) seconds the band allows; None uncalibrated."""
        return None if self.band is None else self.band.seconds(self.seconds)

    @property
    def tokens_per_s_range(self) -> tuple[float, float] | None:
        """(low, high) tokens/s the band allows; None uncalibrated."""
        return None if self.band is None else self.band.rate(self.tokens_per_s)

    @property
    def decode_tokens_per_s(self) -> float:
        if self.new_tokens == 1:
            return math.nan
        return self.batch * (self.new_tokens - 1) / (self.seconds - self.prefill_s)


def sampler_label(sampler: Sampler) -> str:
    """A planning sampler's knobs in one line, as `rdtheory plan` and `rdtheory report` print them."""
    return sampler.label


def rate_range(prediction: Prediction) -> str:
    """A prediction's tokens/s band, or what an uncalibrated rate is."""
    r = prediction.tokens_per_s_range
    return "upper bound (roofline)" if r is None else f"{r[0]:.1f} .. {r[1]:.1f}"


def sampler_passes(config: ModelConfig, sampler: Sampler, prompt_length: int, new_tokens: int, batch: int = 1,
                   kv: KVSharing | None = None) -> list[Pass]:
    """The passes of one generation with the given sampler knobs."""
    return _checked(sampler).passes(config, prompt_length, new_tokens, batch, kv)


def _checked(sampler: object) -> Sampler:
    if not isinstance(sampler, (StaticAR, AdaptiveAR, DiffusionForcing)):
        raise TypeError(f"sampler={sampler!r} must be a StaticAR, AdaptiveAR or DiffusionForcing")
    return sampler


def sampler_footprint(config: ModelConfig, sampler: Sampler, prompt_length: int, new_tokens: int, batch: int,
                      dtype: object, kv: KVSharing | None = None) -> Footprint:
    """Weights, a cache for prompt_length + new_tokens - 1 positions, the wave's states and the widest call.
    PerStep needs a slot per recurrence a position can reach: r (AR), max_depth (adaptive), ceil(r/r') r' (DF)."""
    max_len = prompt_length + new_tokens - 1
    depth, wave, vectors, per_query = _checked(sampler).state_shape(kv)
    return footprint(config, kv, batch=batch, max_len=max_len, max_depth=depth, widest=prompt_length,
                     wavefront=wave, dtype=dtype, state_vectors=vectors, per_query_kv=per_query)


def plan(config: ModelConfig, hardware: str | Hardware, sampler: Sampler, *, prompt_length: int, new_tokens: int,
         batch: int = 1, dtype: object = "bfloat16", kv: KVSharing | None = None,
         correction: Corrections = UNCALIBRATED, calibration: Calibration | None = None,
         table: Mapping[str, Hardware] | None = None) -> Prediction:
    """Predict one generation. `hardware` is a record or a name in `table` (default: the shipped records);
    `kv` a KV-sharing policy (None: ShareLast); `correction` an efficiency and overhead per call on the plain
    roofline, or `calibration` (`load_calibration()`) for the fitted model, its padding, host time and band.
    Transfer: on hardware other than the calibration's, the fitted efficiencies scale that hardware's datasheet
    peaks, assuming its kernels reach the same fractions of its peaks as the calibration device's did; the band
    then widens by `calibration.transfer_widening` on both sides (21 % for the shipped H100 calibration), and
    again for a model shape other than the calibrated one.

    Raises ValueError for an unknown hardware name, knobs out of range, a prompt and generation longer than the
    model's positions, a dtype the records cannot price, and a footprint larger than the accelerator's memory;
    TypeError for a sampler that is not one of the knob objects."""
    hw = get_hardware(hardware, table)
    check_priced_dtype(dtype)
    for name, value in (("prompt_length", prompt_length), ("new_tokens", new_tokens), ("batch", batch)):
        _positive(name, value)
    passes = sampler_passes(config, sampler, prompt_length, new_tokens, batch, kv)
    memory = sampler_footprint(config, sampler, prompt_length, new_tokens, batch, dtype, kv)
    if memory.total_bytes > hw.memory_bytes:
        raise ValueError(
            f"the generation needs {memory.total_bytes / 1e9:.2f} GB (weights {memory.weight_bytes / 1e9:.2f}, "
            f"KV cache {memory.kv_cache_bytes / 1e9:.2f}, states {memory.state_bytes / 1e9:.2f}, transients "
            f"{memory.transient_bytes / 1e9:.2f}) > memory_bytes={hw.memory_bytes / 1e9:.0f} GB of {hw.name}; "
            "lower batch, prompt_length or new_tokens" + (
                f", or use ShareLast (kv={kv!r} keeps a cache slot per recurrence step)" if kv is not None
                and kv.reads_per_query else ""))
    prefill = prefill_passes(config, prompt_length, sampler.prefill_depth, batch)
    if calibration is None:
        prefill_s = generation_time(config, hw, prefill, dtype, correction).seconds
        timing, band = generation_time(config, hw, passes, dtype, correction), None
    elif correction != UNCALIBRATED:
        raise ValueError(f"correction={correction!r} and a calibration were both given; pass one of them")
    else:
        prefill_s = calibration.generation_s(config, hw, prefill, dtype)
        timing, band = calibration.generation(config, hw, passes, dtype), calibration.band_for(hw, config)
    return Prediction(hw, sampler, batch, prompt_length, new_tokens, timing.seconds, prefill_s, timing.calls,
                      timing.compute_bound_s / timing.seconds, total_flops(config, passes),
                      total_traffic(config, passes, dtype), memory, band)


def bandwidth_bound_tokens_per_s(config: ModelConfig, hardware: str | Hardware, sampler: StaticAR | DiffusionForcing,
                                 dtype: object = "bfloat16") -> float:
    """The weight-streaming ceiling of batch-1 decoding: every call reads its stage's weights once, so
    static AR makes at most bandwidth / (weights of 1 EMBED + r CORE + 1 DECODE call) tokens/s. DF, whatever its
    exit rule, lets at most `headway` new positions enter per tick and so commits at most `headway` tokens per
    tick over a run: at most headway * bandwidth / (weights of 1 EMBED + r' CORE + 1 DECODE call) tokens/s.
    KV reads, activations, the prefill and overheads only lower the true rate."""
    hw = get_hardware(hardware)
    core_calls, tokens = sampler.recurrences_per_tick, sampler.tokens_per_tick
    per_tick = total_traffic(config, [Pass(s, 1, 1, 1, core_calls if s is Stage.CORE else 1) for s in Stage], dtype)
    return tokens * hw.bandwidth_bytes_per_s / per_tick.weight_bytes
