"""A deliberately plain AR oracle: no engine, no preallocated cache, no batching, no cleverness.

One prompt, one token at a time. Keys and values live in a dictionary per layer and position; each query gathers
its keys one position at a time in a Python loop; rotary embedding is complex multiplication. Only the module
weights, the position-keyed initial states and the exit-rule objects are shared with the package, so an
equivalence between a sampler and this oracle tests the sampler's cache, batching and scheduling, not a copy of
them. Use it only on tiny models.
"""

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from rdtheory.model.cache import KVPolicy
from rdtheory.model.layers import SandwichBlock
from rdtheory.model.noise import initial_states
from rdtheory.model.recurrent import RecurrentDepthLM
from rdtheory.sampling.exits import ExitRule, FixedDepth


@dataclass
class OracleResult:
    tokens: list[int]
    latents: Tensor  # [n, h]: the state each token was decoded from
    depths: list[int]  # recurrences of each decoded position (the prompt's last position first)


@dataclass
class _Keys:
    """keys[(stage, layer)][pos][step] = (k, v); PerStep keeps every core step, otherwise only the latest."""

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
           keys: _Keys, base: float) -> Tensor:
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


def _embed(model: RecurrentDepthLM, ids: list[int], positions: list[int], keys: _Keys) -> Tensor:
    x = model.transformer.wte(torch.tensor(ids, device=model.device)) * math.sqrt(model.config.n_embd)
    for i, block in enumerate(model.transformer.prelude):
        x = _block(block, x, positions, ("prelude", i), 0, keys, model.config.rope_base)
    return x


def _core(model: RecurrentDepthLM, s: Tensor, e: Tensor, positions: list[int], step: int, keys: _Keys) -> Tensor:
    x = model.transformer.adapter(torch.cat([s, e], -1))
    for j, block in enumerate(model.transformer.core_block):
        x = _block(block, x, positions, ("core", j), step, keys, model.config.rope_base)
    return x


def _decode(model: RecurrentDepthLM, s: Tensor, positions: list[int], keys: _Keys) -> Tensor:
    x = model.transformer.ln_f(s)
    for i, block in enumerate(model.transformer.coda):
        x = _block(block, x, positions, ("coda", i), 0, keys, model.config.rope_base)
    return model.lm_head(model.transformer.ln_f(x))


@torch.no_grad()
def oracle_generate(
    model: RecurrentDepthLM,
    prompt: list[int],
    max_new_tokens: int,
    kv: KVPolicy,
    depth: int | None = None,
    exit: ExitRule | None = None,
    max_depth: int | None = None,
    min_depth: int = 1,
    check_every: int = 1,
    prefill_depth: int | None = None,
    init_scale: float = 0.0,
    seed: int = 0,
    row: int = 0,
    stop_tokens: frozenset[int] = frozenset(),
    continuous_compute: bool = False,
) -> OracleResult:
    """Greedy AR: static at `depth`, or adaptive with `exit` (checked at k >= min_depth, k % check_every == 0,
    forced at max_depth). The prompt is run in parallel at prefill_depth (default: depth or max_depth)."""
    if exit is None:
        exit, max_depth = FixedDepth(depth), depth
    prefill_depth = prefill_depth or max_depth
    keys = _Keys(kv.per_step)
    h = model.config.n_embd

    def init(positions: list[int]) -> Tensor:
        pos = torch.tensor([positions], device=model.device)
        rows = torch.tensor([row], device=model.device)
        return initial_states(h, init_scale, seed, rows, pos, 0, model.dtype)[0]

    positions = list(range(len(prompt)))
    e = _embed(model, prompt, positions, keys)
    s = init(positions)
    for k in range(1, prefill_depth + 1):
        s = _core(model, s, e, positions, k, keys)
    logits = _decode(model, s, positions, keys)
    tokens, latents, depths = [int(logits[-1].argmax())], [s[-1]], [prefill_depth]
    while len(tokens) < max_new_tokens and tokens[-1] not in stop_tokens:
        p = len(prompt) + len(tokens) - 1
        e = _embed(model, [tokens[-1]], [p], keys)
        s = latents[-1][None] if continuous_compute else init([p])
        memory = exit.start(s[None], model.config.vocab_size)
        for k in range(1, max_depth + 1):
            s = _core(model, s, e, [p], k, keys)
            if k == max_depth:
                break
            if k < min_depth or k % check_every:
                continue
            logits = token = None
            if exit.needs_logits:
                logits = _decode(model, s, [p], keys)[None]
                token = logits.argmax(-1)
            converged, memory = exit.check(memory, s[None], logits, token, torch.full((1, 1), k))
            if bool(converged[0, 0]):
                break
        tokens.append(int(_decode(model, s, [p], keys)[-1].argmax()))
        latents.append(s[-1])
        depths.append(k)
    return OracleResult(tokens, torch.stack(latents), depths)
