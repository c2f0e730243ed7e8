"""The autoregressive fixed point of a prompt: the reference the converged-limit check compares with.

Every position iterated with the core step until no state moves (uncached: each position reads the others'
current keys, which is what ShareLast keys hold at a fixed point), one new position at a time, each new token
greedy from the previous position's fixed-point logits. This is AR at infinite depth.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from rdtheory.model.recurrent import RecurrentDepthLM
from rdtheory.sampling.exits import relative_change
from rdtheory.testing.contraction import step_constants

SCREEN_STEPS = 60  # after this many steps on the prompt, a step constant >= max_contraction gives up early
SETTLED = {torch.float64: 1e-14, torch.float32: 1e-6}
"""Relative change per step below which a state counts as settled: a few hundred units of rounding."""


@dataclass(frozen=True)
class FixedPoint:
    """The AR fixed point for a prompt: its new tokens, the input ids of every position run (prompt and new
    tokens but the last), their fixed-point states z* [S, h] and logits [S, V], and how many steps the prompt took
    to settle from zero states (a prefill a little deeper than that reaches z* to rounding)."""

    tokens: list[int]
    ids: Tensor
    states: Tensor
    logits: Tensor
    prompt_steps: int


def _settle(model: RecurrentDepthLM, ids: Tensor, z: Tensor, tol: float, steps: int) -> tuple[Tensor, int | None]:
    """Iterate one core step over all positions (uncached: each reads the others' current keys) up to `steps`
    times, until no state moves by more than `tol` relative to its norm; the steps taken (None if it did not)."""
    s_len = len(ids)
    chunk = model.chunk(torch.arange(s_len, device=model.device)[None], kv_len=s_len)
    e = model.embed(ids[None], chunk)
    for step in range(1, steps + 1):
        new = model.core_step(z[None], e, chunk)[0]
        moved = relative_change(new, z).max().item()
        z = new
        if moved <= tol:
            return z, step
    return z, None


@torch.no_grad()
def ar_fixed_point(model: RecurrentDepthLM, prompt: Sequence[int], max_new_tokens: int, *, tol: float | None = None,
                   max_steps: int = 400, screen: float | None = None, constants: str = "auto") -> FixedPoint | None:
    """The autoregressive solution at infinite depth: the prompt's states iterated together to their fixed point,
    then one new position at a time (its token greedy from the previous position's fixed-point logits) until it
    settles too. None when a position does not settle within `max_steps` steps, or, with `screen`, when after
    SCREEN_STEPS steps the prompt has not settled and its measured step constant (method `constants`, see
    `rdtheory.testing.contraction.step_constants`) is at least `screen`. tol: the relative change per step at
    which a state counts as settled (default SETTLED[dtype]); float64 or float32 models only: a bfloat16 model's
    iteration stalls at its rounding, so compute its fixed point on a float32 copy."""
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens={max_new_tokens} must be >= 1")
    if model.dtype not in SETTLED:
        raise TypeError(f"model dtype={model.dtype} has no fixed point to rounding; use a float32 or float64 copy "
                        "(model.to(torch.float32))")
    tol = SETTLED[model.dtype] if tol is None else tol
    h = model.config.n_embd
    ids = torch.tensor(list(prompt), device=model.device)
    z = torch.zeros(len(ids), h, dtype=model.dtype, device=model.device)
    prompt_steps = None
    if screen is not None:
        z, prompt_steps = _settle(model, ids, z, tol, SCREEN_STEPS)
        if prompt_steps is None and max(step_constants(model, ids, z, constants).lam) >= screen:
            return None
    if prompt_steps is None:
        done = SCREEN_STEPS if screen is not None else 0
        z, more = _settle(model, ids, z, tol, max_steps - done)
        if more is None:
            return None
        prompt_steps = done + more
    tokens = []
    for i in range(max_new_tokens):
        s_len = len(ids)
        chunk = model.chunk(torch.arange(s_len, device=model.device)[None], kv_len=s_len)
        logits = model.decode(z[None], chunk)[0]
        tokens.append(int(logits[-1].argmax()))
        if i == max_new_tokens - 1:
            return FixedPoint(tokens, ids, z, logits, prompt_steps)
        ids = torch.cat([ids, ids.new_tensor([tokens[-1]])])
        z, steps = _settle(model, ids, torch.cat([z, z.new_zeros(1, h)]), tol, max_steps)
        if steps is None:
            return None
    raise AssertionError("unreachable")


@torch.no_grad()
def prompt_contraction(model: RecurrentDepthLM, prompt: Sequence[int], steps: int = SCREEN_STEPS,
                       constants: str = "auto") -> float:
    """The largest step constant lam over the prompt's positions after `steps` core steps from zero states: what
    says why a prompt has no fixed point within reach (lam >= 1 near where the iteration went)."""
    ids = torch.tensor(list(prompt), device=model.device)
    z = torch.zeros(len(ids), model.config.n_embd, dtype=model.dtype, device=model.device)
    z, _ = _settle(model, ids, z, 0.0, steps)
    return max(step_constants(model, ids, z, constants).lam)
