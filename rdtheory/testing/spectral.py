"""Spectral norms of blocks of a sequence map's Jacobian, without forming the Jacobian.

A map f takes the states of a whole sequence, [S, h], to outputs [S, d] (one core step, or the decoder's logits).
A block operator J_B = d f_o / d z_I takes a perturbation of the input positions I to the output at position o.
`block_norms` estimates ||J_B||_2 for many blocks at once by power iteration on J_B^T J_B: each iteration is one
forward-mode product J v (autograd's dual numbers) and one reverse-mode product J^T u (a backward pass), and the
blocks travel as rows of one batch, each row a copy of the sequence whose perturbation lives on its own input
positions. Memory and time are those of a few batched forward passes, so the estimate runs at Huginn-0125's width
(5280), where a dense Jacobian over (positions x 5280) inputs does not fit.

Power iteration approaches ||J_B|| from below; it stops when every estimate moved by less than `rtol` (relative)
in one iteration, and says whether it got there (`SpectralNorms.converged`). Attention runs with the math kernel
here, the one that supports forward-mode differentiation.
"""

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.autograd.forward_ad as fwad
from torch import Tensor
from torch.nn.attention import SDPBackend, sdpa_kernel

SequenceMap = Callable[[Tensor], Tensor]
"""Batched rows [R, S, h] -> [R, S, d]; rows must not interact (each is its own copy of the sequence)."""


@dataclass(frozen=True)
class Block:
    """The Jacobian block from the states at positions `inputs` to the output at position `output`."""

    inputs: tuple[int, ...]
    output: int


@dataclass(frozen=True)
class SpectralNorms:
    norms: tuple[float, ...]
    iterations: int
    converged: bool
    change: float  # the largest relative change of an estimate in the last iteration


def block_norms(f: SequenceMap, states: Tensor, blocks: Sequence[Block], *, rtol: float = 1e-10,
                max_iterations: int = 500, seed: int = 0) -> SpectralNorms:
    """||d f_o / d z_I||_2 for every block (I, o) at `states` [S, h], by batched power iteration."""
    if not blocks:
        return SpectralNorms((), 0, True, 0.0)
    s_len = states.shape[0]
    for b in blocks:
        if not b.inputs or not all(0 <= i < s_len for i in (*b.inputs, b.output)):
            raise ValueError(f"block {b} must name input and output positions in [0, {s_len})")
    rows = len(blocks)
    mask = torch.zeros(rows, s_len, 1, dtype=states.dtype, device=states.device)
    for r, b in enumerate(blocks):
        mask[r, list(b.inputs)] = 1
    out_at = torch.tensor([b.output for b in blocks], device=states.device)
    pick = (torch.arange(rows, device=states.device), out_at)
    x = states.detach().expand(rows, *states.shape).contiguous()
    generator = torch.Generator(device=states.device).manual_seed(seed)
    v = _unit(torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device) * mask)
    with sdpa_kernel(SDPBackend.MATH), torch.enable_grad():
        leaf = x.clone().requires_grad_()
        y = f(leaf)  # the reverse-mode products reuse this one graph
        sigma = torch.zeros(rows, dtype=torch.float64, device=x.device)
        change, iterations = float("inf"), 0
        while iterations < max_iterations and change > rtol:
            iterations += 1
            with fwad.dual_level(), torch.no_grad(), warnings.catch_warnings():
                # torch's first forward-mode call scripts its own decompositions, with a deprecation warning
                warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=DeprecationWarning)
                jv = fwad.unpack_dual(f(fwad.make_dual(x, v))).tangent[pick]  # [R, d]: J_B v
            u = torch.zeros_like(y)
            u[pick] = _unit(jv)
            (jtu,) = torch.autograd.grad(y, leaf, u, retain_graph=True)
            jtu = jtu * mask  # J_B^T u, whose norm is the estimate of ||J_B||
            new = jtu.flatten(1).double().norm(dim=-1)
            change = ((new - sigma).abs() / new.clamp(min=torch.finfo(torch.float64).tiny)).max().item()
            sigma, v = new, _unit(jtu)
    return SpectralNorms(tuple(sigma.tolist()), iterations, change <= rtol, change)


def _unit(t: Tensor) -> Tensor:
    """Each row scaled to unit norm (a zero row stays zero)."""
    norm = t.flatten(1).norm(dim=-1).clamp(min=torch.finfo(t.dtype).tiny)
    return t / norm.reshape(-1, *([1] * (t.dim() - 1)))
