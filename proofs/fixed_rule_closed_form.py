"""Lemma (the fixed rule in closed form) and the token lead; supports Theorem 4.4 and Remark 3.2.

Statement. For df_schedule with one exit depth r, D = min(r, max_depth), K = ceil(D/r'), full prefill, headway 1,
cap W and c = min(W, K), number the DF ticks from 1 after the prefill. Position P + i (i = 0..N-2) enters in tick
e_i = 1 + floor(i/c)·K + (i mod c) and exits, committing token P + i + 1, in tick x_i = e_i + K - 1. Under equal
pass times (widths <= L*), DF has committed at least as many tokens as AR at depth D after every number of
passes iff r' divides D (or N <= 1).

Proof. Counts grow by r' per tick, so P + i has converged exactly in its K-th tick; every earlier position entered
no later and has converged too, so the contiguous prefix (and the rightmost rule, which coincides here) takes
it then: x_i = e_i + K - 1. With headway 1 at most one position enters per tick, after the first tick at whose
end fewer than W positions remain; those left after tick t are the j < i with x_j > t, and x is increasing, so
e_i = 1 + max(e_{i-1}, x_{i-W}) (x of a negative index = 0). The closed form satisfies this recurrence: for
W >= K the second term never wins and e_i = i + 1; for W < K write i = a·W + m and check m >= 1 and m = 0 below.
Token lead: DF commits token P + i + 1 after x_i·r' decode passes, AR after (i + 1)·D. If D = K r',
(i + 1)·D - x_i·r' = r'·(a·K·(c - 1) + m·(K - 1)) >= 0 for i = a·c + m. If not, write D = (K - 1) r' + j with
1 <= j < r': DF commits token P + 1 after x_0 r' = K r' decode passes and AR after D, and K r' - D = r' - j > 0,
so DF's first new token comes K r' - D passes late. The recurrence's two cases and the two token-lead cases are
symbolic (below); that the closed form satisfies the recurrence for every i, and the recurrence itself, are
counting arguments checked numerically on concrete schedules (below and in tests/theory/test_decoding.py).
"""

import itertools

import sympy as sp

from proofs._common import equal, holds, nonnegative, positive
from rdtheory.theory import (
    TimeModel,
    ar_schedule,
    df_schedule,
    fixed_rule_entry_tick,
    fixed_rule_exit_tick,
    tokens_never_behind,
)


def recurrence_steps() -> None:
    a, m1, k1 = sp.symbols("a m1 k1", integer=True, nonnegative=True)
    c = sp.symbols("c", integer=True, positive=True)
    K = c + 1 + k1  # the cap binds: c = W < K
    entry = lambda q, r: 1 + q * K + r  # noqa: E731  e for i = q·c + r, 0 <= r < c
    # case m >= 1: i - 1 = a c + (m - 1), i - c = (a - 1) c + m
    m = m1 + 1
    prev, back = entry(a, m - 1), entry(a - 1, m) + K - 1
    equal(prev, back, "case m >= 1: both terms of the recurrence agree")
    equal(1 + prev, entry(a, m), "case m >= 1: e_i = 1 + e_{i-1}")
    # case m = 0 (a >= 1): i - 1 = (a - 1) c + (c - 1), i - c = (a - 1) c
    a1 = a + 1
    prev, back = entry(a1 - 1, c - 1), entry(a1 - 1, 0) + K - 1
    nonnegative(back - prev, "case m = 0: the departure term wins (K >= c)")
    equal(1 + back, entry(a1, 0), "case m = 0: e_i = 1 + x_{i-c}")


def token_lead_steps() -> None:
    a, m, k1, c1, r = sp.symbols("a m k1 c1 r", integer=True, nonnegative=True)
    K, c, inner = k1 + 1, c1 + 1, r + 1
    i = a * c + m
    exit_tick = (a + 1) * K + m
    lead = (i + 1) * K * inner - exit_tick * inner
    equal(lead, inner * (a * K * (c - 1) + m * (K - 1)), "AR minus DF passes to token P + i + 1")
    nonnegative(a * K * (c - 1) + m * (K - 1), "DF is never behind when r' divides D")
    # r' does not divide D: D = (K - 1) r' + j with 1 <= j < r'
    j1, gap = sp.symbols("j1 gap", integer=True, nonnegative=True)
    j = 1 + j1
    inner_nd = j + 1 + gap  # r' > j
    depth = k1 * inner_nd + j  # K - 1 = k1
    first_df, first_ar = exit_tick.subs({a: 0, m: 0}) * inner_nd, depth  # x_0
    equal(first_df, K * inner_nd, "DF commits token P + 1 after x_0 r' = K r' decode passes")
    equal(first_df - first_ar, inner_nd - j, "K r' - D = r' - j")
    positive(first_df - first_ar, "DF's first token is late when r' does not divide D")


def spot_checks() -> None:
    for n, inner, depth, cap in itertools.product((2, 4, 7), (1, 2, 3), (1, 3, 4, 6), (1, 2, 3, 8)):
        k = -(-depth // inner)
        df = df_schedule(2, n, inner, depth, cap=cap, prefill_depth=depth)
        first = {}
        for t, tick in enumerate(df.ticks):
            for p in tick.positions:
                first.setdefault(p, t)
        commits = df.commit_ticks()
        for i in range(n - 1):
            holds(first[2 + i] == fixed_rule_entry_tick(i, k, cap), f"entry tick of {i} at {(n, inner, depth, cap)}")
            holds(commits[3 + i] == fixed_rule_exit_tick(i, k, cap), f"exit tick of {i} at {(n, inner, depth, cap)}")
        lead = tokens_never_behind(df, ar_schedule(2, n, depth), TimeModel(cap))
        holds(lead == (depth % inner == 0), f"token lead iff r' | D at {(n, inner, depth, cap)}")


def check() -> None:
    recurrence_steps()
    token_lead_steps()
    spot_checks()


if __name__ == "__main__":
    check()
