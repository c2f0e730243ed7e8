"""The model's stages written out plainly, one position at a time, for the AR oracle (`oracle`) and the DF reference
(`df_reference`): no engine, no preallocated cache, no batching.

Keys and values live in a dictionary per layer and position (`KeyStore`); each query gathers its keys one position
at a time in a Python loop; rotary embedding is complex multiplication. Only the module weights are shared with
the package (`RecurrentDepthLM`'s layers, called directly), so an equivalence between a sampler and the oracles
tests the sampler's cache, batching and scheduling, not a copy of them. Knows nothing of exit rules, token picking
or schedules. Use it only on tiny models.
"""

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from rdtheory.model.layers import SandwichBlock
from rdtheory.model.recurrent import RecurrentDepthLM


@dataclass
class KeyStore:
    """Keys and values by (stage, layer), position and step: store[(stage, layer)][pos][step] = (k, v). PerStep
    keeps every core step of a position (a query at step k reads min(k, the deepest stored)); otherwise only the
    latest pass of a position is kept."""

    per_step: bool
    store: dict = field(default_factory=dict)

    def put(self, where: tuple[str, int], pos: int, step: int, k: Tensor, v: Tensor) -> None:
        entries = self.store.setdefault(where, {}).setdefault(pos, {})
        if not (self.per_step and where[0] == "core"):
            entries.clear()
        entries[step] = (k, v)

    def get(self, where: tuple[str, int], pos: int, step: int) -> tuple[Tensor, Tensor]:
        entries = self.store[where][pos]
        if self.per_step and where[0] == "core":
            return entries[min(step, max(entries))]
        return entries[max(entries)]


def _rotate(x: Tensor, pos: int, base: float) -> Tensor:
    """x [H, D]: interleaved pairs as complex numbers times exp(i * pos * base^(-2j/D))."""
    d = x.shape[-1]
    theta = pos * base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    pairs = torch.view_as_complex(x.double().reshape(*x.shape[:-1], d // 2, 2).contiguous())
    return torch.view_as_real(pairs * torch.polar(torch.ones_like(theta), theta)).flatten(-2).to(x.dtype)


def _block(block: SandwichBlock, x: Tensor, positions: list[int], where: tuple[str, int], step: int,
           keys: KeyStore, base: float) -> Tensor:
    """x [n, h] at `positions`: store this block's keys for all of them, then let each attend to keys <= itself."""
    attn = block.attn
    h_, d = attn.n_heads, attn.head_dim
    q, k, v = attn.Wqkv(block.norm_1(x)).reshape(len(positions), 3, h_, d).unbind(1)
    if attn.qk_bias is not None:
        q, k = q + attn.qk_bias[0, 0], k + attn.qk_bias[1, 0]
    for i, p in enumerate(positions):
        keys.put(where, p, step, _rotate(k[i], p, base), v[i])
    outs = []
    for i, p in enumerate(positions):
        ks, vs = zip(*(keys.get(where, j, step) for j in range(p + 1)))
        scores = torch.einsum("hd,jhd->hj", _rotate(q[i], p, base), torch.stack(ks)) / math.sqrt(d)
        outs.append(torch.einsum("hj,jhd->hd", scores.softmax(-1), torch.stack(vs)).flatten())
    x = block.norm_2(x + attn.proj(torch.stack(outs)))
    return block.norm_4(x + block.mlp(block.norm_3(x)))


def embed(model: RecurrentDepthLM, ids: list[int], positions: list[int], keys: KeyStore) -> Tensor:
    """The prelude over tokens `ids` at `positions`: e [n, h]; stores the prelude's keys."""
    x = model.transformer.wte(torch.tensor(ids, device=model.device)) * math.sqrt(model.config.n_embd)
    for i, block in enumerate(model.transformer.prelude):
        x = _block(block, x, positions, ("prelude", i), 0, keys, model.config.rope_base)
    return x


def core(model: RecurrentDepthLM, s: Tensor, e: Tensor, positions: list[int], step: int, keys: KeyStore) -> Tensor:
    """Recurrence `step` of the core block from states s [n, h] with embeddings e [n, h]: the next states [n, h]."""
    x = model.transformer.adapter(torch.cat([s, e], -1))
    for j, block in enumerate(model.transformer.core_block):
        x = _block(block, x, positions, ("core", j), step, keys, model.config.rope_base)
    return x


def decode(model: RecurrentDepthLM, s: Tensor, positions: list[int], keys: KeyStore) -> Tensor:
    """The coda and the head over states s [n, h]: logits [n, vocab]; stores the coda's keys."""
    x = model.transformer.ln_f(s)
    for i, block in enumerate(model.transformer.coda):
        x = _block(block, x, positions, ("coda", i), 0, keys, model.config.rope_base)
    return model.lm_head(model.transformer.ln_f(x))
