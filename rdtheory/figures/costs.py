"""Cost curves with the committed GPU measurements overlaid: the time of one core call against its width (with
the saturation width L*), and Huginn-0125 tokens/s of fixed-rule DF against r' and the wavefront cap W.

Curves come from the committed calibration (`Calibration.call_s`, `plan`) and the plain roofline
(`roofline.call_time_s`); points from the committed H100 stage timings and generation speeds; the L* markers
from `rdtheory.costs.targets.saturation_widths_at` (measured and calibrated L*_rho, roofline crossover).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rdtheory.config import HUGINN_0125, ModelConfig
from rdtheory.costs.calibration import Calibration, load_calibration
from rdtheory.costs.counts import Stage
from rdtheory.costs.fitting import BENCHMARK_CASES, load_stage_records
from rdtheory.costs.hardware import get_hardware
from rdtheory.costs.plan import DiffusionForcing, Prediction, StaticAR, plan
from rdtheory.costs.roofline import call_time_s
from rdtheory.costs.targets import RHO, SaturationWidths, saturation_widths_at
from rdtheory.figures.output import new_figure
from rdtheory.figures.predictions import MeasuredRate, measured_rates, workload
from rdtheory.paper import DEPTH
from rdtheory.theory.checks import require, require_int


@dataclass(frozen=True)
class PassTimeCurve:
    """Seconds of one core call over W positions at (context, batch) on one record: calibrated and roofline at
    `widths`, measured at `measured_widths` (empty off the calibration device), and every L*."""

    hardware: str
    context: int
    batch: int
    widths: tuple[int, ...]
    calibrated_s: tuple[float, ...]
    roofline_s: tuple[float, ...]
    measured_widths: tuple[int, ...]
    measured_s: tuple[float, ...]
    l_star: SaturationWidths


def pass_time_curve(context: int = 1024, batch: int = 1, hardware: str = "H100 SXM",
                    calibration: Calibration | None = None, config: ModelConfig = HUGINN_0125) -> PassTimeCurve:
    require_int("context", context, 1)
    require_int("batch", batch, 1)
    cal = load_calibration() if calibration is None else calibration
    hw = get_hardware(hardware)
    records = load_stage_records() if hw.name == cal.hardware else []
    widths = tuple(int(w) for w in np.unique(np.geomspace(1, context, 48).round()))
    points = sorted((r.width, r.seconds) for r in records
                    if r.stage is Stage.CORE and r.context == context and r.batch == batch)
    return PassTimeCurve(
        hw.name, context, batch, widths,
        tuple(cal.call_s(config, hw, Stage.CORE, w, context, batch) for w in widths),
        tuple(call_time_s(config, hw, Stage.CORE, w, context, batch) for w in widths),
        tuple(w for w, _ in points), tuple(t for _, t in points),
        saturation_widths_at(config, hw, context, batch, cal, records))


def pass_time_figure(curves: Sequence[PassTimeCurve]) -> Any:
    """One panel per curve: t(W) on log axes with the L* markers (L*_rho: where t reaches (1 + rho) t(1))."""
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    if not curves:
        raise ValueError("curves=[] must hold at least one PassTimeCurve")
    fig, axes = new_figure(1, len(curves), width=5.0 * len(curves), height=4.0, squeeze=False)
    for ax, c in zip(axes[0], curves):
        ax.loglog(c.widths, np.array(c.calibrated_s) * 1e3, label="calibrated model", gid="calibrated")
        ax.loglog(c.widths, np.array(c.roofline_s) * 1e3, "--", label="roofline (datasheet)", gid="roofline")
        if c.measured_widths:
            ax.loglog(c.measured_widths, np.array(c.measured_s) * 1e3, "o", color="black", markersize=4,
                      label="measured", gid="measured")
        markers = (("measured", c.l_star.measured, "black", f"L*_{RHO:g} measured"),
                   ("calibrated", c.l_star.calibrated, "tab:blue", f"L*_{RHO:g} calibrated"),
                   ("roofline_crossover", c.l_star.roofline_crossover, "tab:orange", "L* roofline crossover"))
        for name, value, colour, label in markers:
            if value is not None and np.isfinite(value):
                ax.axvline(value, color=colour, linestyle=":", gid=f"l_star:{name}", label=f"{label} = {value:.0f}")
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("width W (positions per core call)")
        ax.set_ylabel("ms per core call (4 layers)")
        ax.set_title(f"{c.hardware}, context {c.context}, batch {c.batch}", fontsize=9)
        ax.legend(fontsize=7)
    return fig


@dataclass(frozen=True)
class ThroughputGrid:
    """Predicted tokens/s of fixed-rule DF for every (cap, r') — rows caps, columns inners, NaN where it does not
    fit — with the band's ends, static AR at the same depth, and the committed measurements."""

    hardware: str
    depth: int
    inners: tuple[int, ...]
    caps: tuple[int, ...]
    tokens_per_s: np.ndarray
    low: np.ndarray
    high: np.ndarray
    ar: Prediction
    measured: tuple[MeasuredRate, ...]


def throughput_grid(hardware: str = "H100 SXM", depth: int = DEPTH, inners: Sequence[int] | None = None,
                    caps: Sequence[int] = (1, 2, 4, 8, 16, 32), calibration: Calibration | None = None,
                    config: ModelConfig = HUGINN_0125) -> ThroughputGrid:
    require_int("depth", depth, 1)
    inners = tuple(i for i in range(1, depth + 1) if depth % i == 0) if inners is None else tuple(inners)
    require("inners", inners, bool(inners), "must hold at least one r'")
    require("caps", tuple(caps), bool(caps), "must hold at least one wavefront cap")
    for cap in caps:
        require_int("cap", cap, 1)
    cal = load_calibration() if calibration is None else calibration
    prompt, new = workload()
    shape = (len(caps), len(inners))
    rate, low, high = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    for i, cap in enumerate(caps):
        for j, inner in enumerate(inners):
            p = plan(config, hardware, DiffusionForcing(depth, inner, 1, cap), prompt_length=prompt,
                     new_tokens=new, calibration=cal)
            rate[i, j], (low[i, j], high[i, j]) = p.tokens_per_s, p.tokens_per_s_range
    ar = plan(config, hardware, StaticAR(depth), prompt_length=prompt, new_tokens=new, calibration=cal)
    measured = tuple(measured_rates()) if (
        get_hardware(hardware).name == cal.hardware) else ()
    return ThroughputGrid(get_hardware(hardware).name, depth, inners, tuple(caps), rate, low, high, ar, measured)


def throughput_figure(grid: ThroughputGrid) -> Any:
    """Left: tokens/s against r', one line per cap. Right: against the cap, one line per r'. Static AR and its
    band as a grey line and shading; measurements as black markers (AR at r' = r, DF at its r' and cap 128)."""
    fig, (left, right) = new_figure(1, 2, width=11.0, height=4.2)
    for i, cap in enumerate(grid.caps):
        left.plot(grid.inners, grid.tokens_per_s[i], "o-", markersize=3, label=f"DF cap W={cap}", gid=f"cap:{cap}")
    for j, inner in enumerate(grid.inners):
        right.plot(grid.caps, grid.tokens_per_s[:, j], "o-", markersize=3, label=f"DF r'={inner}",
                   gid=f"inner:{inner}")
        right.fill_between(grid.caps, grid.low[:, j], grid.high[:, j], alpha=0.12)
    low, high = grid.ar.tokens_per_s_range
    for ax in (left, right):
        ax.axhline(grid.ar.tokens_per_s, color="grey", label=f"AR r={grid.depth}", gid="ar")
        ax.axhspan(low, high, color="grey", alpha=0.15)
        ax.set_xscale("log", base=2)
        ax.set_ylabel("tokens/s (calibrated prediction)")
    for m, marker in zip(grid.measured, "oDsv"):
        knobs = BENCHMARK_CASES[m.case].sampler
        x = knobs.recurrences_per_tick
        left.plot(x, m.tokens_per_s, marker, color="black", label=f"measured {m.case} ({m.kind})",
                  gid=f"measured:{m.kind}:{m.case}")
    left.set_xlabel("r' (recurrences per tick)")
    right.set_xlabel("wavefront cap W")
    prompt, new = workload()
    left.set_title(f"Huginn-0125 on {grid.hardware}, r={grid.depth}, prompt {prompt}, {new} tokens\n"
                   "caps above ceil(r/r') never fill: their lines coincide", fontsize=9)
    right.set_title("band: calibration's held-out error", fontsize=9)
    left.legend(fontsize=6)
    right.legend(fontsize=6)
    return fig
