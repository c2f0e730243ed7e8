"""The AR limits of diffusion forcing (paper Sec. 3.3 and 3.5), with the settings they need;
rdtheory/theory/limits.py.

Statement. (Tick limit) If every position run needs at most r' recurrences (min(d_p, max_depth) <= r'; the paper's
"r' = r" is the fixed-rule case), headway is 1 (or cap is 1) and there is a full prefill, DF equals
`ar_schedule(depth=r')` tick for tick; without full prefill the same holds when cap >= P and the prompt positions
also need at most r', except that DF's first tick is not flagged as a prefill. (Pass limit) With full prefill
and cap 1, DF computes the same cells in the same global passes, and commits the same tokens at the same passes,
as adaptive AR whose position p runs ceil(min(d_p, max_depth)/r')·r' recurrences.

Proof. Tick limit: after its first tick every wavefront position has n = r' >= its need, so the whole wavefront
exits under either commit rule; with headway 1 (or cap 1) exactly one new position enters, so every tick runs
one position from step 1 to r' and commits its successor, which is an AR tick. Without full prefill, cap >= P
puts the whole prompt in the first tick, which is then AR's prefill at depth r'. Headway >= 2 with cap >= 2
admits placeholder positions beside the head and breaks the limit. Pass limit: with cap 1 the wavefront is one
position, which runs r' recurrences per tick in consecutive passes until n >= min(d_p, max_depth), then commits;
the next position enters in the next tick. ceil(d/r')·r' >= d with equality iff r' divides d (checked below), so
"wavefront 1 recovers adaptive AR" holds for adaptive AR that checks its exit every r' steps.
"""

import itertools

import sympy as sp

from proofs._common import equal, holds, positive
from rdtheory.theory import df_schedule, pass_limit, same_passes, tick_limit


def rounding_steps() -> None:
    q, r1, j1, gap = sp.symbols("q r1 j1 gap", integer=True, nonnegative=True)
    inner = r1 + 1
    equal(sp.ceiling(q * inner / inner) * inner, q * inner, "r' | d: ceil(d/r') r' = d")
    j = j1 + 1
    inner = j + 1 + gap  # d = q r' + j with 1 <= j < r', so ceil(d/r') = q + 1
    positive(j / inner, "0 < j/r'")
    positive(1 - j / inner, "j/r' < 1")
    positive((q + 1) * inner - (q * inner + j), "r' does not divide d: ceil(d/r') r' > d")


def spot_checks() -> None:
    grid = itertools.product((1, 3), (0, 1, 2, 5), (1, 2, 4), (1, 2, 3, 5), (1, 2), (1, 2, 5), (None, 3),
                             (True, False), (True, False))
    for p, n, inner, depth, headway, cap, max_depth, full, rightmost in grid:
        pre = depth if full else None
        df = df_schedule(p, n, inner, depth, headway, cap, max_depth, full, pre, rightmost)
        ar = tick_limit(p, n, inner, depth, headway, cap, max_depth, full, pre)
        effective = min(depth, max_depth or depth)
        runs_any = n >= (2 if full else 1)
        expected = (effective <= inner or not runs_any) and (headway == 1 or cap == 1) and (full or cap >= p)
        holds((ar is not None) == expected, f"tick limit applies at {(p, n, inner, depth, headway, cap, full)}")
        holds(ar is None or df == ar, f"tick limit at {(p, n, inner, depth, headway, cap, max_depth, full)}")
        if full and cap == 1:
            holds(same_passes(df, pass_limit(p, n, inner, depth, 1, max_depth, pre)), "pass limit")
    profile = [1, 1, 5, 2, 7, 3, 1]
    holds(same_passes(df_schedule(1, 6, 2, profile, cap=1, prefill_depth=4),
                      pass_limit(1, 6, 2, profile, 1, None, 4)), "pass limit with a profile")


def check() -> None:
    rounding_steps()
    spot_checks()


if __name__ == "__main__":
    check()
