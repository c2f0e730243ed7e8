"""Proposition B.4 (both width variants are width scaling with factor s), precise version;
rdtheory/theory/prefill.py.

Statement. Take one block pass over L tokens (d = 1, w = L). Replicating each token s times and running the block
once under the NoShare or KVShare mask gives d~ = 1 and w~ = s L = s·w, and both masks are causal over the
flattened sequence (every key precedes or equals its query) with every query attending at least to itself.
Proof. One pass: the depth counter advances once. Every copy is a hidden state of that pass: s L of them. A key of
(i, j) is (i', j') with i' < i, or i' = i and j' <= j, so its flat index i' s + j' - 1 <= i s + j - 1. The paper's
literal "first j - 1 copies" leaves (0, 1) without keys (an empty softmax): we include the copy itself.
"""

import itertools

import sympy as sp

from proofs._common import equal, holds, nonnegative, positive
from rdtheory.theory import depth_schedule, pass_counters, width_mask, width_schedule
from rdtheory.theory.prefill import flat


def counting() -> None:
    n, s = sp.symbols("L s", integer=True, positive=True)
    i, j = sp.symbols("i j", integer=True, nonnegative=True)
    equal(sp.summation(sp.summation(1, (j, 1, s)), (i, 0, n - 1)), s * n, "one hidden state per copy: w~ = s L")
    a, b, c = sp.symbols("a b c", integer=True, nonnegative=True)
    i, j = sp.symbols("i j", integer=True, positive=True)  # a query (i, j) with an earlier token
    query = i * s + j - 1
    positive(query - ((i - 1 - a) * s + (s - b) - 1), "a copy (i', j') of an earlier token precedes (i, j)")
    nonnegative(query - (i * s + (j - c) - 1), "an earlier copy j' <= j of the same token precedes (i, j)")


def spot_checks() -> None:
    for n, s in itertools.product(range(1, 6), range(1, 5)):
        width, base = pass_counters(width_schedule(n, s)), pass_counters(width_schedule(n, 1))
        holds(width.steps == base.steps == 1 and width.width[0] == s * base.width[0], "d~ = d, w~ = s w")
        holds(pass_counters(depth_schedule(n, s)).steps == s, "depth scaling has s serial passes")
        for share in (False, True):
            mask = width_mask(n, s, share)
            holds(all(flat(k, s) <= flat(q, s) for q, k in mask), "causal mask")
            holds(all((q, q) in mask for q, _ in mask), "every query attends to itself")
        literal = width_mask(n, s, True, include_self=False)
        holds((0, 1) not in {q for q, _ in literal}, "the literal mask leaves (0, 1) without keys")


def check() -> None:
    counting()
    spot_checks()


if __name__ == "__main__":
    check()
