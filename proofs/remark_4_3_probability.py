"""Remark 4.3 (how often depth scaling wins the prefill), precise version; rdtheory/theory/prefill.py.

Statement. Under tau(w) = t0 max(1, w/L*) and s >= 2, depth scaling's prefill (s passes of width L) takes no
longer than width scaling's (one pass of width s L) iff L >= L*, and it never costs more FLOPs than either width
variant when their masks include the copy itself (Theorem 4.2(2); with the paper's literal masks it costs a·L
more attention than KVShare at s = 2, proofs/theorem_4_2_prefill.py). So for prompt lengths L ~ D, depth scaling
is at least as fast with probability Pr_D[L >= L*]
(= 1 - F(L* - 1) for integer lengths); for a log-normal D, Pr[L >= x] = erfc((ln x - mu)/(sigma sqrt 2))/2. The
paper's "close to 1 in practice" is an empirical claim about D and L*; the functions evaluate it for any D.

Proof. Compare s·tau(L) with tau(sL) in the three ranges L >= L*, sL <= L* and L < L* < sL (checked below); the
log-normal tail is the antiderivative of minus the density that vanishes at infinity (checked below).
"""

import itertools
from fractions import Fraction

import sympy as sp

from proofs._common import equal, holds, larger, positive
from rdtheory.theory import TimeModel, depth_at_least_as_fast, depth_preferred_probability, lognormal_tail


def comparison() -> None:
    n, k, j = sp.symbols("L k j", positive=True)
    s = 2 + sp.symbols("s2", nonnegative=True)
    tau = lambda w, l_star, case: larger(sp.Integer(1), w / l_star, case)  # noqa: E731
    l_star = sp.Symbol("Ls", positive=True)
    long_prompt = l_star + sp.Symbol("extra", nonnegative=True)
    equal(s * tau(long_prompt, l_star, "L >= L*") - tau(s * long_prompt, l_star, "sL >= L*"), 0,
          "L >= L*: depth and width take the same time")
    k0 = sp.Symbol("k0", nonnegative=True)
    positive(s * tau(n, s * n + k0, "sL <= L*") - tau(s * n, s * n + k0, "sL <= L*"), "sL <= L*: depth is slower")
    ls = n + k  # L < L* = L + k < s L = L* + j
    s_between = (ls + j) / n
    positive(s_between * tau(n, ls, "L < L*") - tau(ls + j, ls, "L* < sL"), "L < L* < sL: depth is slower")


def lognormal() -> None:
    x, sigma = sp.symbols("x sigma", positive=True)
    mu = sp.Symbol("mu", real=True)
    tail = sp.erfc((sp.log(x) - mu) / (sigma * sp.sqrt(2))) / 2
    pdf = sp.exp(-((sp.log(x) - mu) ** 2) / (2 * sigma**2)) / (x * sigma * sp.sqrt(2 * sp.pi))
    equal(sp.diff(tail, x), -pdf, "d/dx Pr[L >= x] = -pdf(x)")
    holds(sp.limit(tail, x, sp.oo) == 0, "Pr[L >= x] -> 0 as x -> oo")


def spot_checks() -> None:
    for l_star, n, s in itertools.product((1, 4, 16), range(1, 30), (2, 3, 5)):
        holds(depth_at_least_as_fast(n, s, TimeModel(l_star)) == (n >= l_star), "depth wins iff L >= L*")
    pmf = {n: Fraction(1, 10) for n in range(10, 110, 10)}
    holds(depth_preferred_probability(pmf, 35) == Fraction(7, 10), "Pr[L >= 35] on a uniform pmf")
    holds(abs(lognormal_tail(1000, 6.0, 1.0) - 0.5 * float(sp.erfc((sp.log(1000) - 6) / sp.sqrt(2)))) < 1e-12,
          "log-normal tail")


def check() -> None:
    comparison()
    lognormal()
    spot_checks()


if __name__ == "__main__":
    check()
