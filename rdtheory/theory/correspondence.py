"""The diffusion reading of recurrent depth: diffusion time of a cell, diffusion forcing's per-position noise
levels, the noise schedules mixed into the states, and the embedding EMA as a filter.

Reading (paper Sec. 3.1, 3.4): a fresh state is pure noise and each recurrence denoises it; a position that has
had n of its D recurrences sits at diffusion time D - n (recurrences remaining), noise level (D - n)/D. Diffusion
forcing (Chen et al. 2024) gives each token its own level, rising toward the future: in every DF tick the
wavefront's counts are non-increasing from left to right (later positions entered later), strictly decreasing
with headway 1 and full prefill, so levels rise to the right and the wavefront is a diagonal of the grid.

Noise schedules, per position as functions of its count n (mixed in before each tick, so n = 0, r', 2r', ...):
Constant beta0; Dampened beta0/(1 + n) (the reference code's); Linear beta0·max(0, 1 - n/D) (the paper's "linear
in steps at each position"). Mixing: z <- (1 - beta) z + beta·noise (Eq. 2; shrinks the variance) or the
variance-preserving sqrt(1 - beta) z + sqrt(beta)·noise. EMA (Eq. 1): e_t = P_t + eta (e_{t-1} - P_t) for a
position present in the previous tick, e = P for a new one (the reference code uses (1 - eta) P, a transient).
Knows nothing of tensors: states and embeddings here are real numbers.
"""

import math
from collections.abc import Sequence
from fractions import Fraction

from rdtheory.theory.checks import require_int, require_real
from rdtheory.theory.grid import Cell
from rdtheory.theory.schedule import Schedule


def diffusion_time(cell: Cell, depth: int) -> int:
    """Recurrences that remain after `cell` for a position that runs `depth` in all (0 once it has reached it)."""
    return max(0, require_int("depth", depth, 1) - cell.step)


def noise_level(count: int, depth: int) -> Fraction:
    """(D - n)/D clipped at 0: 1 for a fresh state, 0 once the position has had D recurrences."""
    d = require_int("depth", depth, 1)
    return Fraction(max(0, d - require_int("count", count, 0)), d)


def tick_counts(schedule: Schedule) -> tuple[tuple[tuple[int, int], ...], ...]:
    """Per tick, (position, recurrences done before the tick) for each position it runs, by position."""
    return tuple(tuple((r.pos, r.first - 1) for r in t.runs) for t in schedule.ticks)


def tick_noise_levels(schedule: Schedule, depth: int) -> tuple[dict[int, Fraction], ...]:
    """Per tick, the noise level of each position it runs, at the start of the tick."""
    return tuple({p: noise_level(n, depth) for p, n in tick} for tick in tick_counts(schedule))


def levels_rise_to_the_right(schedule: Schedule, strictly: bool = False) -> bool:
    """In every tick, counts are non-increasing (strictly: decreasing) from left to right, so noise levels are
    non-decreasing (increasing) to the right, whatever the reference depth."""
    for tick in tick_counts(schedule):
        counts = [n for _, n in tick]
        if any(b > a or (strictly and b == a) for a, b in zip(counts, counts[1:])):
            return False
    return True


def constant_beta(beta0: float, count: int) -> float:
    require_int("count", count, 0)
    return require_real("beta0", beta0, 0, 1)


def dampened_beta(beta0: float, count: int) -> float:
    """beta0 / (1 + n): the reference implementation's schedule."""
    return require_real("beta0", beta0, 0, 1) / (1 + require_int("count", count, 0))


def linear_beta(beta0: float, depth: int, count: int) -> float:
    """beta0 · max(0, 1 - n / D): linear in the steps at a position, zero from D on."""
    require_real("beta0", beta0, 0, 1)
    d, n = require_int("depth", depth, 1), require_int("count", count, 0)
    return beta0 * max(0.0, 1 - n / d)


def mixing_weights(beta: float, variance_preserving: bool = False) -> tuple[float, float]:
    """(weight of the state, weight of the noise): (1 - beta, beta), or (sqrt(1 - beta), sqrt(beta))."""
    require_real("beta", beta, 0, 1)
    return (math.sqrt(1 - beta), math.sqrt(beta)) if variance_preserving else (1 - beta, beta)


def mix(state: float, noise: float, beta: float, variance_preserving: bool = False) -> float:
    a, b = mixing_weights(beta, variance_preserving)
    return a * state + b * noise


def mixed_variance(state_var: float, noise_var: float, beta: float, variance_preserving: bool = False) -> float:
    """Variance after mixing independent state and noise: a² v + b² sigma²."""
    a, b = mixing_weights(beta, variance_preserving)
    return a * a * state_var + b * b * noise_var


def ema_embeddings(inputs: Sequence[float], eta: float, shrink_new: bool = False) -> list[float]:
    """The injected embedding of one position over the ticks it is present, given its prelude outputs P_t:
    e_0 = P_0 ((1 - eta) P_0 with `shrink_new`, as the reference code), e_t = P_t + eta (e_{t-1} - P_t)."""
    require_real("eta", eta, 0, 1, open_high=True)
    out: list[float] = []
    for t, p in enumerate(inputs):
        out.append(((1 - eta) * p if shrink_new else p) if t == 0 else p + eta * (out[-1] - p))
    return out


def ema_impulse_response(eta: float, lag: int) -> float:
    """Response of e_{t+lag} to a unit change of P_t alone, for a position present before t: (1 - eta) eta^lag."""
    require_real("eta", eta, 0, 1, open_high=True)
    return (1 - eta) * eta ** require_int("lag", lag, 0)


def ema_step_response(eta: float, lag: int) -> float:
    """Response of e_{t+lag} to a unit step of P from t on: 1 - eta^(lag + 1)."""
    require_real("eta", eta, 0, 1, open_high=True)
    return 1 - eta ** (require_int("lag", lag, 0) + 1)
