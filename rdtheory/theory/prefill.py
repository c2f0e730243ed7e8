"""Prefill: depth scaling against width scaling (Definition B.3, Proposition B.4, Theorem 4.2, Remark 4.3).

Scaling factor s over a prompt of L tokens. Depth scaling runs the block s times over the L positions
(causal attention each time). Width scaling (Definition B.3) runs it once over s copies (i, j) of each token,
token i in 0..L-1 and copy j in 1..s, flattened to position i·s + j - 1, under one of two masks:

* NO_SHARE: (i, j) attends to every copy of every earlier token and to copies 1..j of token i;
* KV_SHARE: (i, j) attends to the last copy (i', s) of every earlier token and to copies 1..j of token i.

The paper writes "the first j - 1 copies of token i", which leaves copy (0, 1) with nothing to attend to; a
block's query attends to itself, so we include copy j (`include_self=False` gives the paper's literal mask).

Costs (Theorem 4.2(2), derived here): with `linear` the cost of one position through the block's linear layers
and `attention` the cost of one (query, key) pair, all three process s·L positions and differ in attention.
Depth scaling's passes are causal (a query attends to itself). With the width masks including the copy itself
(`include_self=True`, ours):

    E_Depth        = linear·sL + attention·s·L(L+1)/2
    E_Width-KVShare = linear·sL + attention·(s·L(L-1)/2 + L·s(s+1)/2)
    E_Width-NoShare = linear·sL + attention·(s²·L(L-1)/2 + L·s(s+1)/2)

so E_KVShare - E_Depth = attention·L·s(s-1)/2 >= 0 (zero iff s = 1) and E_NoShare - E_KVShare =
attention·s(s-1)·L(L-1)/2, strictly positive iff s >= 2 and L >= 2. With the paper's literal masks
(`include_self=False`) each width term loses the s·L self pairs, L·s(s+1)/2 becomes L·s(s-1)/2, and
E_KVShare - E_Depth = attention·s·L(s-3)/2: the paper's E_Depth <= E_KVShare then holds iff s >= 3 (E_Depth is
larger by attention·L at s = 1 and s = 2, equal at s = 3). To leading order in L both are attention·s·L²/2 under
either mask; E_NoShare - E_KVShare does not depend on the mask. Knows nothing of hardware numbers.
"""

import math
from collections.abc import Mapping
from enum import Enum
from fractions import Fraction
from numbers import Real

from rdtheory.theory.checks import require, require_int, require_real
from rdtheory.theory.schedule import Schedule, ScheduleTick
from rdtheory.theory.timing import TimeModel

Copy = tuple[int, int]


class Scaling(Enum):
    DEPTH = "depth"
    WIDTH_KV_SHARE = "width_kv_share"
    WIDTH_NO_SHARE = "width_no_share"


def width_mask(length: int, copies: int, share: bool, include_self: bool = True) -> frozenset[tuple[Copy, Copy]]:
    """(query, key) pairs of the width-scaled sequence; copies are (token i, copy j), 0 <= i < L, 1 <= j <= s."""
    n, s = require_int("length", length, 1), require_int("copies", copies, 1)
    pairs = set()
    for i in range(n):
        for j in range(1, s + 1):
            earlier = [(a, s) for a in range(i)] if share else [(a, b) for a in range(i) for b in range(1, s + 1)]
            own = [(i, b) for b in range(1, j + include_self)]
            pairs.update(((i, j), key) for key in earlier + own)
    return frozenset(pairs)


def flat(copy: Copy, copies: int) -> int:
    """Position of copy (i, j) in the flattened width-scaled sequence."""
    return copy[0] * copies + copy[1] - 1


def attention_pairs(scaling: Scaling, length: int, copies: int, include_self: bool = True) -> int:
    """Number of (query, key) pairs over the whole prefill (closed forms of the module docstring); `include_self`
    is the width masks' convention (`width_mask`); depth scaling's causal passes always include the query."""
    n, s = require_int("length", length, 1), require_int("copies", copies, 1)
    if scaling is Scaling.DEPTH:
        return s * n * (n + 1) // 2
    earlier = s * n * (n - 1) // 2 if scaling is Scaling.WIDTH_KV_SHARE else s * s * n * (n - 1) // 2
    return earlier + n * s * (s + 1 if include_self else s - 1) // 2


