"""Searches over planned generations: the fastest diffusion-forcing knobs on one accelerator, and which
accelerators reach a target rate.

Every candidate is a `plan` prediction (with a calibration: its band too); candidates whose footprint exceeds the
accelerator's memory are left out of the knob search and reported as not fitting by the hardware search. The
search ranks by predicted speed only: r' also changes what the sampler computes (the paper picks r' = 4 for
accuracy), so the whole ranked list is returned for a choice that weighs both.
"""

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rdtheory.config import ModelConfig
from rdtheory.costs.calibration import Calibration
from rdtheory.costs.counts import KVSharing
from rdtheory.costs.hardware import Hardware, get_hardware, load_hardware
from rdtheory.costs.plan import DiffusionForcing, Prediction, Sampler, plan, sampler_footprint
from rdtheory.paper import DEPTH, DF_DEFAULTS


def fits(config: ModelConfig, hw: Hardware, sampler: Sampler, prompt_length: int, new_tokens: int, batch: int,
         dtype: object = "bfloat16", kv: KVSharing | None = None) -> bool:
    """Whether the generation's footprint fits the accelerator's memory."""
    need = sampler_footprint(config, sampler, prompt_length, new_tokens, batch, dtype, kv).total_bytes
    return need <= hw.memory_bytes


def df_candidates(depth: int, inners: Iterable[int] | None = None, headways: Iterable[int] = (1,)
                  ) -> list[DiffusionForcing]:
    """Fixed-rule DF knobs: every r' (default: the divisors of r), every headway h, and every cap that changes the
    wave: the powers of two from h below the full wave h * ceil(r / r'), and the full wave itself (a larger cap
    never binds)."""
    inners = [i for i in range(1, depth + 1) if depth % i == 0] if inners is None else list(inners)
    out = []
    for inner in inners:
        for headway in headways:
            full = headway * math.ceil(depth / inner)
            caps = {1 << k for k in range(full.bit_length()) if headway <= 1 << k < full} | {full}
            out += [DiffusionForcing(depth, inner, headway, cap) for cap in sorted(caps)]
    return out


@dataclass(frozen=True)
class KnobSearch:
    """Predictions of every candidate that fits, fastest first (ties: smaller footprint first)."""

    hardware: Hardware
    candidates: tuple[Prediction, ...]

    @property
    def best(self) -> Prediction:
        return self.candidates[0]


def best_df_knobs(config: ModelConfig, hardware: str | Hardware, *, prompt_length: int, new_tokens: int,
                  depth: int = DEPTH, batch: int = 1, inners: Iterable[int] | None = None,
                  headways: Iterable[int] = (DF_DEFAULTS.headway,),
                  calibration: Calibration | None = None, dtype: object = "bfloat16", kv: KVSharing | None = None,
                  table: Mapping[str, Hardware] | None = None) -> KnobSearch:
    """The fastest r' and wavefront cap (and headway, if several are given) for the fixed-rule DF sampler on one
    accelerator, by predicted tokens/s (`calibration` None: the plain roofline). Raises ValueError when no
    candidate fits in memory."""
    hw = get_hardware(hardware, table)
    knobs = dict(prompt_length=prompt_length, new_tokens=new_tokens, batch=batch, dtype=dtype, kv=kv,
                 calibration=calibration)
    found = [plan(config, hw, s, **knobs) for s in df_candidates(depth, inners, headways)
             if fits(config, hw, s, prompt_length, new_tokens, batch, dtype, kv)]
    if not found:
        raise ValueError(f"no DF candidate with depth={depth}, batch={batch}, prompt_length={prompt_length} and "
                         f"new_tokens={new_tokens} fits memory_bytes={hw.memory_bytes / 1e9:.0f} GB of {hw.name}")
    found.sort(key=lambda p: (-p.tokens_per_s, p.memory.total_bytes))
    return KnobSearch(hw, tuple(found))


@dataclass(frozen=True)
class TargetCheck:
    """One accelerator against a target rate. prediction None: the generation does not fit its memory."""

    hardware: Hardware
    target_tokens_per_s: float
    prediction: Prediction | None

    @property
    def reaches(self) -> bool:
        """The predicted rate meets the target."""
        return self.prediction is not None and self.prediction.tokens_per_s >= self.target_tokens_per_s

    @property
    def surely(self) -> bool:
        """The low end of the band meets the target (uncalibrated: the rate is an upper bound, so never sure)."""
        band = None if self.prediction is None else self.prediction.tokens_per_s_range
        return band is not None and band[0] >= self.target_tokens_per_s


def hardware_for_target(config: ModelConfig, sampler: Sampler, target_tokens_per_s: float, *, prompt_length: int,
                        new_tokens: int, batch: int = 1, calibration: Calibration | None = None,
                        dtype: object = "bfloat16", kv: KVSharing | None = None,
                        table: Mapping[str, Hardware] | None = None) -> list[TargetCheck]:
    """Every accelerator of `table` (default: the shipped records) against the target, fastest first, those the
    generation does not fit last. Uncalibrated rates are upper bounds: a record that misses the target then
    cannot reach it with any implementation of these passes."""
    if not (math.isfinite(target_tokens_per_s) and target_tokens_per_s > 0):
        raise ValueError(f"target_tokens_per_s={target_tokens_per_s!r} must be a finite number > 0")
    records = load_hardware() if table is None else table
    checks = []
    for hw in records.values():
        ok = fits(config, hw, sampler, prompt_length, new_tokens, batch, dtype, kv)
        prediction = plan(config, hw, sampler, prompt_length=prompt_length, new_tokens=new_tokens, batch=batch,
                          dtype=dtype, kv=kv, calibration=calibration) if ok else None
        checks.append(TargetCheck(hw, target_tokens_per_s, prediction))
    return sorted(checks, key=lambda c: -c.prediction.tokens_per_s if c.prediction else math.inf)
