"""Theorem 4.2 (depth versus width scaling in prefilling), parts (2) and (3) made precise;
rdtheory/theory/prefill.py.

Statement. (2) Complexity. With a the cost of one attention pair, the same linear cost (s L positions) in all
three, causal depth passes (a query attends to itself) and width masks in which copy j of token i attends to
copies 1..j of token i (itself included, ours): E_KVShare - E_Depth = a L s (s - 1)/2 and
E_NoShare - E_KVShare = a s (s - 1) L (L - 1)/2, so E_Depth <= E_KVShare <= E_NoShare, the first strict iff
s >= 2, the second iff s >= 2 and L >= 2 (the paper's strict "<" needs both). With the paper's literal width
masks (copies 1..j - 1, include_self=False): E_KVShare - E_Depth = a s L (s - 3)/2, so E_Depth > E_KVShare
(by a L) at s = 1 and s = 2, they are equal at s = 3, and E_Depth <= E_KVShare iff s >= 3; E_NoShare - E_KVShare
is unchanged. Under either mask E_Depth and E_KVShare are a s L²/2 to leading order in L.
(3) Parallelism under tau(w) = t0 max(1, w/L*), depth = s passes of width L, width = one
pass of width s L: width over depth in positions per unit time is s for sL <= L*, L*/L for L <= L* <= sL and 1 for
L >= L*; in hidden states in flight per unit latency it is s², s L*/L and s. So "s² times the parallelism below L*,
similar beyond" mixes the two readings: s² holds for the second and only while sL <= L*; "similar" (ratio 1)
holds for the first. (1) Expressiveness is not formalised; we record only that depth scaling composes the block
s times on every path and width scaling once (depth_schedule has s serial passes, width_schedule one).

Proof. Count the pairs of Definition B.3's masks (copy j of token i attends to copies 1..j of token i, itself
included, and to every copy (NoShare) or the last copy (KVShare) of each earlier token) and of s causal passes:
    pairs_Depth = s L (L + 1)/2,  pairs_KVShare = s L (L - 1)/2 + L s (s + 1)/2,
    pairs_NoShare = s² L (L - 1)/2 + L s (s + 1)/2  (double sums checked below).
The literal masks drop the s L self pairs: their own-token term is L s (s - 1)/2 (double sums checked below).
For (3), resolve both maxima in each range of L (checked below).
"""

import itertools
from fractions import Fraction

import sympy as sp

from proofs._common import equal, holds, larger, nonnegative, positive
from rdtheory.theory import Scaling, TimeModel, attention_pairs, cost_order_holds, throughput_ratio, width_mask