def prefill_cost(scaling: Scaling, length: int, copies: int, linear: Real = 1, attention: Real = 1,
                 include_self: bool = True) -> Real:
    """E_Depth, E_Width-KVShare or E_Width-NoShare: linear·sL + attention·(attention pairs)."""
    require("linear", linear, linear >= 0, "must be >= 0")
    require("attention", attention, attention >= 0, "must be >= 0")
    return linear * copies * length + attention * attention_pairs(scaling, length, copies, include_self)


def cost_order_holds(length: int, copies: int, include_self: bool = True) -> bool:
    """Theorem 4.2(2)'s order E_Depth <= E_Width-KVShare <= E_Width-NoShare at these sizes, for any linear and
    attention costs >= 0 (compared in attention pairs, the linear terms being equal). With the width masks
    including the copy itself it always holds; with the paper's literal masks (include_self=False) iff s >= 3."""
    depth, kv, no = (attention_pairs(s, length, copies, include_self) for s in Scaling)
    return depth <= kv <= no


def depth_schedule(length: int, copies: int) -> Schedule:
    """Depth scaling as a schedule: one tick of s passes over L positions (nothing committed)."""
    s = require_int("copies", copies, 1)
    return Schedule(length, (ScheduleTick(s, tuple((p, 1, s) for p in range(require_int("length", length, 1)))),))


def width_schedule(length: int, copies: int) -> Schedule:
    """Width scaling as a schedule: one tick of one pass over the s·L flattened copies (Proposition B.4)."""
    n = require_int("length", length, 1) * require_int("copies", copies, 1)
    return Schedule(n, (ScheduleTick(1, tuple((p, 1, 1) for p in range(n))),))


def prefill_time(scaling: Scaling, length: int, copies: int, model: TimeModel) -> Real:
    """Depth: s passes of width L; width (either mask): one pass of width sL. Attention time is not modelled."""
    if scaling is Scaling.DEPTH:
        return copies * model.pass_time(length)
    return model.pass_time(copies * length)


def throughput_ratio(length: int, copies: int, model: TimeModel) -> Real:
    """Width over depth in positions processed per unit time (both process sL): s·tau(L) / tau(sL).
    Equals s for sL <= L*, L*/L for L <= L* <= sL, and 1 for L >= L*."""
    depth, width = copies * model.pass_time(length), model.pass_time(copies * length)
    return depth / width if isinstance(depth, float) else Fraction(depth) / width


def width_per_time_ratio(length: int, copies: int, model: TimeModel) -> Real:
    """Width over depth in (hidden states in parallel) / latency: (sL / tau(sL)) / (L / (s·tau(L))).
    Equals s² for sL <= L*, s·L*/L for L <= L* <= sL, and s for L >= L*."""
    return copies * throughput_ratio(length, copies, model)


def depth_at_least_as_fast(length: int, copies: int, model: TimeModel) -> bool:
    """s·tau(L) <= tau(sL): true for s = 1, and for s >= 2 iff L >= L*."""
    return prefill_time(Scaling.DEPTH, length, copies, model) <= prefill_time(Scaling.WIDTH_KV_SHARE, length,
                                                                              copies, model)


def depth_preferred_probability(length_pmf: Mapping[int, Real], l_star: int) -> Real:
    """Remark 4.3: Pr_{L ~ D}[L >= L*] for a prompt-length distribution given as {length: probability}."""
    require_int("l_star", l_star, 1)
    total = sum(length_pmf.values())
    require("length_pmf", "...", all(p >= 0 for p in length_pmf.values()), "must have probabilities >= 0")
    require("sum(length_pmf)", total, math.isclose(total, 1, rel_tol=1e-9), "must be 1")
    return sum((p for n, p in length_pmf.items() if n >= l_star), Fraction(0))


def lognormal_tail(l_star: Real, mu: float, sigma: float) -> float:
    """Pr[L >= L*] for log L ~ Normal(mu, sigma²): erfc((ln L* - mu) / (sigma·sqrt 2)) / 2."""
    require_real("l_star", l_star, 0, math.inf)
    require("sigma", sigma, sigma > 0, "must be > 0")
    if l_star == 0:
        return 1.0
    return 0.5 * math.erfc((math.log(l_star) - mu) / (sigma * math.sqrt(2)))
