"""DF is diffusion forcing: per-position noise levels rise to the right; rdtheory/theory/correspondence.py.

Statement. Read a position with n of D recurrences as being at noise level (D - n)/D (diffusion time D - n). In
every DF tick, the counts of the wavefront positions are non-increasing from left to right, so their noise
levels are non-decreasing to the right; with headway 1 and full prefill they strictly decrease, with gaps that
are multiples of r' (the front is a diagonal of the grid, Fig. 1).
Proof. Positions enter at the right end in increasing order, a new one with count 0, and every tick adds r' to
every wavefront position; exits remove a prefix. So if p < q are both in the wavefront, p entered no later than q
and n_p - n_q = r' (e_q - e_p) >= 0, strictly when they entered in different ticks, which headway 1 ensures
(the prompt entering in one tick without full prefill is the exception).
"""

import itertools

import sympy as sp

from proofs._common import holds, nonnegative, positive
from rdtheory.theory import Schedule, df_schedule, levels_rise_to_the_right, tick_counts


def steps() -> None:
    inner = sp.symbols("r_inner", integer=True, positive=True)
    t, e_p, gap = sp.symbols("t e_p gap", integer=True, nonnegative=True)
    n = lambda entry: inner * (t - entry)  # noqa: E731  count before tick t of a position that entered at `entry`
    nonnegative(n(e_p) - n(e_p + gap), "n_p >= n_q when p entered no later")
    positive(n(e_p) - n(e_p + 1 + gap), "n_p > n_q when q entered later")
    d, count = sp.symbols("D n", positive=True)
    positive((d - count) / d - (d - count - inner) / d, "r' fewer recurrences: a higher noise level")


def spot_checks() -> None:
    for p, n, inner, depth, headway, cap, full in itertools.product((1, 3), (2, 5), (1, 2), (2, 5), (1, 2), (1, 4),
                                                                   (True, False)):
        s = df_schedule(p, n, inner, depth, headway, cap, full_prefill=full, prefill_depth=depth if full else None)
        holds(levels_rise_to_the_right(s), "levels rise to the right")
        decode = Schedule(p, s.ticks[full:])
        if full and headway == 1:
            holds(levels_rise_to_the_right(decode, strictly=True), "strictly with headway 1 and full prefill")
            holds(all((a - b) % inner == 0 for tick in tick_counts(decode)
                      for (_, a), (_, b) in zip(tick, tick[1:])), "gaps are multiples of r'")


def check() -> None:
    steps()
    spot_checks()


if __name__ == "__main__":
    check()
