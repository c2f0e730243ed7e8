"""Prompts in, generations out: validation of what users pass to a sampler, and the record a sampler returns.

Owns `Prompts` (validated, padded prompt ids with per-row lengths and noise keys) and `Generation`. Every rejected
input raises an error that names the argument, its value and the rule.
"""

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from rdtheory.model.cache import KVPolicy
from rdtheory.model.recurrent import SUPPORTED_DTYPES, RecurrentDepthLM
from rdtheory.sampling.exits import check_int, is_int
from rdtheory.sampling.tokens import Sampling
from rdtheory.sampling.trace import Trace
from rdtheory.sampling.workspace import Workspace

PromptsLike = Tensor | Sequence[Sequence[int]]


def stack_rows(rows: list[list[Tensor]], width: int, dtype: torch.dtype) -> list[Tensor]:
    """Per-row lists of [width] tensors -> per-row [n, width] tensors on the CPU."""
    return [torch.stack(r).cpu() if r else torch.zeros(0, width, dtype=dtype) for r in rows]


def cat_rows(rows: list[list[Tensor]], width: int, dtype: torch.dtype) -> list[Tensor]:
    """Per-row lists of [n_i, width] tensors -> per-row [sum n_i, width] tensors on the CPU."""
    return [torch.cat(r).cpu() if r else torch.zeros(0, width, dtype=dtype) for r in rows]


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
    check_int(name, value, 1)


def check_common(model: RecurrentDepthLM, seed: int, sampling: Sampling, kv: KVPolicy,
                 workspace: Workspace | None) -> int:
    """The knobs every sampler shares: the noise seed, the token-sampling settings, the KV-sharing policy and the
    workspace (which must have been made for this model). Returns the seed as a Python int."""
    if not is_int(seed):
        raise TypeError(f"seed={seed!r} must be an int in [0, 2**64)")
    if not 0 <= seed < 2**64:
        raise ValueError(f"seed={seed!r} must be an int in [0, 2**64)")
    if not isinstance(sampling, Sampling):
        raise TypeError(f"sampling={sampling!r} must be a Sampling (e.g. Sampling(temperature=0.7, top_p=0.9))")
    if not isinstance(kv, KVPolicy):
        raise TypeError(f"kv={kv!r} must be a KVPolicy (ShareLast() or PerStep())")
    if workspace is not None and not isinstance(workspace, Workspace):
        raise TypeError(f"workspace={_short(workspace)} must be a Workspace (rdtheory.sampling.workspace) or None")
    if workspace is not None and workspace.model is not model:
        raise ValueError("workspace was made for another model; a Workspace holds caches and graphs of one model")
    return int(seed)


def prepare_prompts(
    model: RecurrentDepthLM, prompts: PromptsLike, max_new_tokens: int, row_ids: Sequence[int] | None
) -> Prompts:
    """Validate prompts (a [B, P] integer tensor or a list of token lists) against the model and the budget."""
    check_model(model)
    if not is_int(max_new_tokens) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens={max_new_tokens!r} must be an int >= 0")
    device, vocab, block = model.device, model.config.vocab_size, model.config.block_size
    if isinstance(prompts, np.ndarray):
        if prompts.dtype.kind not in "iu":
            raise TypeError(f"prompts dtype={prompts.dtype} must be an integer dtype")
        if prompts.ndim != 2:
            raise ValueError(f"prompts shape={list(prompts.shape)} must be [batch, length]")
        rows = prompts.tolist()
    elif isinstance(prompts, Tensor):
        if prompts.dtype.is_floating_point or prompts.dtype == torch.bool or prompts.is_complex():
            raise TypeError(f"prompts dtype={prompts.dtype} must be an integer dtype")
        if prompts.dim() != 2:
            raise ValueError(f"prompts shape={list(prompts.shape)} must be [batch, length]")
        if prompts.device != device:
            raise ValueError(f"prompts device={prompts.device} must be the model's device={device}")
        rows = [list(map(int, r)) for r in prompts.tolist()]
    else:
        if isinstance(prompts, (str, bytes)) or not isinstance(prompts, Sequence):
            raise TypeError(f"prompts={_short(prompts)} must be a list of token-id lists or a 2-D integer tensor")
        for b, r in enumerate(prompts):
            if isinstance(r, (str, bytes)) or not isinstance(r, Sequence):
                raise TypeError(f"prompts={_short(prompts)} must be a list of token-id lists or a 2-D integer "
                                f"tensor, but prompts[{b}]={_short(r)} has type {type(r).__name__} (one prompt "
                                f"goes in as [prompt])")
        rows = [list(r) for r in prompts]
        for b, r in enumerate(rows):
            for t in r:
                if not is_int(t):
                    raise TypeError(f"prompts[{b}] holds {t!r} of type {type(t).__name__}; token ids must be ints")
        rows = [[int(t) for t in r] for r in rows]
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
    if len(row_ids) != len(rows) or any(not is_int(r) or r < 0 for r in row_ids):
        raise ValueError(f"row_ids={row_ids!r} must hold one int >= 0 per prompt ({len(rows)})")
    row_ids = [int(r) for r in row_ids]
    width = max(map(len, rows))
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    for b, r in enumerate(rows):
        ids[b, : len(r)] = torch.tensor(r)
    lengths = [len(r) for r in rows]
    return Prompts(ids.to(device), lengths, torch.tensor(lengths, device=device), torch.tensor(row_ids, device=device))


def check_stop_tokens(model: RecurrentDepthLM, stop_tokens: Sequence[int] | None) -> frozenset[int]:
    """None means the model's eos ids; pass () for none."""
    if stop_tokens is not None and (isinstance(stop_tokens, (str, bytes))
                                    or not isinstance(stop_tokens, (Sequence, AbstractSet))):
        raise TypeError(f"stop_tokens={stop_tokens!r} must be a sequence of token ids (e.g. [2]), () or None")
    stops = model.config.eos_token_ids if stop_tokens is None else tuple(stop_tokens)
    vocab = model.config.vocab_size
    for t in stops:
        if not is_int(t) or not 0 <= t < vocab:
            raise ValueError(f"stop_tokens holds {t!r}; stop tokens must be int ids in [0, {vocab})")
    return frozenset(int(t) for t in stops)


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
