"""A deliberately plain AR oracle: no engine, no preallocated cache, no batching, no cleverness.

One prompt, one token at a time, through the plain stages of `rdtheory.testing.plain_stages`: keys and values in a
dictionary per layer and position, each query gathering its keys one position at a time in a Python loop, rotary
embedding as complex multiplication. Only the module weights, the position-keyed initial states and the exit-rule
objects are shared with the package, so an equivalence between a sampler and this oracle tests the sampler's
cache, batching and scheduling, not a copy of them. Use it only on tiny models.
"""

from dataclasses import dataclass

import torch
from torch import Tensor

from rdtheory.model.cache import KVPolicy
from rdtheory.model.noise import initial_states
from rdtheory.model.recurrent import RecurrentDepthLM
from rdtheory.sampling.exits import ExitRule, FixedDepth
from rdtheory.testing.plain_stages import KeyStore, core, decode, embed


@dataclass
class OracleResult:
    tokens: list[int]
    latents: Tensor  # [n, h]: the state each token was decoded from
    depths: list[int]  # recurrences of each decoded position (the prompt's last position first)


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
    keys = KeyStore(kv.per_step)
    h = model.config.n_embd

    def init(positions: list[int]) -> Tensor:
        pos = torch.tensor([positions], device=model.device)
        rows = torch.tensor([row], device=model.device)
        return initial_states(h, init_scale, seed, rows, pos, 0, model.dtype)[0]

    positions = list(range(len(prompt)))
    e = embed(model, prompt, positions, keys)
    s = init(positions)
    for k in range(1, prefill_depth + 1):
        s = core(model, s, e, positions, k, keys)
    logits = decode(model, s, positions, keys)
    tokens, latents, depths = [int(logits[-1].argmax())], [s[-1]], [prefill_depth]
    while len(tokens) < max_new_tokens and tokens[-1] not in stop_tokens:
        p = len(prompt) + len(tokens) - 1
        e = embed(model, [tokens[-1]], [p], keys)
        s = latents[-1][None] if continuous_compute else init([p])
        memory = exit.start(s[None], model.config.vocab_size)
        for k in range(1, max_depth + 1):
            s = core(model, s, e, [p], k, keys)
            if k == max_depth:
                break
            if k < min_depth or k % check_every:
                continue
            logits = token = None
            if exit.needs_logits:
                logits = decode(model, s, [p], keys)[None]
                token = logits.argmax(-1)
            converged, memory = exit.check(memory, s[None], logits, token, torch.full((1, 1), k))
            if bool(converged[0, 0]):
                break
        tokens.append(int(decode(model, s, [p], keys)[-1].argmax()))
        latents.append(s[-1])
        depths.append(k)
    return OracleResult(tokens, torch.stack(latents), depths)
