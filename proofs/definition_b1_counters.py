"""Definition B.1 (depth and width), made exact; rdtheory/theory/counters.py.

Statement. Let A_g be the positions active in serial step g (1-based), H_t = A_{t+1} the hidden states held after t
steps, d_t = t and w_t = |H_t|. Count the events per position: e^(t) = #{p : p's first step is t + 2} (entries)
and x^(t) = #{p : p's last step is t + 1} (exits). If every position is active in one unbroken interval of steps,
then w_{t+1} = w_t + e^(t) - x^(t) for every t, the events equal the set-difference form
e^(t) = |A_{t+2} minus A_{t+1}|, x^(t) = |A_{t+1} minus A_{t+2}|, w_0 = L_0 after a full prefill of L_0 positions,
and w_T = 0 after the last step. Every schedule the constructors build (AR, adaptive AR, DF) has that property, at
pass and at tick granularity; a position that pauses and resumes breaks the update
(tests/theory/test_counters.py). Remark B.2 (all states in H_t share depth d_t) holds by definition: depth counts
serial steps of the whole computation, not recurrences of a position; a position's own recurrence count can
differ between positions of the same H_t, which is DF's per-position noise level.

Proof. (1) If p is active exactly in steps f..l, then p is in A_{t+2} but not A_{t+1} iff t + 2 = f, and in A_{t+1}
but not A_{t+2} iff t + 1 = l; summing over p, the per-position events are the set-difference ones. (2) For any
sets A = A_{t+1}, B = A_{t+2} with n = |A ∩ B|: |B| = n + |B minus A| and |A| = n + |A minus B|, so
|B| = |A| + |B minus A| - |A minus B| (bookkeeping, below). (3) The prefill's first pass processes the L_0 prompt
positions; nothing is active after the last step. Step (1) is a counting argument, not symbolic, and the
interval property is a property of the constructors: both are checked numerically below, per position, on
concrete schedules (and over generated ones in tests/theory/test_counters.py).
"""

import itertools

import sympy as sp

from proofs._common import equal, holds
from rdtheory.theory import ar_schedule, df_schedule, pass_counters, tick_counters
from rdtheory.theory.counters import pass_active, set_difference_events, tick_active


def set_identity() -> None:
    """Bookkeeping: the set-difference events satisfy the width update for any two sets."""
    n, e, x = sp.symbols("n e x", integer=True, nonnegative=True)
    w_now, w_next = n + x, n + e  # |A| and |B| split by their intersection
    equal(w_next, w_now + e - x, "|B| = |A| + |B minus A| - |A minus B|")


def unbroken(active: tuple[frozenset[int], ...]) -> bool:
    """Whether every position is active in consecutive steps only."""
    steps: dict[int, list[int]] = {}
    for g, positions in enumerate(active, start=1):
        for p in positions:
            steps.setdefault(p, []).append(g)
    return all(s[-1] - s[0] + 1 == len(s) for s in steps.values())


def spot_checks() -> None:
    for p, n, inner, depth, cap, headway in itertools.product((1, 4), (1, 3, 6), (1, 2), (1, 3), (1, 3), (1, 2)):
        for s in (df_schedule(p, n, inner, depth, headway, cap, prefill_depth=depth),
                  df_schedule(p, n, inner, depth, headway, cap, full_prefill=False), ar_schedule(p, n, depth)):
            for c, active in ((pass_counters(s), pass_active(s)), (tick_counters(s), tick_active(s))):
                holds(unbroken(active), "every position is active in an unbroken interval of steps")
                holds((c.entries, c.exits) == set_difference_events(active), "per-position events = set differences")
                holds(c.updates_hold() and c.width[-1] == 0, "the width updates hold on every schedule")
            if s.ticks and s.ticks[0].prefill:
                holds(pass_counters(s).width[0] == p, "w_0 = L_0 with a full prefill")


def check() -> None:
    set_identity()
    spot_checks()


if __name__ == "__main__":
    check()
