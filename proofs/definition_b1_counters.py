"""Definition B.1 (depth and width), made exact; rdtheory/theory/counters.py.

Statement. Let A_g be the positions active in serial step g (1-based), H_t = A_{t+1} the hidden states held after t
steps, d_t = t, w_t = |H_t|, e^(t) = |A_{t+2} minus A_{t+1}| (entries) and x^(t) = |A_{t+1} minus A_{t+2}| (exits).
Then w_{t+1} = w_t + e^(t) - x^(t) for every t, w_0 = L_0 after a full prefill of L_0 positions, and w_T = 0 after
the last step. Remark B.2 (all states in H_t share depth d_t) holds by definition: depth counts serial steps of
the whole computation, not recurrences of a position.

Proof. With n = |A ∩ B|, |B| = n + |B minus A| and |A| = n + |A minus B| (checked below); the prefill's first pass
processes the L_0 prompt positions; nothing is active after the last step.
"""

import itertools

import sympy as sp

from proofs._common import equal, holds
from rdtheory.theory import ar_schedule, df_schedule, pass_counters, tick_counters


def set_identity() -> None:
    n, e, x = sp.symbols("n e x", integer=True, nonnegative=True)
    w_now, w_next = n + x, n + e  # |A| and |B| split by their intersection
    equal(w_next, w_now + e - x, "w_{t+1} = w_t + e^(t) - x^(t)")


def spot_checks() -> None:
    for p, n, inner, depth, cap, headway in itertools.product((1, 4), (1, 3, 6), (1, 2), (1, 3), (1, 3), (1, 2)):
        for s in (df_schedule(p, n, inner, depth, headway, cap, prefill_depth=depth),
                  df_schedule(p, n, inner, depth, headway, cap, full_prefill=False), ar_schedule(p, n, depth)):
            for c in (pass_counters(s), tick_counters(s)):
                holds(c.updates_hold() and c.width[-1] == 0, "the width updates hold on every schedule")
            if s.ticks and s.ticks[0].prefill:
                holds(pass_counters(s).width[0] == p, "w_0 = L_0 with a full prefill")


def check() -> None:
    set_identity()
    spot_checks()


if __name__ == "__main__":
    check()
