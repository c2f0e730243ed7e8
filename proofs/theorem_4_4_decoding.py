"""Theorem 4.4 (depth versus width in decoding), precise version; rdtheory/theory/decoding.py.

Statement. Let AR and DF be one-row schedules of the same prompt that start with the same prefill tick, AR
running one position per later tick, and let every DF pass after the prefill have width <= L* (cap <= L*
suffices). Under tau(w) = t0 max(1, w/L*), for every budget 0 <= T < min(end_AR, end_DF): (a) d_DF(T) = d_AR(T);
(b) w_DF(T) >= w_AR(T); (c) work_DF(T) >= work_AR(T), strictly iff T has reached the end of DF's first
post-prefill pass of width >= 2. For the fixed rule (D = min(r, max_depth)) such a pass exists iff cap >= 2,
N >= 3 and (D > r' or (headway >= 2 and N >= 4)). It fails for r' >= D with headway 1 (DF = AR; r = 1 is this
case), for widths > L* (depth falls behind), and in the paper's pointwise reading w_DF(T) > w_AR(T) (false
during the prefill and right after it, when the DF wavefront is the single head position).

Proof.
(1) For 1 <= w <= L*, tau(w) = t0; for w > L*, tau(w) > t0 (checked below).
(2) Both schedules start with the same prefill tick, so their first passes have the same widths and end at the
    same times. After the prefill AR's passes have width 1 <= L* and DF's have width <= L*, so every later pass of
    either takes t0. By induction on g, pass g ends at the same time S_g in both, for every g up to the shorter
    run; d(T) = #{g : S_g <= T} gives (a).
(3) w(T) = w_{d(T)} is the width of pass d(T) + 1: equal during the prefill, then 1 for AR and >= 1 for DF, whose
    wavefront is never empty while tokens are missing: (b).
(4) work(T) sums the widths of the passes g <= d(T), the same g in both by (a); the prefill terms cancel and every
    later term contributes w_g^DF - 1 >= 0, which is >= 1 exactly for passes of width >= 2: (c).
(5) Fixed rule: every position spends exactly K = ceil(D/r') ticks in the wavefront
    (proofs/fixed_rule_closed_form.py). With headway 1 the front is {P} until the first append, and the width
    reaches 2 iff a position is still present when the next enters: K >= 2, cap >= 2 and a second position to run
    (N >= 3). With headway >= 2 and D <= r', two positions enter together after the first tick iff cap >= 2 and
    N - 2 >= 2.
"""

import itertools

import sympy as sp

from proofs._common import equal, holds, larger, positive
from rdtheory.theory import (
    TimeModel,
    ar_schedule,
    compare_decoding,
    decode_widths,
    decoding_premises,
    df_schedule,
    fixed_rule_has_parallel_pass,
    theorem_4_4,
)


def time_model_steps() -> None:
    t0, l_star = sp.symbols("t0 L_star", positive=True)
    k = sp.symbols("k", nonnegative=True)
    narrow = l_star - k  # any width up to L* (the theorem also needs it >= 1, which does not matter here)
    tau = t0 * larger(sp.Integer(1), narrow / l_star, "max(1, w/L*) for w <= L*")
    equal(tau, t0, "tau(w) = t0 for w <= L*")
    wide = l_star + k + 1
    tau_wide = t0 * larger(sp.Integer(1), wide / l_star, "max(1, w/L*) for w > L*")
    positive(tau_wide - t0, "tau(w) > t0 for w > L*")
    extra = sp.symbols("u", nonnegative=True, integer=True)
    positive((2 + extra) - 1, "a pass of width >= 2 adds at least one hidden state over AR's width 1")


def spot_checks() -> None:
    for p, n, inner, depth, headway, cap in itertools.product((1, 3), (1, 3, 4, 6), (1, 2, 3), (1, 2, 5),
                                                            (1, 2), (1, 2, 4)):
        df = df_schedule(p, n, inner, depth, headway, cap, prefill_depth=depth)
        ar = ar_schedule(p, n, depth)
        for l_star in (cap, cap + 1):
            model = TimeModel(l_star)
            holds(not decoding_premises(df, ar, model) and theorem_4_4(df, ar, model),
                  f"Theorem 4.4 on df_schedule{(p, n, inner, depth, headway, cap)}, L*={l_star}")
            holds(not compare_decoding(df, ar, model).width_strictly_greater, "pointwise strict width fails")
        holds((max(decode_widths(df), default=0) >= 2) == fixed_rule_has_parallel_pass(n, inner, depth, headway, cap),
              f"parallel-pass characterisation at {(n, inner, depth, headway, cap)}")
    wide = df_schedule(1, 6, 1, 4, cap=4, prefill_depth=4)
    holds(not compare_decoding(wide, ar_schedule(1, 6, 4), TimeModel(2)).equal_depth, "W > L* loses equal depth")
    holds(df_schedule(2, 6, 1, 1, cap=4, prefill_depth=1) == ar_schedule(2, 6, 1), "r = 1: DF is AR")


def check() -> None:
    time_model_steps()
    spot_checks()


if __name__ == "__main__":
    check()
