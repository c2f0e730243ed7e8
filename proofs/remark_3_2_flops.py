"""Remark 3.2 (computational cost): FLOP ratio and ideal speedup; rdtheory/theory/overhead.py.

Statement. With f one block pass over one position and prelude + coda costing pc·f per position per tick, the
fixed rule (df_schedule at any headway: drafts never held) costs DF K (r' + pc) f per new token against AR's
(D + pc) f, K = ceil(D/r'): the ratio is K (r' + 1)/(D + 1) for Huginn (pc = 1), which is the paper's
(r + r/r')/(r + 1) iff r' divides r (otherwise the paper undercounts). With cap >= K and headway 1, the serial
speedup over N new tokens is (N - 1)(D + 1)/((N - 2 + K)(r' + 1)) <= (D + 1)/(r' + 1), the paper's ideal, which
it approaches as N grows.

Proof. Every new token's position spends exactly K ticks in the wavefront (proofs/fixed_rule_closed_form.py),
computing K r' cells and K prelude/coda passes; AR computes D cells and one prelude/coda pass. Serially AR spends
D + 1 pass-equivalents per token and DF r' + 1 per tick, and DF needs N - 2 + K ticks for the N - 1 tokens after
the prefill (the last position enters in tick N - 1 and stays K ticks). The algebra is checked below.
"""

import itertools
from fractions import Fraction

import sympy as sp

from proofs._common import equal, holds, nonnegative
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


def spot_checks() -> None:
    for n, inner, depth, cap, headway in itertools.product((2, 3, 6), (1, 2, 3, 4), (1, 4, 6, 8), (1, 2, 8), (1, 2)):
        df, ar = df_schedule(1, n, inner, depth, headway, cap, prefill_depth=depth), ar_schedule(1, n, depth)
        for pc in (0, 1):
            holds(schedule_flop_ratio(df, ar, pc) == flop_ratio(depth, inner, pc), "flop ratio from schedules")
        holds((flop_ratio(depth, inner) == paper_flop_ratio(depth, inner)) == (depth % inner == 0), "paper's case")
        if headway == 1 and cap >= -(-depth // inner):
            speedup = Fraction(decode_serial_passes(ar), decode_serial_passes(df))
            holds(speedup == fixed_rule_speedup(n, depth, inner), "serial speedup from schedules")


def check() -> None:
    ratio_steps()
    spot_checks()


if __name__ == "__main__":
    check()
