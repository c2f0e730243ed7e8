"""Remark 3.2 (computational cost): FLOP ratio and ideal speedup; rdtheory/theory/overhead.py.

Statement. With f one block pass over one position and prelude + coda costing pc·f per position per tick, the
fixed rule (df_schedule at any headway: drafts never held) costs DF K (r' + pc) f per new token against AR's
(D + pc) f, K = ceil(D/r'): the ratio is K (r' + 1)/(D + 1) for Huginn (pc = 1), which is the paper's
(r + r/r')/(r + 1) iff r' divides r (otherwise the paper undercounts). It exceeds 1 for every r' != D (for r' > D
a position runs r' > D recurrences in its one tick), and so does the paper's own ratio for r' < r: the paper's
"equivalent total FLOP requirements" holds only when DF is AR. With cap >= K and headway 1, the serial speedup
over N new tokens is (N - 1)(D + 1)/((N - 2 + K)(r' + 1)) <= (D + 1)/(r' + 1), the paper's ideal, which it
approaches as N grows.

Proof. Every new token's position spends exactly K ticks in the wavefront (proofs/fixed_rule_closed_form.py),
computing K r' cells and K prelude/coda passes; AR computes D cells and one prelude/coda pass. Serially AR spends
D + 1 pass-equivalents per token and DF r' + 1 per tick, and DF needs N - 2 + K ticks for the N - 1 tokens after
the prefill (the last position enters in tick N - 1 and stays K ticks). For r' < D, K >= 2 and
K (r' + 1) - (D + 1) = (r' - j) + (K - 1) > 0 with D = (K - 1) r' + j, 1 <= j <= r'. The algebra is checked below;
that each position stays exactly K ticks is checked on concrete schedules (the FLOP counts from schedules).
"""

import itertools
from fractions import Fraction

import sympy as sp

from proofs._common import equal, holds, nonnegative, positive
from rdtheory.theory import (
    ar_schedule,
    decode_serial_passes,
    df_schedule,
    fixed_rule_speedup,
    flop_ratio,
    paper_flop_ratio,
    schedule_flop_ratio,
)


def ratio_steps() -> None:
    k, inner = sp.symbols("K r_inner", integer=True, positive=True)
    r = k * inner
    equal(k * (inner + 1) / (r + 1), (r + r / inner) / (r + 1), "K (r' + 1)/(r + 1) is the paper's ratio when r' | r")
    n1, k1 = sp.symbols("n1 k1", integer=True, nonnegative=True)
    n, kk = n1 + 2, k1 + 1
    depth = sp.symbols("D", integer=True, positive=True)
    speedup = (n - 1) * (depth + 1) / ((n - 2 + kk) * (inner + 1))
    ideal = (depth + 1) / (inner + 1)
    nonnegative(ideal - speedup, "the speedup never exceeds (D + 1)/(r' + 1)")
    nn = sp.symbols("N", positive=True)
    equal(sp.limit((nn - 1) * (depth + 1) / ((nn - 2 + kk) * (inner + 1)), nn, sp.oo), ideal, "limit N -> oo")
    # never "equivalent total FLOPs" for r' < D: D = (K - 1) r' + j, 1 <= j <= r', K >= 2
    k2, j1, slack = sp.symbols("k2 j1 slack", integer=True, nonnegative=True)
    big_k, j = 2 + k2, 1 + j1
    q = j + slack  # r' >= j
    d = (big_k - 1) * q + j
    equal(big_k * (q + 1) - (d + 1), (q - j) + (big_k - 1), "K (r' + 1) - (D + 1) = (r' - j) + (K - 1)")
    positive(big_k * (q + 1) - (d + 1), "r' < D: DF costs strictly more FLOPs than AR (ratio > 1)")
    r_inner, extra = sp.symbols("q x", positive=True)
    paper = (r_inner + extra + (r_inner + extra) / r_inner) / (r_inner + extra + 1)  # r = r' + x > r'
    equal(paper - 1, extra / (r_inner * (r_inner + extra + 1)), "the paper's ratio minus 1 = (r/r' - 1)/(r + 1)")
    positive(paper - 1, "the paper's own ratio exceeds 1 for r' < r")


def spot_checks() -> None:
    for n, inner, depth, cap, headway in itertools.product((2, 3, 6), (1, 2, 3, 4), (1, 4, 6, 8), (1, 2, 8), (1, 2)):
        df, ar = df_schedule(1, n, inner, depth, headway, cap, prefill_depth=depth), ar_schedule(1, n, depth)
        for pc in (0, 1):
            holds(schedule_flop_ratio(df, ar, pc) == flop_ratio(depth, inner, pc), "flop ratio from schedules")
        holds((flop_ratio(depth, inner) == paper_flop_ratio(depth, inner)) == (depth % inner == 0), "paper's case")
        holds((flop_ratio(depth, inner) > 1) == (inner != depth), "equal FLOPs only when DF is AR (r' = D)")
        if headway == 1 and cap >= -(-depth // inner):
            speedup = Fraction(decode_serial_passes(ar), decode_serial_passes(df))
            holds(speedup == fixed_rule_speedup(n, depth, inner), "serial speedup from schedules")


def check() -> None:
    ratio_steps()
    spot_checks()


if __name__ == "__main__":
    check()
