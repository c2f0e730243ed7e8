"""Remark 3.2 against measurements: DF's FLOP overhead and its speedup over AR as functions of r'.

Theory (`rdtheory.theory.overhead`): the paper's FLOP ratio (r + r/r')/(r + 1) and the exact one, the ideal
serial speedup (r + 1)/(r' + 1) and its finite-N value for the measured workload. Cost model: the speedup of
the calibrated prediction and of the plain roofline on one accelerator. Measured: the committed H100 runs and
the paper's Table 1 (A100), both at r = 32.
"""

from dataclasses import dataclass
from typing import Any

from rdtheory.config import HUGINN_0125, ModelConfig
from rdtheory.costs.calibration import Calibration, load_calibration
from rdtheory.costs.fitting import BENCHMARK_CASES
from rdtheory.costs.plan import DiffusionForcing, StaticAR, plan
from rdtheory.costs.table1 import TABLE1_HARDWARE, TABLE1_TOKENS_PER_S, TASKS
from rdtheory.figures.output import new_figure
from rdtheory.figures.predictions import AR_CASE, DF_CASE, MEASUREMENTS, measured_rate, workload
from rdtheory.paper import DEPTH
from rdtheory.theory import fixed_rule_speedup, flop_ratio, ideal_speedup, paper_flop_ratio
from rdtheory.theory.checks import require, require_int


@dataclass(frozen=True)
class SpeedupCurves:
    """Per r' in `inners`: FLOP ratios and speedups; `measured`: (label, r', speedup) points."""

    depth: int
    inners: tuple[int, ...]
    n_new: int
    hardware: str
    paper_flop_ratio: tuple[float, ...]
    flop_ratio: tuple[float, ...]
    ideal: tuple[float, ...]
    finite: tuple[float, ...]
    calibrated: tuple[float, ...]
    roofline: tuple[float, ...]
    measured: tuple[tuple[str, int, float], ...]


def _ratio(config: ModelConfig, hardware: str, inner: int, depth: int, prompt: int, new: int,
           cal: Calibration | None) -> float:
    knobs = dict(prompt_length=prompt, new_tokens=new, calibration=cal)
    df = plan(config, hardware, DiffusionForcing(depth, inner), **knobs)
    return df.tokens_per_s / plan(config, hardware, StaticAR(depth), **knobs).tokens_per_s


def measured_speedups() -> list[tuple[str, int, float]]:
    """DF over AR at r = 32 from the committed H100 runs and from every task of the paper's Table 1."""
    out = []
    df_knobs = BENCHMARK_CASES[DF_CASE].sampler
    for kind in MEASUREMENTS:
        ratio = measured_rate(kind, DF_CASE).tokens_per_s / measured_rate(kind, AR_CASE).tokens_per_s
        out.append((f"H100 {kind}", df_knobs.inner, ratio))
    ar_rates = next(rates for s, rates in TABLE1_TOKENS_PER_S if s == StaticAR(DEPTH))
    for sampler, rates in TABLE1_TOKENS_PER_S:
        if isinstance(sampler, DiffusionForcing) and sampler.depth == DEPTH:
            out += [(f"Table 1 {task} ({TABLE1_HARDWARE})", sampler.inner, rate / ar)
                    for task, rate, ar in zip(TASKS, rates, ar_rates)]
    return out


def speedup_curves(depth: int = DEPTH, inners: tuple[int, ...] | None = None, hardware: str = "H100 SXM",
                   calibration: Calibration | None = None, config: ModelConfig = HUGINN_0125) -> SpeedupCurves:
    """Per r' (default: the divisors of r): theory, cost model and, at r = 32, the measurements."""
    require_int("depth", depth, 1)
    inners = tuple(i for i in range(1, depth + 1) if depth % i == 0) if inners is None else tuple(inners)
    require("inners", inners, bool(inners), "must hold at least one r'")
    for inner in inners:
        require("inner", inner, isinstance(inner, int) and 1 <= inner <= depth, f"must be an int in [1, r={depth}]")
    cal = load_calibration() if calibration is None else calibration
    prompt, new = workload()
    return SpeedupCurves(
        depth, inners, new, hardware,
        tuple(float(paper_flop_ratio(depth, i)) for i in inners), tuple(float(flop_ratio(depth, i)) for i in inners),
        tuple(float(ideal_speedup(depth, i)) for i in inners),
        tuple(float(fixed_rule_speedup(new, depth, i)) for i in inners),
        tuple(_ratio(config, hardware, i, depth, prompt, new, cal) for i in inners),
        tuple(_ratio(config, hardware, i, depth, prompt, new, None) for i in inners),
        tuple(measured_speedups()) if depth == DEPTH else ())


def speedup_figure(c: SpeedupCurves) -> Any:
    fig, (left, right) = new_figure(1, 2, width=11.0, height=4.2)
    left.plot(c.inners, c.paper_flop_ratio, "o-", label="paper (r + r/r')/(r + 1)", gid="paper_flop_ratio")
    left.plot(c.inners, c.flop_ratio, "s--", label="exact ceil(r/r')(r' + 1)/(r + 1)", gid="flop_ratio")
    left.set_ylabel("DF FLOPs / AR FLOPs per token")
    left.set_title(f"Remark 3.2, r={c.depth}", fontsize=9)
    right.plot(c.inners, c.ideal, "o-", label="ideal (r + 1)/(r' + 1)", gid="ideal")
    right.plot(c.inners, c.finite, "o--", label=f"ideal, N={c.n_new} tokens", gid="finite")
    right.plot(c.inners, c.roofline, "s-", label=f"roofline, {c.hardware}", gid="roofline")
    right.plot(c.inners, c.calibrated, "s--", label=f"calibrated, {c.hardware}", gid="calibrated")
    for label, inner, ratio in c.measured:
        h100 = label.startswith("H100")
        right.plot(inner * (1.0 if h100 else 1.06), ratio, "D" if h100 else "x", color="black" if h100 else "grey",
                   markersize=6 if h100 else 4, gid=f"measured:{label}")
    right.plot([], [], "D", color="black", label="measured H100 (eager, compiled)")
    right.plot([], [], "x", color="grey", label="paper Table 1 tasks (A100)")
    right.set_ylabel("DF tokens/s over AR tokens/s")
    right.set_yscale("log")
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("r' (recurrences per tick)")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(f"FLOP ratio against speedup, r={c.depth}", fontsize=10)
    return fig
