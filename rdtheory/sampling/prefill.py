"""The prompt prefill shared by every sampler: all prompt positions through a fixed depth in one parallel pass.

Sharing it is what makes the samplers' exact reductions possible: AR and diffusion forcing start from the same
keys, states and first token.
"""

from collections.abc import Hashable

import torch
from torch import Tensor

from rdtheory.model.cache import KVCache
from rdtheory.model.recurrent import RecurrentDepthLM
from rdtheory.sampling.batch import Prompts
from rdtheory.sampling.finite import nonfinite_codes, raise_nonfinite
from rdtheory.sampling.graphs import GraphCache
from rdtheory.sampling.trace import Block, Tick, Trace


def prefill(model: RecurrentDepthLM, batch: Prompts, cache: KVCache, depth: int, init_scale: float, seed: int,
            trace: Trace, graphs: GraphCache | None = None, signature: Hashable = None
            ) -> tuple[Tensor, Tensor, Tensor]:
    """Run every prompt position through `depth` recurrences in one parallel pass (writing all its keys), record
    the tick, and return each row's last-position state [B, 1, h], logits [B, 1, V] and position [B, 1]."""
    x = dict(ids=batch.ids, lengths=batch.lengths_t, rows=batch.rows)

    def compute(x: dict) -> dict:
        return _prefill(model, cache, depth, init_scale, seed, x)

    key = (signature, "prefill", tuple(batch.ids.shape), depth)
    out = compute(x) if graphs is None else graphs.run(key, compute, x)
    blocks = [Block(b, 0, (1,) * n, depth) for b, n in enumerate(batch.lengths)]
    trace.ticks.append(Tick(passes=depth, blocks=blocks, prefill=True))
    cache.truncate(list(batch.lengths))
    for b, code in enumerate(out["nonfinite"][:, 0].tolist()):  # once per generation
        raise_nonfinite(code, b, batch.lengths[b] - 1, depth)
    return out["state"], out["logits"], out["last"]


def _prefill(model: RecurrentDepthLM, cache: KVCache, depth: int, init_scale: float, seed: int, x: dict) -> dict:
    ids, lengths = x["ids"], x["lengths"]
    pos = torch.arange(ids.shape[1], device=model.device).expand_as(ids)
    chunk = model.chunk(pos, pos < lengths[:, None], kv_len=ids.shape[1])
    e = model.embed(ids, chunk, cache)
    state = model.initial_state(chunk, init_scale, seed, x["rows"])
    for k in range(1, depth + 1):
        state = model.core_step(state, e, chunk, cache, k)
    logits = model.decode(state, chunk, cache)
    last = (lengths - 1)[:, None]
    take = torch.arange(ids.shape[0], device=model.device)[:, None], last
    return dict(state=state[take], logits=logits[take], last=last, nonfinite=nonfinite_codes(state[take], logits[take]))
