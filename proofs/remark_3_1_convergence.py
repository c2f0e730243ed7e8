"""Remark 3.1 (convergence of the adaptive diffusion sampler) as a theorem with an explicit error bound.

Statement. Under assumptions (A1)-(A5) of rdtheory/theory/convergence.py (contraction 0 <= lam < 1 in the state,
Lipschitz L in the earlier positions' states, committed states bounded by B, the contiguous exit rule
|z - z_prev| < eps |z| over windows of m passes, the reference's inputs), the i-th position run in the wave is
committed within alpha (lam^m + beta S_i) of the autoregressive fixed point, alpha = eps B/(1 - lam^m),
beta = L/(1 - lam), S_i = sum_{k<i} beta^k; the bound vanishes as eps -> 0.

Proof. Step by step (each checked below), with lam written as y/(1 + y), y >= 0, which is exactly 0 <= lam < 1:
(0) 0 <= lam^m and lam^m < 1 for every integer m >= 1, by induction: 1 - lam > 0, and
    1 - lam^(m+1) = (1 - lam) + lam (1 - lam^m) > 0 when 1 - lam^m > 0 (it needs lam >= 0).
(1) Over the last m passes of position i, u_s = |y_s - z*_i| obeys u_s <= lam u_{s-1} + L A. The affine bound
    f(s) = lam^s u_0 + L A (1 - lam^s)/(1 - lam) satisfies f(0) = u_0 and f(s + 1) = lam f(s) + L A, so u_s <= f(s)
    (multiplying u_{s-1} <= f(s - 1) by lam needs lam >= 0).
(2) With u_0 <= u_m + eps B (multiplied by lam^m >= 0), u_m <= lam^m (u_m + eps B) + L A (1 - lam^m)/(1 - lam);
    U = lam^m alpha + beta A is the fixed point of that affine map, whose slope is lam^m in [0, 1) by (0), so
    u_m <= U.
(3) Intermediate states: if u_{s-1} <= M with M >= beta A, then lam M + L A <= M; so every u_s <= max(u_0, beta A),
    and u_0 <= U + eps B = alpha + beta A.
(4) a_i = alpha + beta a_{i-1}, a_0 = alpha is solved by a_i = alpha S_{i+1}; the committed bound
    alpha (lam^m + beta S_i) equals a_i - eps B.
(5) eps -> 0 sends the bound to 0.
Numeric spot checks run the DF control flow on the scalar toy (rdtheory/theory/toy.py) with the contiguous rule.
"""

import random

import sympy as sp

from proofs._common import equal, holds, nonnegative, positive
from rdtheory.theory import ScalarToy, committed_error_bound, window_error_bound


def contraction() -> sp.Expr:
    """lam = y/(1 + y) with y >= 0: every 0 <= lam < 1 and nothing else (y = lam/(1 - lam))."""
    y = sp.symbols("y", nonnegative=True)
    return y / (1 + y)


def power_steps() -> None:
    lam = contraction()
    m = sp.symbols("m", integer=True, positive=True)
    nonnegative(lam, "lam >= 0")
    positive(1 - lam, "lam < 1: 1 - lam^m > 0 for m = 1")
    nonnegative(lam**m, "lam^m >= 0 for integer m >= 1")
    equal(1 - lam ** (m + 1), (1 - lam) + lam * (1 - lam**m), "1 - lam^(m+1) = (1 - lam) + lam (1 - lam^m)")
    hypothesis = sp.symbols("h", positive=True)  # 1 - lam^m > 0
    positive((1 - lam) + lam * hypothesis, "1 - lam^(m+1) > 0 when 1 - lam^m > 0: lam^m < 1 for every m >= 1")


def affine_steps() -> None:
    lam = contraction()
    u0, lip, a_bound, eps, b = sp.symbols("u0 L A epsilon B", nonnegative=True)
    s, m = sp.symbols("s m", integer=True, positive=True)
    f = lambda k: lam**k * u0 + lip * a_bound * (1 - lam**k) / (1 - lam)  # noqa: E731
    equal(f(0), u0, "f(0) = u_0")
    equal(f(s + 1), lam * f(s) + lip * a_bound, "f(s + 1) = lam f(s) + L A")
    q = lam**m
    alpha, beta = eps * b / (1 - q), lip / (1 - lam)
    big_u = q * alpha + beta * a_bound
    equal(q * (big_u + eps * b) + lip * a_bound * (1 - q) / (1 - lam), big_u, "U is the fixed point of step (2)")
    equal(big_u + eps * b, alpha + beta * a_bound, "u_0 <= U + eps B = alpha + beta A")
    slack = sp.symbols("slack", nonnegative=True)
    top = beta * a_bound + slack  # any M >= beta A
    nonnegative(top - (lam * top + lip * a_bound), "lam M + L A <= M for M >= beta A")


def recursion_steps() -> None:
    alpha, beta = sp.symbols("alpha beta", positive=True)
    i = sp.symbols("i", integer=True, nonnegative=True)
    k = sp.symbols("k", integer=True, nonnegative=True)
    S = lambda n: sp.Sum(beta**k, (k, 0, n - 1))  # noqa: E731
    equal((alpha * S(i + 2)).doit(), (alpha + beta * alpha * S(i + 1)).doit(), "a_{i+1} = alpha + beta a_i")
    equal((alpha * S(1)).doit(), alpha, "a_0 = alpha")
    lam, (eps, b) = contraction(), sp.symbols("epsilon B", positive=True)
    m = sp.symbols("m", integer=True, positive=True)
    alpha_ = eps * b / (1 - lam**m)
    equal(alpha_ * (1 + beta * S(i)) - eps * b, alpha_ * (lam**m + beta * S(i)), "committed = window - eps B")
    holds(sp.limit(alpha_ * (lam**m + beta * S(3).doit()), eps, 0) == 0, "the bound vanishes as eps -> 0")


def spot_checks() -> None:
    rng = random.Random(0)
    for _ in range(40):
        p, n = rng.randint(1, 3), rng.randint(2, 6)
        toy = ScalarToy(rng.uniform(-0.9, 0.9), rng.uniform(-0.9, 0.9),
                        tuple(rng.uniform(-1, 1) for _ in range(p + n)), tuple(rng.uniform(-1, 1) for _ in range(p)))
        inner, eps = rng.randint(1, 3), rng.choice([0.1, 0.03, 0.01])
        run = toy.run(inner, eps, headway=rng.randint(1, 2), cap=rng.randint(1, 4), max_depth=400)
        if run.unconverged_exits:
            continue
        exact = toy.fixed_points()
        for pos, z in run.committed.items():
            args = (toy.contraction, eps, toy.state_bound, toy.lipschitz, pos - p, inner)
            holds(abs(z - exact[pos]) <= committed_error_bound(*args) + 1e-12, f"toy position {pos}")
            holds(committed_error_bound(*args) <= window_error_bound(*args), "committed <= window bound")


def check() -> None:
    power_steps()
    affine_steps()
    recursion_steps()
    spot_checks()


if __name__ == "__main__":
    check()
