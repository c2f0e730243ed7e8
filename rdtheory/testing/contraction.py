"""Measured Lipschitz constants of a tiny model's core step and decoder, for the converged-limit check.

For position i with every other position's state held fixed, one core step is a map z_i -> F_i(z_i, c), where c
are the states of the positions before i (their keys and values are computed from them). `step_constants`
measures, at given states of a whole sequence, the spectral norm of dF_i/dz_i (the contraction constant lambda)
and the sum over j < i of the spectral norms of dF_i/dz_j (a Lipschitz constant in the conditioning, for the max
over positions of the state errors), by autograd on float64 models. The same is done for the logits.

These are local constants at the states supplied, estimates of the global constants that the theorem's (A1) and
(A2) assume, not certificates. `max_constants` takes their maximum, position by position, over several sets of
states; `rdtheory.testing.convergence` measures at the fixed point and at the states every run commits (the ends
of the positions' last ticks, the only ticks the theorem's proof follows) and uses that maximum in the bound.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import Tensor

from rdtheory.model.recurrent import RecurrentDepthLM


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


def step_constants(model: RecurrentDepthLM, ids: Tensor, states: Tensor) -> Constants:
    """ids [S], states [S, h] (the state of every position); uncached, so positions attend to each other's
    current keys, as ShareLast does at a fixed point."""
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
