"""Figure 1 of the paper, generalised: AR and diffusion forcing on the (position × recurrence-step) grid.

A schedule (`rdtheory.theory.Schedule`, built from knobs or from a sampler's `Trace` with `to_schedule(row)`)
becomes a grid whose cell (p, k) holds the serial pass, or the tick, in which recurrence k of position p ran.
Under the decoding theorem's clock (a pass costs the same at every width up to L*) the serial pass is the
wall-clock step: AR climbs one column at a time, DF advances a diagonal wave. Prelude and coda are not drawn.
"""

from collections.abc import Mapping
from typing import Any

import numpy as np

from rdtheory.figures.output import new_figure
from rdtheory.paper import DF_DEFAULTS
from rdtheory.theory import Schedule, ar_schedule, df_schedule
from rdtheory.theory.checks import require_int

CLOCKS = ("pass", "tick")


def schedule_grid(schedule: Schedule, clock: str = "pass") -> np.ndarray:
    """[positions, steps] float array: the global serial pass (1-based; clock="pass") or the tick (0-based;
    clock="tick") in which cell (p, k) ran, at [p, k - 1]; NaN for cells never computed."""
    if clock not in CLOCKS:
        raise ValueError(f"clock={clock!r} must be one of {CLOCKS}")
    when = schedule.timeline()
    n_pos = max((c.pos for c in when), default=-1) + 1
    n_step = max((c.step for c in when), default=0)
    grid = np.full((n_pos, n_step), np.nan)
    for cell, (tick, global_pass) in when.items():
        grid[cell.pos, cell.step - 1] = global_pass if clock == "pass" else tick
    return grid


def paper_schedules(depth: int = 8, inner: int = 2, headway: int = DF_DEFAULTS.headway,
                    cap: int = DF_DEFAULTS.max_wavefront, prompt_len: int = 2,
                    n_new: int = 6) -> dict[str, Schedule]:
    """Static AR at depth r and fixed-rule DF (r' = inner, exit after r recurrences) for the same prompt."""
    require_int("n_new", n_new, 1)
    return {
        f"AR, r={depth}": ar_schedule(prompt_len, n_new, depth),
        f"DF, r'={inner}, headway {headway}, cap {cap}": df_schedule(prompt_len, n_new, inner, depth, headway, cap),
    }


def schedules_figure(schedules: Mapping[str, Schedule], title: str = "", clock: str = "pass",
                     annotate: bool | None = None) -> Any:
    """One panel per schedule, x = position, y = recurrence step, colour = when the cell ran (one colour scale
    for all panels: the same clock). annotate: write the pass in each cell (default: when the grids are small)."""
    if not schedules:
        raise ValueError("schedules={} must name at least one schedule")
    grids = {name: schedule_grid(s, clock) for name, s in schedules.items()}
    empty = [name for name, g in grids.items() if not g.size]
    if empty:
        raise ValueError(f"schedules={empty!r} compute no cell; every schedule must compute at least one")
    vmax = max(float(np.nanmax(g)) for g in grids.values() if g.size)
    n_pos = max(g.shape[0] for g in grids.values())
    n_step = max(g.shape[1] for g in grids.values())
    annotate = n_pos * n_step <= 400 if annotate is None else annotate
    fig, axes = new_figure(1, len(grids), width=max(5.0, 0.45 * n_pos) * len(grids) ** 0.8 + 1,
                           height=max(3.0, 0.3 * n_step + 1.2), squeeze=False)
    image = None
    for ax, (name, grid) in zip(axes[0], grids.items()):
        image = ax.imshow(grid.T, origin="lower", cmap="viridis", vmin=0, vmax=vmax, aspect="auto",
                          extent=(-0.5, grid.shape[0] - 0.5, 0.5, grid.shape[1] + 0.5), interpolation="nearest")
        image.set_gid(f"grid:{name}")
        if annotate:
            for (p, k), value in np.ndenumerate(grid):
                if not np.isnan(value):
                    ax.text(p, k + 1, f"{value:.0f}", ha="center", va="center", fontsize=6, color="white")
        prompt = schedules[name].prompt_len
        ax.axvline(prompt - 0.5, color="black", linestyle="--", linewidth=0.8)
        ax.set_xlim(-0.5, n_pos - 0.5)
        ax.set_ylim(0.5, n_step + 0.5)
        ax.set_xlabel("position (prompt left of the dashed line)")
        ax.set_ylabel("recurrence step")
        ax.set_title(f"{name}\n{schedules[name].n_passes} serial passes, {schedules[name].n_ticks} ticks",
                     fontsize=9)
    fig.colorbar(image, ax=axes[0].tolist(), label=f"{clock} in which the cell ran")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def schedule_diagram(depth: int = 8, inner: int = 2, headway: int = DF_DEFAULTS.headway,
                     cap: int = DF_DEFAULTS.max_wavefront, prompt_len: int = 2,
                     n_new: int = 6) -> Any:
    """Figure 1: AR against DF (fixed rule) for r, r', headway and wavefront cap."""
    return schedules_figure(paper_schedules(depth, inner, headway, cap, prompt_len, n_new),
                            f"the (position × recurrence) grid, r={depth}, r'={inner}, coloured by serial pass")


def trace_schedules(runs: Mapping[str, Any], row: int = 0) -> dict[str, Schedule]:
    """The schedules that sampler runs (Generations, or anything with `.trace.to_schedule`) executed for `row`."""
    return {name: run.trace.to_schedule(row) for name, run in runs.items()}
