"""The noise schedules and mixing of Eq. 2; rdtheory/theory/correspondence.py.

Statement. (1) Linear(beta0, D) = beta0 max(0, 1 - n/D) decreases linearly to 0 at n = D, the paper's "linear in
steps at each position"; the reference code's Dampened(beta0) = beta0/(1 + n) is strictly convex (not linear)
and never reaches 0 (n is the count before the tick: 0, r', 2r', ...). (2) Eq. 2's mixing (1 - beta) z + beta noise
of independent unit-variance state and noise leaves variance 1 - 2 beta (1 - beta) < 1 for 0 < beta < 1 (it
shrinks the state); the sqrt mixing keeps variance 1 exactly.

Proof. Differentiate the schedules; expand the variances a² + b² of the two mixings (checked below).
"""

import sympy as sp

from proofs._common import equal, holds, positive
from rdtheory.theory import dampened_beta, linear_beta, mixed_variance


def steps() -> None:
    beta0, depth = sp.symbols("beta0 D", positive=True)
    n = sp.symbols("n", nonnegative=True)
    linear = beta0 * (1 - n / depth)  # for n <= D
    equal(sp.diff(linear, n, 2), 0, "Linear is linear in n below D")
    equal(linear.subs(n, depth), 0, "Linear reaches 0 at n = D")
    dampened = beta0 / (1 + n)
    positive(dampened, "Dampened never reaches 0")
    positive(sp.diff(dampened, n, 2), "Dampened is strictly convex, not linear")
    b = sp.symbols("beta", positive=True)
    beta = b / (1 + b)  # any beta in (0, 1)
    equal((1 - beta) ** 2 + beta**2, 1 - 2 * beta * (1 - beta), "variance after Eq. 2")
    positive(2 * beta * (1 - beta), "Eq. 2 shrinks the variance for 0 < beta < 1")
    equal(sp.sqrt(1 - beta) ** 2 + sp.sqrt(beta) ** 2, 1, "the sqrt mixing preserves variance")


def spot_checks() -> None:
    holds([linear_beta(0.5, 4, n) for n in (0, 2, 4, 8)] == [0.5, 0.25, 0.0, 0.0], "Linear values")
    holds(all(dampened_beta(0.5, n) > 0 for n in range(0, 400, 4)), "Dampened stays positive")
    holds(abs(mixed_variance(1.0, 1.0, 0.3) - (1 - 2 * 0.3 * 0.7)) < 1e-12, "variance function")


def check() -> None:
    steps()
    spot_checks()


if __name__ == "__main__":
    check()
