"""Measured Lipschitz constants of a tiny model's core step and decoder, for the converged-limit tests.

For position i with every other position's state held fixed, one core step is a map z_i -> F_i(z_i, c), where c
are the states of the positions before i (their keys and values are computed from them). `step_constants`
measures, at given states of a whole sequence, the spectral norm of dF_i/dz_i (the contraction constant lambda)
and the sum over j < i of the spectral norms of dF_i/dz_j (a Lipschitz constant in the conditioning, for the max
over positions of the state errors), by autograd on float64 models. The same is done for the logits. These are
local constants at the states supplied; tests take the maximum over the states a run visits.
"""

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

    jc = torch.autograd.functional.jacobian(core, states.reshape(-1)).reshape(s_len, -1, s_len, states.shape[1])
    jd = torch.autograd.functional.jacobian(logits, states.reshape(-1)).reshape(s_len, -1, s_len, states.shape[1])
    lam, cond, dec_self, dec_cond = [], [], [], []
    for i in range(s_len):
        lam.append(_spectral(jc[i, :, i]))
        cond.append(sum(_spectral(jc[i, :, j]) for j in range(i)))
        dec_self.append(_inf_norm(jd[i, :, i]))
        dec_cond.append(sum(_inf_norm(jd[i, :, j]) for j in range(i)))
    return Constants(lam, cond, dec_self, dec_cond)
