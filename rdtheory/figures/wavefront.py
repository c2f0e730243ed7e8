"""The wavefront in motion: which positions the DF sampler holds, how far each has recurred, and when the front
stands still at its cap, for the fixed exit rule and for a synthetic adaptive rule (integers only).

The adaptive rule is simulated with per-position convergence depths drawn from a seeded toy model: most
positions converge after a few ticks, a share of "hard" ones needs many more. Under the contiguous commit rule
(the paper's Eq. 3) a hard position holds back everything to its right, the wave fills up to its cap and stands
(the paper's Fig. 4 and 12); under the rightmost rule (Algorithm 2) converged positions to its right take it
along. The control flow is `rdtheory.theory.df_schedule`'s; nothing here runs a model.
"""

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rdtheory.figures.output import new_figure
from rdtheory.paper import DF_DEFAULTS
from rdtheory.theory import Schedule, df_schedule
from rdtheory.theory.checks import require_int


@dataclass(frozen=True)
class WaveHistory:
    """Per decode tick (the prefill left out): counts[t, p] the recurrences position p has after tick t (NaN when
    p is not in the wavefront), the wavefront width, the tokens committed so far, and the standing-wave flag."""

    counts: np.ndarray
    widths: tuple[int, ...]
    committed: tuple[int, ...]
    standing: tuple[bool, ...]


def wave_history(schedule: Schedule) -> WaveHistory:
    ticks = [t for t in schedule.ticks if not t.prefill]
    n_pos = max((r.pos for t in ticks for r in t.runs), default=-1) + 1
    counts = np.full((len(ticks), n_pos), np.nan)
    committed, done = [], 0
    for i, tick in enumerate(ticks):
        for run in tick.runs:
            counts[i, run.pos] = run.last
        done += len(tick.commits)
        committed.append(done)
    return WaveHistory(counts, tuple(len(t.runs) for t in ticks), tuple(committed), tuple(t.standing for t in ticks))


def synthetic_exit_depths(first: int, count: int, seed: int = 0, typical: tuple[int, int] = (8, 20),
                          hard_share: float = 0.12, hard: tuple[int, int] = (48, 64)) -> dict[int, int]:
    """Convergence depth of positions first..first+count-1: uniform in `typical`, or with probability
    `hard_share` uniform in `hard` (a seeded toy model of positions that converge late)."""
    require_int("first", first, 0)
    require_int("count", count, 0)
    if not 0 <= hard_share <= 1:
        raise ValueError(f"hard_share={hard_share!r} must lie in [0, 1]")
    for name, (low, high) in (("typical", typical), ("hard", hard)):
        if not 1 <= low <= high:
            raise ValueError(f"{name}={(low, high)!r} must satisfy 1 <= low <= high")
    rng = random.Random(seed)
    return {p: rng.randint(*hard) if rng.random() < hard_share else rng.randint(*typical)
            for p in range(first, first + count)}


@dataclass(frozen=True)
class WaveRuns:
    """Schedules of one prompt under several rules, with the recurrences each run position needed to converge."""

    cap: int
    schedules: dict[str, Schedule]
    needed: dict[str, dict[int, int]]


def early_commits(schedule: Schedule, needed: Mapping[int, int]) -> int:
    """Positions run in the wave that left it with fewer recurrences than they needed (committed unconverged)."""
    return sum(1 for p, n in schedule.depths().items() if p in needed and n < needed[p])


def wave_runs(prompt_len: int = 4, n_new: int = 32, inner: int = DF_DEFAULTS.inner, depth: int = DF_DEFAULTS.depth,
              cap: int = 8,
              seed: int = 0) -> WaveRuns:
    """The fixed rule (exit after r recurrences) and the synthetic adaptive rule (typical positions converge
    after r/4 to 5r/8 recurrences, hard ones after 3r/2 to 2r; forced out at 2r) under the contiguous and the
    rightmost commit rules, same prompt, r' and cap."""
    require_int("n_new", n_new, 1)
    require_int("depth", depth, 2)
    depths = synthetic_exit_depths(prompt_len, n_new, seed, typical=(max(1, depth // 4), max(1, 5 * depth // 8)),
                                   hard=(depth + depth // 2, 2 * depth))
    adaptive = dict(max_depth=2 * depth, prefill_depth=depth, cap=cap)
    fixed = f"fixed rule, exit at r={depth}"
    schedules = {
        fixed: df_schedule(prompt_len, n_new, inner, depth, cap=cap),
        "adaptive, contiguous prefix (Eq. 3)": df_schedule(prompt_len, n_new, inner, depths.__getitem__, **adaptive),
        "adaptive, rightmost (Algorithm 2)": df_schedule(prompt_len, n_new, inner, depths.__getitem__,
                                                         rightmost=True, **adaptive),
    }
    needed = {name: dict.fromkeys(depths, depth) if name == fixed else dict(depths) for name in schedules}
    return WaveRuns(cap, schedules, needed)


def wavefront_figure(runs: WaveRuns) -> Any:
    """Top: recurrence counts over (position, tick), ticks running downward as in the paper's Fig. 4. Bottom:
    wavefront width (cap dashed, standing waves marked) and tokens committed per tick."""
    histories = {name: wave_history(s) for name, s in runs.schedules.items()}
    cap = runs.cap
    fig, axes = new_figure(2, len(histories), width=4.2 * len(histories), height=7.0, squeeze=False)
    vmax = max(float(np.nanmax(h.counts)) for h in histories.values())
    image = None
    for col, (name, h) in enumerate(histories.items()):
        top, bottom = axes[0][col], axes[1][col]
        image = top.imshow(h.counts, aspect="auto", cmap="magma_r", vmin=0, vmax=vmax, interpolation="nearest")
        image.set_gid(f"occupancy:{name}")
        early = early_commits(runs.schedules[name], runs.needed[name])
        top.set_title(f"{name}\n{len(h.widths)} ticks, {sum(h.standing)} standing waves, {early} committed "
                      "unconverged", fontsize=9)
        top.set_xlabel("position")
        top.set_ylabel("tick")
        ticks = np.arange(1, len(h.widths) + 1)
        bottom.step(ticks, h.widths, where="mid", label="wavefront width", gid=f"width:{name}")
        bottom.axhline(cap, color="grey", linestyle="--", linewidth=0.8, label=f"cap {cap}")
        stood = ticks[np.array(h.standing, dtype=bool)]
        bottom.plot(stood, [cap] * len(stood), "v", color="crimson", markersize=4, label="standing wave")
        bottom.plot(ticks, h.committed, color="seagreen", label="tokens committed")
        bottom.set_xlabel("tick")
        bottom.legend(fontsize=7, loc="upper left")
    fig.colorbar(image, ax=axes[0].tolist(), label="recurrences done")
    return fig
