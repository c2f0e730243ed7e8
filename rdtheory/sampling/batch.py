"""Prompts in, generations out: validation of what users pass to a sampler, and the record a sampler returns.

Owns `Prompts` (validated, padded prompt ids with per-row lengths and noise keys) and `Generation`. Every rejected
input raises an error that names the argument, its value and the rule.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from rdtheory.model.recurrent import SUPPORTED_DTYPES, RecurrentDepthLM
from rdtheory.sampling.trace import Trace

PromptsLike = Tensor | Sequence[Sequence[int]]


def stack_rows(rows: list[list[Tensor]], width: int, dtype: torch.dtype) -> list[Tensor]:
    """Per-row lists of [width] tensors -> per-row [n, width] tensors on the CPU."""
    return [torch.stack(r).cpu() if r else torch.zeros(0, width, dtype=dtype) for r in rows]


@dataclass
class Generation:
    """tokens[b]: the new tokens of row b (a stop token, when one ended the row, is included).
    latents[b]: [len(tokens[b]), h], the core state (after its last recurrence) that each token was decoded from.
    top[b]: [len(tokens[b]), 5] the most likely token ids of each distribution a token was drawn from.
    finished[b]: "stop", "length" or "max_ticks"."""

    tokens: list[list[int]]
    latents: list[Tensor]
    top: list[Tensor]
    finished: list[str]
    trace: Trace


@dataclass
class Prompts:
    """ids [B, P_max] right-padded with 0; lengths: P_b (and on the device, lengths_t); rows [B]: each row's noise
    key."""

    ids: Tensor
    lengths: list[int]
    lengths_t: Tensor
    rows: Tensor

    @property
    def batch_size(self) -> int:
        return len(self.lengths)


def check_model(model: RecurrentDepthLM) -> None:
    if not isinstance(model, RecurrentDepthLM):
        raise TypeError(f"model={type(model).__name__} must be a RecurrentDepthLM (for a transformers model, pass "
                        "its .lm)")
    if model.dtype not in SUPPORTED_DTYPES:
        raise TypeError(f"model dtype={model.dtype} is not supported; use one of {SUPPORTED_DTYPES}")


def check_depth(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}={value!r} must be an int >= 1")


def prepare_prompts(
    model: RecurrentDepthLM, prompts: PromptsLike, max_new_tokens: int, row_ids: Sequence[int] | None
) -> Prompts:
    """Validate prompts (a [B, P] integer tensor or a list of token lists) against the model and the budget."""
    check_model(model)
    if not isinstance(max_new_tokens, int) or isinstance(max_new_tokens, bool) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens={max_new_tokens!r} must be an int >= 0")
    device, vocab, block = model.device, model.config.vocab_size, model.config.block_size
    if isinstance(prompts, Tensor):
        if prompts.dtype.is_floating_point or prompts.dtype == torch.bool or prompts.is_complex():
            raise TypeError(f"prompts dtype={prompts.dtype} must be an integer dtype")
        if prompts.dim() != 2:
            raise ValueError(f"prompts shape={list(prompts.shape)} must be [batch, length]")
        if prompts.device != device:
            raise ValueError(f"prompts device={prompts.device} must be the model's device={device}")
        rows = [list(map(int, r)) for r in prompts.tolist()]
    else:
        rows = [list(r) for r in prompts]
        for b, r in enumerate(rows):
            for t in r:
                if not isinstance(t, int) or isinstance(t, bool):
                    raise TypeError(f"prompts[{b}] holds {t!r} of type {type(t).__name__}; token ids must be ints")
    if not rows:
        raise ValueError("prompts is empty; pass at least one prompt")
    for b, r in enumerate(rows):
        if not r:
            raise ValueError(f"prompts[{b}] is empty; every prompt needs at least one token")
        bad = [t for t in r if not 0 <= t < vocab]
        if bad:
            raise ValueError(f"prompts[{b}] holds token id {bad[0]} outside the vocabulary [0, {vocab})")
        if len(r) + max_new_tokens > block:
            raise ValueError(f"prompts[{b}] length {len(r)} + max_new_tokens={max_new_tokens} exceeds the "
                             f"model's block_size={block} positions")
    if row_ids is None:
        row_ids = range(len(rows))
    row_ids = list(row_ids)
    if len(row_ids) != len(rows) or any(not isinstance(r, int) or r < 0 for r in row_ids):
        raise ValueError(f"row_ids={row_ids!r} must hold one int >= 0 per prompt ({len(rows)})")
    width = max(map(len, rows))
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    for b, r in enumerate(rows):
        ids[b, : len(r)] = torch.tensor(r)
    lengths = [len(r) for r in rows]
    return Prompts(ids.to(device), lengths, torch.tensor(lengths, device=device), torch.tensor(row_ids, device=device))


def check_stop_tokens(model: RecurrentDepthLM, stop_tokens: Sequence[int] | None) -> frozenset[int]:
    """None means the model's eos ids; pass () for none."""
    stops = model.config.eos_token_ids if stop_tokens is None else tuple(stop_tokens)
    vocab = model.config.vocab_size
    for t in stops:
        if not isinstance(t, int) or not 0 <= t < vocab:
            raise ValueError(f"stop_tokens holds {t!r}; stop tokens must be ids in [0, {vocab})")
    return frozenset(stops)
