"""Proof steps shared by the proof files.

Equalities are proved as `simplify(lhs - rhs) == 0`, or, where simplify leaves a nested power unresolved, as a zero
rational normal form `cancel(together(lhs - rhs)) == 0`; never with sympy's structural `==`. Inequalities are sign
facts that sympy derives from the declared assumptions of the symbols (write a quantity known to be >= 1 as
1 + x with x nonnegative, so that the assumption system can see it). A failed step raises AssertionError naming
the statement.
"""

import sympy as sp


def holds(ok: bool, statement: str) -> None:
    if not ok:
        raise AssertionError(f"proof step failed: {statement}")


def equal(lhs: sp.Expr, rhs: sp.Expr, statement: str) -> None:
    d = lhs - rhs
    holds(sp.simplify(d) == 0 or sp.cancel(sp.together(d)) == 0, statement)


def nonnegative(expr: sp.Expr, statement: str) -> None:
    e = sp.simplify(expr)
    holds(e.is_nonnegative is True or sp.expand(e).is_nonnegative is True or sp.factor(e).is_nonnegative is True,
          statement)


def positive(expr: sp.Expr, statement: str) -> None:
    e = sp.simplify(expr)
    holds(e.is_positive is True or sp.expand(e).is_positive is True or sp.factor(e).is_positive is True, statement)


def larger(a: sp.Expr, b: sp.Expr, statement: str) -> sp.Expr:
    """max(a, b), choosing the branch by proving the sign of a - b."""
    d = sp.simplify(a - b)
    for diff in (d, sp.expand(d), sp.factor(d), sp.together(d)):
        if diff.is_nonnegative:
            return a
        if diff.is_nonpositive:
            return b
    raise AssertionError(f"proof step failed: cannot order the two sides of {statement}")
