"""Measured Lipschitz constants of a tiny model's core step and decoder, for the converged-limit check.

For position i with every other position's state held fixed, one core step is a map z_i -> F_i(z_i, c), where c
are the states of the positions before i (their keys and values are computed from them). `step_constants`
measures, at given states of a whole sequence, the spectral norm of dF_i/dz_i (the contraction constant lambda)
and the sum over j < i of the spectral norms of dF_i/dz_j (a Lipschitz constant in the conditioning, for the max
over positions of the state errors), by autograd on float64 models. The same is done for the logits.

`matrix_free_constants` measures the same kind of constants without a dense Jacobian (`rdtheory.testing.spectral`:
power iteration with forward- and reverse-mode products), so it runs at Huginn-0125's shape. It measures lam
exactly as the dense method does (||dF_i/dz_i||_2), and for the off-diagonal terms the bound
sqrt(i) ||dF_i/dz_{<i}||_2 (one operator norm over all earlier positions): for perturbations with |dz_j| <= 1 for
every j < i, |sum_j dF_i/dz_j dz_j| <= ||dF_i/dz_{<i}||_2 sqrt(i), so it bounds (A2)'s constant as the dense sum
does (neither is always the smaller). The decoder's constants are spectral norms, which bound the dense method's
infinity-norm rows from above. `step_constants` picks the dense method where the Jacobian is small.

These are local constants at the states supplied, estimates of the global constants that the theorem's (A1) and
(A2) assume, not certificates. `max_constants` takes their maximum, position by position, over several sets of
states; `rdtheory.testing.convergence` measures at the fixed point and at the states every run commits (the ends
of the positions' last ticks, the only ticks the theorem's proof follows) and uses that maximum in the bound.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import Tensor

from rdtheory.model.recurrent import RecurrentDepthLM
from rdtheory.testing.spectral import Block, SequenceMap, block_norms


@dataclass(frozen=True)
class Constants:
    """Per position i: contraction lam[i], conditioning Lipschitz cond[i], decoder Lipschitz in its own state
    dec_self[i] and in earlier states dec_cond[i] (infinity norm of logits over euclidean norms of states)."""

    lam: list[float]
    cond: list[float]
    dec_self: list[float]
    dec_cond: list[float]


def _spectral(jacobian: Tensor) -> float:
    return torch.linalg.matrix_norm(jacobian, ord=2).item()


def _inf_norm(jacobian: Tensor) -> float:
    """max over outputs of the euclidean norm of the row: bounds |J dz|_inf <= this * |dz|_2."""
    return jacobian.norm(dim=-1).max().item()


DENSE_LIMIT = 4096
"""Largest S * h for which `step_constants` forms dense Jacobians (S * h inputs by S * h outputs)."""


def step_constants(model: RecurrentDepthLM, ids: Tensor, states: Tensor, method: str = "auto") -> Constants:
    """ids [S], states [S, h] (the state of every position); uncached, so positions attend to each other's
    current keys, as ShareLast does at a fixed point. method: "dense" (autograd Jacobians), "matrix_free"
    (`matrix_free_constants`) or "auto" (dense up to DENSE_LIMIT inputs)."""
    if method not in ("auto", "dense", "matrix_free"):
        raise ValueError(f"method={method!r} must be 'auto', 'dense' or 'matrix_free'")
    if method == "matrix_free" or (method == "auto" and states.numel() > DENSE_LIMIT):
        return matrix_free_constants(model, ids, states)
    return dense_constants(model, ids, states)


def _maps(model: RecurrentDepthLM, ids: Tensor, rows: int) -> tuple[SequenceMap, SequenceMap]:
    """The core step and the decoder as maps of a batch of `rows` copies of the sequence's states."""
    s_len = ids.shape[0]
    chunk = model.chunk(torch.arange(s_len, device=ids.device).expand(rows, s_len), kv_len=s_len)
    with torch.no_grad():
        e = model.embed(ids.expand(rows, s_len), chunk)
    return (lambda z: model.core_step(z, e, chunk)), (lambda z: model.decode(z, chunk))