def pair_counts() -> None:
    n, s = sp.symbols("L s", integer=True, positive=True)
    i, j = sp.symbols("i j", integer=True, nonnegative=True)
    no_share = sp.summation(sp.summation(s * i + j, (j, 1, s)), (i, 0, n - 1))
    kv_share = sp.summation(sp.summation(i + j, (j, 1, s)), (i, 0, n - 1))
    depth = s * sp.summation(i + 1, (i, 0, n - 1))
    equal(no_share, s**2 * n * (n - 1) / 2 + n * s * (s + 1) / 2, "NoShare pairs")
    equal(kv_share, s * n * (n - 1) / 2 + n * s * (s + 1) / 2, "KVShare pairs")
    equal(depth, s * n * (n + 1) / 2, "depth pairs")
    equal(kv_share - depth, n * s * (s - 1) / 2, "E_KVShare - E_Depth per unit attention cost")
    equal(no_share - kv_share, s * (s - 1) * n * (n - 1) / 2, "E_NoShare - E_KVShare per unit attention cost")
    s1, s2, l1 = sp.symbols("s1 s2 l1", integer=True, nonnegative=True)
    nonnegative((kv_share - depth).subs(s, 1 + s1), "E_Depth <= E_KVShare")
    positive((kv_share - depth).subs(s, 2 + s2), "E_Depth < E_KVShare for s >= 2")
    nonnegative((no_share - kv_share).subs(s, 1 + s1), "E_KVShare <= E_NoShare")
    positive((no_share - kv_share).subs({s: 2 + s2, n: 2 + l1}), "E_KVShare < E_NoShare for s, L >= 2")
    # the paper's literal masks: copy j of token i attends to copies 1..j - 1 of token i
    literal_kv = sp.summation(sp.summation(i + j - 1, (j, 1, s)), (i, 0, n - 1))
    literal_no = sp.summation(sp.summation(s * i + j - 1, (j, 1, s)), (i, 0, n - 1))
    equal(literal_kv, s * n * (n - 1) / 2 + n * s * (s - 1) / 2, "literal KVShare pairs")
    equal(literal_kv, kv_share - s * n, "the literal mask drops the s L self pairs")
    equal(literal_kv - depth, s * n * (s - 3) / 2, "literal: E_KVShare - E_Depth = s L (s - 3)/2")
    equal(literal_no - literal_kv, no_share - kv_share, "E_NoShare - E_KVShare does not depend on the mask")
    positive((depth - literal_kv).subs(s, 1), "literal mask, s = 1: E_Depth > E_KVShare")
    positive((depth - literal_kv).subs(s, 2), "literal mask, s = 2: E_Depth > E_KVShare")
    equal((depth - literal_kv).subs(s, 3), 0, "literal mask, s = 3: E_Depth = E_KVShare")
    nonnegative((literal_kv - depth).subs(s, 3 + s1), "literal mask: E_Depth <= E_KVShare for s >= 3")
    for pairs in (depth, kv_share, literal_kv):
        holds(sp.limit(pairs / (s * n**2 / 2), n, sp.oo) == 1, "leading order s L²/2 under either mask")


def parallelism() -> None:
    n = sp.symbols("L", positive=True)
    s = 1 + sp.symbols("s1", nonnegative=True)
    k, j = sp.symbols("k j", nonnegative=True)

    def ratio(l_star: sp.Expr, s_: sp.Expr, n_: sp.Expr, case: str) -> sp.Expr:
        tau = lambda w: larger(sp.Integer(1), w / l_star, f"max(1, w/L*) in case {case}")  # noqa: E731
        return s_ * tau(n_) / tau(s_ * n_)

    equal(ratio(s * n + k, s, n, "sL <= L*"), s, "ratio s for sL <= L*")
    # L <= L* <= sL: L* = L + k and sL = L* + j
    l_star = n + k
    equal(ratio(l_star, (l_star + j) / n, n, "L <= L* <= sL"), l_star / n, "ratio L*/L in between")
    equal(ratio(sp.Symbol("Ls", positive=True), s, sp.Symbol("Ls", positive=True) + k, "L >= L*"), 1, "ratio 1")


def spot_checks() -> None:
    for n, s in itertools.product(range(1, 6), range(1, 5)):
        holds(len(width_mask(n, s, share=False)) == attention_pairs(Scaling.WIDTH_NO_SHARE, n, s), "NoShare mask")
        holds(len(width_mask(n, s, share=True)) == attention_pairs(Scaling.WIDTH_KV_SHARE, n, s), "KVShare mask")
        for share, scaling in ((False, Scaling.WIDTH_NO_SHARE), (True, Scaling.WIDTH_KV_SHARE)):
            holds(len(width_mask(n, s, share, include_self=False)) == attention_pairs(scaling, n, s, False),
                  "literal mask counted by the closed form")
        holds(cost_order_holds(n, s) and cost_order_holds(n, s, include_self=False) == (s >= 3),
              "the cost order under each mask")
    for l_star, n, s in itertools.product((2, 6, 12), range(1, 16), range(1, 5)):
        r = throughput_ratio(n, s, TimeModel(l_star))
        holds(r == (s if s * n <= l_star else Fraction(l_star, n) if n <= l_star else 1), "piecewise ratio")


def check() -> None:
    pair_counts()
    parallelism()
    spot_checks()


if __name__ == "__main__":
    check()
