"""Bound on the number of DF ticks, used as the sampler's safety limit; rdtheory/theory/wavefront.py.

Statement. If every position counts as converged once it has had max_depth recurrences, a DF run has at most
M·ceil(max_depth/r') ticks after the prefill, M = the number of positions run (N - 1 with full prefill, P + N - 1
without). The bound is attained with cap 1 when every position needs max_depth.

Proof. While tokens are missing the wavefront is never empty at the start of a tick: if it empties at the end of
one, some needed position is unadmitted (all admitted ones have exited, yet tokens are missing) and the cap
leaves room for it. The leftmost position has converged by its ceil(max_depth/r')-th tick, and it then exits
under both rules (it is in the contiguous prefix, and it is at or left of the rightmost converged position).
The commit budget never cuts the prefix, as no position beyond P + N - 2 is admitted. Positions are leftmost in
increasing order, each for at most ceil(max_depth/r') ticks. Hence the bound; with cap 1 each position is alone
for exactly that many ticks. Symbolic: the leftmost position's count after K = ceil(max_depth/r') ticks, K r',
reaches max_depth, and after K - 1 ticks it does not yet (below). The rest is a counting argument over ticks,
checked numerically on concrete schedules (below and in tests/theory/test_wavefront.py).
"""

import itertools

import sympy as sp

from proofs._common import equal, holds, nonnegative, positive
from rdtheory.theory import df_schedule, max_df_ticks


def counting_step() -> None:
    # max_depth = (K - 1) r' + j with 1 <= j <= r', so K = ceil(max_depth / r')
    k1, j1, slack = sp.symbols("k1 j1 slack", integer=True, nonnegative=True)
    j, inner = 1 + j1, 1 + j1 + slack  # 1 <= j <= r'
    k = 1 + k1
    max_depth = k1 * inner + j
    equal(max_depth / inner, k1 + j / inner, "max_depth / r' = (K - 1) + j/r'")
    positive(j / inner, "0 < j/r'")
    nonnegative(1 - j / inner, "j/r' <= 1, so ceil(max_depth / r') = K")
    nonnegative(k * inner - max_depth, "after K ticks the leftmost position has had >= max_depth recurrences")
    positive(max_depth - k1 * inner, "after K - 1 ticks it has had fewer (the bound is attained with cap 1)")


def spot_checks() -> None:
    for p, n, inner, cap, headway, full, rightmost in itertools.product((1, 3), (1, 2, 5), (1, 2, 3), (1, 2, 4),
                                                                       (1, 2), (True, False), (True, False)):
        for profile in ([4] * (p + n), [1, 4, 2, 4, 1, 3, 4, 2][: p + n] + [4] * 8):
            s = df_schedule(p, n, inner, profile, headway, cap, max_depth=4, full_prefill=full,
                            prefill_depth=4 if full else None, rightmost=rightmost)
            bound = max_df_ticks(p, n, inner, 4, full)
            holds(s.n_ticks - full <= bound, f"tick bound at {(p, n, inner, cap, headway, full, rightmost)}")
            if cap == 1 and profile[0] == 4:
                holds(s.n_ticks - full == bound, "the bound is attained with cap 1")


def check() -> None:
    counting_step()
    spot_checks()


if __name__ == "__main__":
    check()