def matrix_free_constants(model: RecurrentDepthLM, ids: Tensor, states: Tensor, *, rtol: float | None = None,
                          max_iterations: int = 500) -> Constants:
    """The constants of `dense_constants` without dense Jacobians (module docstring): lam[i] = ||dF_i/dz_i||_2,
    cond[i] = sqrt(i) ||dF_i/dz_{<i}||_2, dec_self[i] = ||dlogits_i/dz_i||_2, dec_cond[i] =
    sqrt(i) ||dlogits_i/dz_{<i}||_2. rtol: the power iteration's stopping rule (default 1e-10 in float64, 1e-5
    otherwise); a measurement that did not converge within max_iterations raises, since the estimate approaches
    each norm from below."""
    s_len = ids.shape[0]
    rtol = (1e-10 if states.dtype == torch.float64 else 1e-5) if rtol is None else rtol
    blocks = [Block((i,), i) for i in range(s_len)] + [Block(tuple(range(i)), i) for i in range(1, s_len)]
    core, logits = _maps(model, ids, len(blocks))
    found = {}
    for name, f in (("core", core), ("decoder", logits)):
        norms = block_norms(f, states, blocks, rtol=rtol, max_iterations=max_iterations)
        if not norms.converged:
            raise ArithmeticError(f"the power iteration for the {name}'s constants moved by {norms.change:.3g} "
                                  f"(relative) after {norms.iterations} iterations, above rtol={rtol:g}")
        found[name] = norms.norms
    off = [0.0] + [math.sqrt(i) * n for i, n in enumerate(found["core"][s_len:], start=1)]
    dec_off = [0.0] + [math.sqrt(i) * n for i, n in enumerate(found["decoder"][s_len:], start=1)]
    return Constants(list(found["core"][:s_len]), off, list(found["decoder"][:s_len]), dec_off)


def dense_constants(model: RecurrentDepthLM, ids: Tensor, states: Tensor) -> Constants:
    """Per position, from the dense autograd Jacobians (tiny models): spectral norms of dF_i/dz_i and the sum over
    j < i of those of dF_i/dz_j; for the logits, the largest row norm (an infinity-to-euclidean bound)."""
    s_len = ids.shape[0]
    chunk = model.chunk(torch.arange(s_len)[None], kv_len=s_len)
    with torch.no_grad():
        e = model.embed(ids[None], chunk)

    def core(flat: Tensor) -> Tensor:
        return model.core_step(flat.reshape(1, s_len, -1), e, chunk)[0]

    def logits(flat: Tensor) -> Tensor:
        return model.decode(flat.reshape(1, s_len, -1), chunk)[0]

    flat = states.reshape(-1)
    jc = torch.autograd.functional.jacobian(core, flat, vectorize=True).reshape(s_len, -1, s_len, states.shape[1])
    jd = torch.autograd.functional.jacobian(logits, flat, vectorize=True).reshape(s_len, -1, s_len, states.shape[1])
    lam, cond, dec_self, dec_cond = [], [], [], []
    for i in range(s_len):
        lam.append(_spectral(jc[i, :, i]))
        cond.append(sum(_spectral(jc[i, :, j]) for j in range(i)))
        dec_self.append(_inf_norm(jd[i, :, i]))
        dec_cond.append(sum(_inf_norm(jd[i, :, j]) for j in range(i)))
    return Constants(lam, cond, dec_self, dec_cond)


def max_constants(constants: Iterable[Constants]) -> Constants:
    """Position by position, the largest of each constant over several measurements of the same sequence (at
    different states); a measurement of a shorter sequence counts for its positions."""
    measured = list(constants)
    if not measured:
        raise ValueError("max_constants needs at least one measurement")
    n = max(len(c.lam) for c in measured)

    def most(name: str) -> list[float]:
        return [max(getattr(c, name)[i] for c in measured if i < len(c.lam)) for i in range(n)]

    return Constants(most("lam"), most("cond"), most("dec_self"), most("dec_cond"))
