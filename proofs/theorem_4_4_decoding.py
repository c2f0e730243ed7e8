"""Theorem 4.4 (depth versus width in decoding), precise version; rdtheory/theory/decoding.py.

Statement. Let AR and DF be one-row schedules of the same prompt that start with the same prefill tick, AR
running one position per later tick, and let every DF pass after the prefill have width <= L* (cap <= L*
suffices). Under tau(w) = t0 max(1, w/L*) for a core pass, prelude and coda untimed, for every budget
0 <= T < min(end_AR, end_DF): (a) d_DF(T) = d_AR(T), d counting serial core passes; (b) w_DF(T) >= w_AR(T);
(c) work_DF(T) >= work_AR(T), strictly iff T has reached the end of DF's first post-prefill pass of width >= 2.
For the fixed rule (D = min(r, max_depth)) such a pass exists iff cap >= 2, N >= 3 and (D > r' or (headway >= 2
and N >= 4)); with headway >= 2 this is the schedule of `df_schedule`, in which a draft is never held (a position
converges by its count alone, the reference's behaviour), not that of a sampler that holds a non-head position
whose input draft disagrees with the token committed to its left. If the prelude and coda of each tick take time
(t_pc per tick), (a) for core passes fails whenever r' < D: with t_pc = t0, at T = end of prefill + (D + 1) t0 AR
has run D core passes and DF r'(D + 1)/(r' + 1) < D when r' + 1 divides D + 1 (fewer than D for every r' < D).
What holds instead is (a) for serial passes of any stage (prelude, core pass, coda each count one) when each
prelude and coda takes t0. The theorem also fails for r' >= D with headway 1 (DF = AR; r = 1 is this case), for
widths > L* (depth falls behind), and in the paper's pointwise reading w_DF(T) > w_AR(T) (false during the
prefill and right after it, when the DF wavefront is the single head position).

Proof.
(1) For 1 <= w <= L*, tau(w) = t0; for w > L*, tau(w) > t0 (sympy, below).
(2) Both schedules start with the same prefill tick, so their first passes have the same widths and end at the
    same times. After the prefill AR's passes have width 1 <= L* and DF's have width <= L*, so every later pass of
    either takes t0, and nothing else takes time. By induction on g, pass g ends at the same time S_g in both, for
    every g up to the shorter run; d(T) = #{g : S_g <= T} gives (a). The same induction over stage passes, each
    taking t0, gives (a) for passes of any stage.
(3) w(T) = w_{d(T)} is the width of pass d(T) + 1: equal during the prefill, then 1 for AR and >= 1 for DF, whose
    wavefront is never empty while tokens are missing: (b).
(4) work(T) sums the widths of the passes g <= d(T), the same g in both by (a); the prefill terms cancel and every
    later term contributes w_g^DF - 1 >= 0, which is >= 1 exactly for passes of width >= 2: (c).
(5) Fixed rule: every position spends exactly K = ceil(D/r') ticks in the wavefront
    (proofs/fixed_rule_closed_form.py). With headway 1 the front is {P} until the first append, and the width
    reaches 2 iff a position is still present when the next enters: K >= 2, cap >= 2 and a second position to run
    (N >= 3). With headway >= 2 and D <= r', two positions enter together after the first tick iff cap >= 2 and
    N - 2 >= 2 (in df_schedule; a held draft would stay longer).
(6) Timed prelude and coda, t_pc = t0 per tick: an AR tick takes (D + 1) t0 and ends with its D-th core pass done
    by then; a DF tick takes (r' + 1) t0, so by (D + 1) t0 DF has run q = (D + 1)/(r' + 1) whole ticks and q r'
    core passes; D - q r' = (D - r')/(r' + 1) > 0 for r' < D (sympy, below).
Steps (2)-(5) are counting arguments over the schedule; they are not symbolic and are checked on concrete
schedules below and over generated ones in tests/theory/test_decoding.py.
"""

import itertools
from fractions import Fraction

import sympy as sp

from proofs._common import equal, holds, larger, positive
from rdtheory.theory import (
    Timed,
    TimeModel,
    ar_schedule,
    compare_decoding,
    decode_widths,
    decoding_premises,
    df_schedule,
    fixed_rule_has_parallel_pass,
    stage_depth_premises,
    theorem_4_4,
    theorem_4_4_stage_depth,
    wavefront_bound,
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


def timed_stage_steps() -> None:
    t0 = sp.symbols("t0", positive=True)
    inner = 1 + sp.symbols("r1", integer=True, nonnegative=True)  # r' >= 1
    depth = inner + 1 + sp.symbols("k", integer=True, nonnegative=True)  # D > r'
    share = sp.symbols("a", nonnegative=True)
    prelude = t0 * share / (1 + share)  # any prelude time in [0, t0)
    coda = t0 - prelude  # prelude + coda = t0 per tick
    budget = (depth + 1) * t0
    positive(budget - (prelude + depth * t0), "AR's D-th core pass of its first decode tick ends by (D + 1) t0")
    positive((depth + 1) * t0 + prelude + t0 - budget, "and its (D + 1)-th (in the next tick) after it")
    equal(prelude + inner * t0 + coda, (inner + 1) * t0, "a DF tick takes (r' + 1) t0")
    ticks = (depth + 1) / (inner + 1)
    equal(ticks * (prelude + inner * t0 + coda), budget, "q = (D + 1)/(r' + 1) DF ticks fill the budget")
    equal(depth - ticks * inner, (depth - inner) / (inner + 1), "D - q r' = (D - r')/(r' + 1)")
    positive(depth - ticks * inner, "DF is behind AR in core passes when r' < D")


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
        holds(max(decode_widths(df), default=0) <= wavefront_bound(inner, depth, headway, cap),
              "W <= min(cap, headway ceil(D/r')) (Remark 4.5's W is not bounded by r)")
    wide = df_schedule(1, 6, 1, 4, cap=4, prefill_depth=4)
    holds(not compare_decoding(wide, ar_schedule(1, 6, 4), TimeModel(2)).equal_depth, "W > L* loses equal depth")
    holds(df_schedule(2, 6, 1, 1, cap=4, prefill_depth=1) == ar_schedule(2, 6, 1), "r = 1: DF is AR")
    for depth, inner in itertools.product(range(2, 8), range(1, 7)):
        if inner >= depth:
            continue
        df, ar = df_schedule(1, 9, inner, depth, prefill_depth=depth), ar_schedule(1, 9, depth)
        timed = TimeModel(16, 1, Fraction(1, 2), Fraction(1, 2))
        a, b = Timed(df, timed), Timed(ar, timed)
        budget = (depth + 1) + (depth + 1)  # prefill (prelude, D passes, coda) then (D + 1) t0
        behind = a.depth(budget) - depth, b.depth(budget) - depth
        holds(behind[1] == depth and behind[0] < depth, f"timed stages: DF behind in core passes at {depth, inner}")
        if (depth + 1) % (inner + 1) == 0:
            holds(behind[0] * (inner + 1) == inner * (depth + 1), f"DF at r'(D + 1)/(r' + 1) at {depth, inner}")
        each = TimeModel(16, 1, 1, 1)
        holds(not stage_depth_premises(df, ar, each) and theorem_4_4_stage_depth(df, ar, each),
              f"equal depth in passes of any stage at {depth, inner}")


def check() -> None:
    time_model_steps()
    timed_stage_steps()
    spot_checks()


if __name__ == "__main__":
    check()
