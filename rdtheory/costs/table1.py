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

from rdtheory.config import HUGINN_0125, ModelConfig
from rdtheory.costs.hardware import Hardware, get_hardware
from rdtheory.costs.plan import DiffusionForcing, StaticAR, bandwidth_bound_tokens_per_s

TABLE1_HARDWARE = "A100 40GB SXM"
TASKS = ("GSM8K", "MATH500", "HumanEval", "MBPP")
# Median tokens/s as printed in Table 1, in the order of TASKS. DF rows: headway 1, max wavefront 128 (run tags).
TABLE1_TOKENS_PER_S: tuple[tuple[StaticAR | DiffusionForcing, tuple[float, ...]], ...] = (
    (StaticAR(32), (36.1, 6.4, 13.5, 15.3)),
    (StaticAR(4), (312.9, 18.6, 244.1, 49.6)),
    (StaticAR(8), (137.5, 23.1, 61.7, 57.2)),
    (StaticAR(64), (18.2, 3.4, 7.3, 7.6)),
    (DiffusionForcing(depth=32, inner=2), (182.2, 35.9, 67.4, 92.3)),
    (DiffusionForcing(depth=32, inner=4), (157.3, 30.3, 64.9, 70.2)),
)


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
