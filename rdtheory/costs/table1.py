"""The paper's Table 1 throughputs against the bandwidth ceiling of the GPU they were measured on.

Table 1 (Huginn-0125, batch size 1, A100-40GB, median tokens/s per task) reports static AR at r = 32 on GSM8K at
36.1 tok/s. At batch size 1 each generated token of static AR must stream the weights of 1 embed + r core + 1
decode call: 108.65 GB in bf16 at r = 32. An A100-40GB moves at most 1.555 TB/s (datasheet; SXM and PCIe alike), so
no run can generate more than 14.3 tokens/s, before any KV read, activation, prefill or launch overhead. The figure
is 2.5x that ceiling. `table1_bandwidth_check` does this for every row with a ceiling (static AR, and DF, which
whatever its exit rule commits at most `headway` = 1 token per tick over a run): every GSM8K row (1.2x to 3.4x) and
some HumanEval and MBPP rows (up to 2.7x for r = 4 on HumanEval) lie above their ceilings; no MATH500 row does.
Adaptive AR and speculative decoding have no fixed depth and no ceiling here.

What this implies: those numbers are not generated tokens per second of a batch-1 bf16 run that reads its weights
from device memory. The paper does not say which assumption fails. Candidates, none confirmed: (a) the token count
includes the prompt (GSM8K uses an 8-shot prompt of about a thousand tokens, MBPP a few-shot one, MATH500 and
HumanEval short prompts; rows with short generations, such as the r = 4 rows whose answers are mostly wrong, would
inflate most, as observed); (b) the timed span leaves part of the generation out; (c) the run used weights or a
dtype other than bf16. Under (a), ratios between rows of one task keep their meaning when both rows generate
the same number of tokens ((P + N) / T_a over (P + N) / T_b is T_b / T_a), so the reported speedups may
survive even where the absolute rates cannot. Nothing here depends on calibration: the ceiling is an upper bound.
"""

from dataclasses import dataclass

from rdtheory import paper
from rdtheory.config import HUGINN_0125, ModelConfig
from rdtheory.costs.hardware import Hardware, get_hardware
from rdtheory.costs.plan import DiffusionForcing, StaticAR, bandwidth_bound_tokens_per_s

TABLE1_HARDWARE = "A100 40GB SXM"
"""The hardware record of Table 1's GPU (the paper's A100-40GB; SXM and PCIe stream weights alike)."""
TASKS = paper.TABLE1_TASKS


def planned(row: paper.TableRow) -> StaticAR | DiffusionForcing | None:
    """A paper row's sampler as the cost model prices it: static AR at its depth; diffusion forcing with the fixed
    rule at the row's r, r', headway and wavefront cap (the noise and the exit threshold do not change the passes
    the fixed rule prices); None for adaptive AR and speculative decoding, which have no fixed depth."""
    if row.depth is not None:
        return StaticAR(row.depth)
    if row.df is not None:
        return DiffusionForcing(row.df.depth, row.df.inner, row.df.headway, row.df.max_wavefront)
    return None


# Median tokens/s of the Table 1 rows the cost model prices (`planned`), in the order of TASKS.
TABLE1_TOKENS_PER_S: tuple[tuple[StaticAR | DiffusionForcing, tuple[float, ...]], ...] = tuple(
    (knobs, row.tokens_per_s) for row in paper.TABLE1.rows if (knobs := planned(row)) is not None)


@dataclass(frozen=True)
class BoundCheck:
    """A reported rate against the weight-streaming ceiling of its sampler on the given hardware."""

    sampler: StaticAR | DiffusionForcing
    task: str
    reported_tokens_per_s: float
    ceiling_tokens_per_s: float

    @property
    def ratio(self) -> float:
        return self.reported_tokens_per_s / self.ceiling_tokens_per_s

    @property
    def exceeds(self) -> bool:
        return self.ratio > 1.0


def table1_bandwidth_check(hardware: str | Hardware = TABLE1_HARDWARE, config: ModelConfig = HUGINN_0125
                           ) -> list[BoundCheck]:
    """Every Table 1 rate with a ceiling, against bandwidth_bound_tokens_per_s on `hardware` (bf16)."""
    hw = get_hardware(hardware)
    out = []
    for sampler, rates in TABLE1_TOKENS_PER_S:
        ceiling = bandwidth_bound_tokens_per_s(config, hw, sampler)
        out += [BoundCheck(sampler, task, rate, ceiling) for task, rate in zip(TASKS, rates)]
    return out
