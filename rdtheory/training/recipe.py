"""Randomized unrolling with truncated backpropagation (Huginn's recipe), on `rdtheory.training.task` data.

Per batch, a depth p is drawn from the Poisson-lognormal sampler: tau ~ LogNormal(log(mean) - sigma^2/2, sigma),
p = Poisson(tau) + 1. The state starts from a random (truncated normal) initialisation, runs max(p - k, 0)
recurrences without gradients and then min(k, p) with gradients (k = the backpropagation window), and the loss is
the cross-entropy of the answer tokens and the end token only (the programs themselves are random).
"""

import math
import random

import torch
import torch.nn.functional as F
from torch import Tensor

from rdtheory.config import ModelConfig
from rdtheory.model.recurrent import RecurrentDepthLM
from rdtheory.training.task import EOS, PAD, VOCAB, Example, encode

LOOPED_TINY = ModelConfig(
    vocab_size=32,
    n_embd=128,
    n_heads=4,
    n_layers_in_prelude=0,
    n_layers_in_recurrent_block=1,
    n_layers_in_coda=0,
    intermediate_size=384,
    block_size=192,
    mean_recurrence=16,
    mean_backprop_depth=4,
    rope_base=10_000.0,
    bos_token_id=1,
    eos_token_ids=(EOS,),
    pad_token_id=PAD,
)
"""The shipped model's shapes (vocabulary padded from len(VOCAB) to 32): one sandwich block, all of it recurrent, so
that one recurrence is one layer and the depth a grid needs is counted in recurrences."""

assert len(VOCAB) <= LOOPED_TINY.vocab_size, "the task vocabulary must fit the model's"


def lr_factor(step: int, steps: int) -> float:
    """The training schedule's learning rate at `step` as a fraction of its peak: linear warm-up over the first
    twentieth of the steps, then cosine decay to a tenth."""
    warmup = max(1, steps // 20)
    return min(1.0, (step + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(step / steps, 1))))


def sample_depth(rng: random.Random, mean: float, window: int, sigma: float = 0.5) -> tuple[int, int]:
    """(steps without gradient, steps with gradient) from the Poisson-lognormal sampler."""
    tau = rng.lognormvariate(math.log(mean) - sigma**2 / 2, sigma)
    p = _poisson(rng, tau) + 1
    return max(p - window, 0), min(window, p)


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's multiplication method (lam is small here)."""
    limit, k, prod = math.exp(-lam), 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k


def batch_tensors(examples: list[Example], device: torch.device | str) -> tuple[Tensor, Tensor, Tensor]:
    """ids [B, S] right-padded, valid [B, S], targets [B, S] (the next token where it is an answer digit or the end
    token, -100 elsewhere)."""
    rows = [encode(ex.text) for ex in examples]
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), PAD, dtype=torch.long)
    targets = torch.full_like(ids, -100)
    for b, (ex, row) in enumerate(zip(examples, rows)):
        ids[b, : len(row)] = torch.tensor(row)
        start = len(encode(ex.prompt)) - 1  # the '=' position predicts the first answer digit
        targets[b, start: len(row) - 1] = torch.tensor(row[start + 1:])
    valid = ids != PAD
    return ids.to(device), valid.to(device), targets.to(device)


def loss_at_depth(model: RecurrentDepthLM, ids: Tensor, valid: Tensor, targets: Tensor, nograd: int, grad: int,
                  seed: int, init_scale: float = 1.0) -> Tensor:
    pos = torch.arange(ids.shape[1], device=ids.device).expand_as(ids)
    chunk = model.chunk(pos, valid, kv_len=ids.shape[1])
    e = model.embed(ids, chunk)
    rows = torch.arange(ids.shape[0], device=ids.device)
    state = model.initial_state(chunk, init_scale, seed, rows)
    with torch.no_grad():
        for _ in range(nograd):
            state = model.core_step(state, e.detach(), chunk)
    for _ in range(grad):
        state = model.core_step(state, e, chunk)
    logits = model.decode(state, chunk)
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)


@torch.no_grad()
def teacher_forced_accuracy(model: RecurrentDepthLM, examples: list[Example], depth: int, device: str) -> float:
    """Share of examples whose every answer digit (and end token) is the argmax at depth `depth`, zero initial
    state, previous answers given (they do not depend on each other)."""
    ids, valid, targets = batch_tensors(examples, device)
    logits, _ = model(ids, depth)
    hit = (logits.argmax(-1) == targets) | (targets == -100)
    return hit.all(dim=-1).float().mean().item()


@torch.no_grad()
def answer_token_accuracy(model: RecurrentDepthLM, examples: list[Example], depth: int, device: str) -> float:
    """Share of answer tokens (digits and end token) that are the argmax at depth `depth`, teacher forced."""
    ids, valid, targets = batch_tensors(examples, device)
    logits, _ = model(ids, depth)
    scored = targets != -100
    return ((logits.argmax(-1) == targets) & scored).sum().item() / scored.sum().item()
