"""Device memory a generation holds: weights, the KV cache under a sharing policy, wavefront states, transients.

Owns the footprint arithmetic; counts of parameters and per-position KV bytes come from `counts`. Knows nothing
about time, hardware or samplers. A policy is any object with `core_slots(n_core, max_depth)` (the model's
`ShareLast()` or `PerStep()`); None means `ShareLast` (one slot per core layer).
"""

from dataclasses import dataclass

from rdtheory.config import ModelConfig
from rdtheory.costs.counts import KVSharing, dtype_bytes, kv_bytes_per_position, total_params


def weights_bytes(config: ModelConfig, dtype: object) -> int:
    """All unique parameters (a tied head counted once) times element bytes: 7,129,953,600 for Huginn-0125 bf16."""
    return total_params(config) * dtype_bytes(dtype)


def core_kv_slots(config: ModelConfig, kv: KVSharing | None, max_depth: int) -> int:
    """Core-layer slots: n_core under ShareLast, n_core * max_depth under PerStep."""
    if max_depth < 1:
        raise ValueError(f"max_depth={max_depth} must be >= 1")
    n_core = config.n_layers_in_recurrent_block
    return n_core if kv is None else kv.core_slots(n_core, max_depth)


def kv_slots(config: ModelConfig, kv: KVSharing | None, max_depth: int) -> int:
    """Cache slots of every layer: n_prelude + core slots + n_coda (Huginn: 8 shared, 132 per step at r = 32)."""
    return config.n_layers_in_prelude + core_kv_slots(config, kv, max_depth) + config.n_layers_in_coda


def kv_bytes_per_token(config: ModelConfig, kv: KVSharing | None, max_depth: int, dtype: object) -> int:
    """kv_slots * 2h * bytes: 168,960 (ShareLast) and 2,787,840 (PerStep, r = 32) for Huginn-0125 in bf16."""
    return kv_slots(config, kv, max_depth) * kv_bytes_per_position(config, dtype)


def kv_cache_bytes(config: ModelConfig, kv: KVSharing | None, batch: int, positions: int, max_depth: int,
                   dtype: object) -> int:
    """batch * positions * kv_bytes_per_token."""
    return batch * positions * kv_bytes_per_token(config, kv, max_depth, dtype)


def kv_cache_allocation_bytes(config: ModelConfig, kv: KVSharing | None, batch: int, max_len: int, max_depth: int,
                              dtype: object) -> int:
    """What `KVCache(config, kv, batch, max_len, max_depth, dtype)` allocates for keys and values:
    kv_cache_bytes over max_len + 1 positions (its extra column absorbs the writes of padding entries)."""
    return kv_cache_bytes(config, kv, batch, max_len + 1, max_depth, dtype)


def wavefront_state_bytes(config: ModelConfig, batch: int, width: int, dtype: object, vectors: int = 2) -> int:
    """vectors * B * W * h * bytes: the h-vectors kept per active position. Every core step needs the state and
    the embedding (2); the latent-difference exit keeps the previous state and the embedding EMA the previous
    embedding (4 with the paper's defaults)."""
    return vectors * batch * width * config.n_embd * dtype_bytes(dtype)


def transient_bytes(config: ModelConfig, width: int, context: int, batch: int, dtype: object,
                    per_query_kv: bool = False) -> int:
    """Largest short-lived tensors of one call over W positions: the larger of the head's logits with their
    float32 copy, B W V (e + 4) (e alone for float32 or wider), and the MLP's fc output with the gated product,
    B W 3I e; plus, for per-query keys, the gathered keys and values B W L 2h e."""
    e = dtype_bytes(dtype)
    logits = batch * width * config.vocab_size * (e + 4 if e < 4 else e)
    mlp = batch * width * 3 * config.intermediate_size * e
    gathered = batch * width * context * kv_bytes_per_position(config, dtype) if per_query_kv else 0
    return max(logits, mlp) + gathered


@dataclass(frozen=True)
class Footprint:
    """Bytes held on the device during a generation, by kind."""

    weight_bytes: int
    kv_cache_bytes: int
    state_bytes: int
    transient_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.weight_bytes + self.kv_cache_bytes + self.state_bytes + self.transient_bytes


def footprint(config: ModelConfig, kv: KVSharing | None, *, batch: int, max_len: int, max_depth: int,
              widest: int, wavefront: int, dtype: object, state_vectors: int = 2,
              per_query_kv: bool = False) -> Footprint:
    """Weights + a KV cache for `max_len` positions per row + states of a `wavefront` of positions per row +
    the transients of the `widest` call (a prefill's width, usually), reading `max_len` positions."""
    return Footprint(
        weight_bytes=weights_bytes(config, dtype),
        kv_cache_bytes=kv_cache_allocation_bytes(config, kv, batch, max_len, max_depth, dtype),
        state_bytes=wavefront_state_bytes(config, batch, wavefront, dtype, state_vectors),
        transient_bytes=max(transient_bytes(config, widest, max_len, batch, dtype),
                            transient_bytes(config, wavefront, max_len, batch, dtype, per_query_kv)),
    )
