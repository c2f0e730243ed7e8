"""Eq. 1's embedding EMA as a filter; rdtheory/theory/correspondence.py.

Statement. For a position present in consecutive ticks, e_t = P_t + eta (e_{t-1} - P_t) is a linear filter with
impulse response h_k = (1 - eta) eta^k and step response 1 - eta^(k+1) = sum_{j<=k} h_j (unit DC gain). Starting a
new position at e_0 = P_0 (ours) gives e_t = P for constant P; the reference code's e_0 = (1 - eta) P_0 gives the
transient e_t = (1 - eta^(t+1)) P: new positions are shrunk by eta^(t+1) in their t-th tick.

Proof. Induction on the lag for the impulse and the step, and a geometric sum (checked below).
"""

import sympy as sp

from proofs._common import equal, holds
from rdtheory.theory import ema_embeddings, ema_impulse_response, ema_step_response


def steps() -> None:
    eta = sp.symbols("eta", positive=True)
    k, j = sp.symbols("k j", integer=True, nonnegative=True)
    ema = lambda prev, p: p + eta * (prev - p)  # noqa: E731
    impulse = lambda q: (1 - eta) * eta**q  # noqa: E731
    equal(ema(0, 1), impulse(0), "impulse at lag 0")
    equal(ema(impulse(k), 0), impulse(k + 1), "impulse at lag k + 1")
    step = lambda q: 1 - eta ** (q + 1)  # noqa: E731
    equal(ema(0, 1), step(0), "step at lag 0")
    equal(ema(step(k), 1), step(k + 1), "step at lag k + 1")
    equal(sp.summation(impulse(j), (j, 0, k)), step(k), "step = cumulative impulse")
    p = sp.symbols("P")
    equal(ema(p, p), p, "a constant input started at e_0 = P stays at P")
    equal((1 - eta) * p, step(0) * p, "the reference code's start (1 - eta) P is the step response at 0")


def spot_checks() -> None:
    holds(max(abs(a - b) for a, b in zip(ema_embeddings([0, 0, 1, 0, 0], 0.3)[2:],
                                          [ema_impulse_response(0.3, q) for q in range(3)])) < 1e-12, "impulse")
    holds(max(abs(a - 2 * ema_step_response(0.3, t)) for t, a in enumerate(ema_embeddings([2.0] * 5, 0.3, True)))
          < 1e-12, "shrunk start")


def check() -> None:
    steps()
    spot_checks()


if __name__ == "__main__":
    check()
