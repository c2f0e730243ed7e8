"""The KV cache: preallocated key and value tensors, written by index, with a policy for sharing across depth.

Layout: keys and values are [slot, batch, head, position, head_dim] with one extra position column at the end
(the "trash" column) that receives the writes of padding entries, so every write has a static shape. Slots are
prelude layers, then core slots, then coda layers. How core layer j at recurrence k maps to a core slot, and which
recurrence of an earlier position a query reads, is the KV sharing policy's (`ShareLast`, `PerStep`:
`rdtheory.knobs.kv`, re-exported here); a policy whose queries read per-query slots gets `PerStepAccess`.

The cache knows nothing about samplers; it does not decide what is committed. `lengths` is the samplers'
bookkeeping of committed positions per row; attention visibility comes from positions alone (key <= query).
"""

import torch
from torch import Tensor

from rdtheory.config import ModelConfig
from rdtheory.knobs.kv import KVPolicy, PerStep, ShareLast
from rdtheory.model.layers import Chunk

__all__ = ["KVCache", "KVPolicy", "PerStep", "PerStepAccess", "ShareLast", "SlotAccess"]


class KVCache:
    """Preallocated keys and values for `batch_size` rows of up to `max_len` positions.

    `max_depth` is the deepest recurrence a position may reach (only `PerStep` allocates for it).
    """

    def __init__(
        self,
        config: ModelConfig,
        policy: KVPolicy,
        batch_size: int,
        max_len: int,
        max_depth: int,
        dtype: torch.dtype,
        device: torch.device | str,
    ) -> None:
        if not 1 <= max_len <= config.block_size:
            raise ValueError(f"max_len={max_len} must lie in [1, block_size={config.block_size}]")
        if max_depth < 1:
            raise ValueError(f"max_depth={max_depth} must be >= 1")
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size} must be >= 1")
        self.config, self.policy = config, policy
        self.batch_size, self.max_len, self.max_depth = batch_size, max_len, max_depth
        self.n_prelude, self.n_core = config.n_layers_in_prelude, config.n_layers_in_recurrent_block
        self.n_core_slots = policy.core_slots(self.n_core, max_depth)
        n_slots = self.n_prelude + self.n_core_slots + config.n_layers_in_coda
        shape = (n_slots, batch_size, config.n_heads, max_len + 1, config.head_dim)
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)
        # Deepest recurrence stored per position (PerStep reads min(k, depth)); unused under ShareLast.
        self.depth = torch.zeros(batch_size, max_len + 1, dtype=torch.long, device=device)
        self.lengths = [0] * batch_size

    @property
    def trash(self) -> int:
        """The position column that absorbs writes of padding entries."""
        return self.max_len

    def nbytes(self) -> int:
        return self.k.numel() * self.k.element_size() * 2

    def truncate(self, lengths: list[int]) -> None:
        """Set each row's committed length; stored depths beyond it are forgotten."""
        if len(lengths) != self.batch_size:
            raise ValueError(f"lengths has {len(lengths)} entries; the cache has batch_size={self.batch_size}")
        for row, n in enumerate(lengths):
            if not 0 <= n <= self.max_len:
                raise ValueError(f"lengths[{row}]={n} must lie in [0, max_len={self.max_len}]")
            if self.policy.reads_per_query and n < self.lengths[row]:
                self.depth[row, n:] = 0
        self.lengths = list(lengths)

    # ------------------------------------------------------------------------------------------------ access

    def prelude(self, layer: int) -> "SlotAccess":
        return SlotAccess(self, layer)

    def coda(self, layer: int) -> "SlotAccess":
        return SlotAccess(self, self.n_prelude + self.n_core_slots + layer)

    def core(self, layer: int, step: int | Tensor) -> "SlotAccess | PerStepAccess":
        """Access for core layer `layer` at recurrence `step` (1-based; an int or a [B, W] tensor per entry)."""
        if not self.policy.reads_per_query:  # one slot whatever the step
            return SlotAccess(self, self.n_prelude + self.policy.core_slot(layer, 1, self.n_core))
        return PerStepAccess(self, layer, step)

    def write_index(self, chunk: Chunk) -> Tensor:
        return torch.where(chunk.valid, chunk.pos, self.trash)

    def visible(self, chunk: Chunk) -> Tensor:
        """[B, 1, W, L]: cached position l is visible to query w iff l <= its position."""
        return chunk.cache_mask


class SlotAccess:
    """Writes to and reads from one slot for every entry of the chunk. Holds the slot's key and value tensors
    (views into the cache), not its index, so that compiled code sees every slot as the same kind of input."""

    def __init__(self, cache: KVCache, slot: int) -> None:
        self.k, self.v, self.trash = cache.k[slot], cache.v[slot], cache.trash

    def exchange(self, k: Tensor, v: Tensor, chunk: Chunk) -> tuple[Tensor, Tensor, Tensor]:
        rows = torch.arange(k.shape[0], device=k.device)[:, None]
        where = torch.where(chunk.valid, chunk.pos, self.trash)
        self.k[rows, :, where] = k.transpose(1, 2)
        self.v[rows, :, where] = v.transpose(1, 2)
        n = chunk.kv_len
        return self.k[:, :, :n], self.v[:, :, :n], chunk.cache_mask


class PerStepAccess:
    """Core-layer access under `PerStep`: write recurrence k's slot, read recurrence min(k, depth) of each key."""

    def __init__(self, cache: KVCache, layer: int, step: int | Tensor) -> None:
        self.cache, self.layer, self.step = cache, layer, step

    def _slot(self, step: Tensor | int) -> Tensor | int:
        c = self.cache
        return c.n_prelude + c.policy.core_slot(self.layer, step, c.n_core)

    def exchange(self, k: Tensor, v: Tensor, chunk: Chunk) -> tuple[Tensor, Tensor, Tensor]:
        c, n = self.cache, chunk.kv_len
        step = self.step
        # A tensor of steps is checked by its caller, which knows the counts on the host (no device sync here).
        if isinstance(step, int) and not 1 <= step <= c.max_depth:
            raise ValueError(f"recurrence step={step} must lie in [1, max_depth={c.max_depth}] of this PerStep "
                             f"cache; allocate the cache with a larger max_depth")
        step_t = torch.as_tensor(step, device=k.device).expand(chunk.pos.shape)
        rows = torch.arange(c.batch_size, device=k.device)[:, None]
        where = c.write_index(chunk)
        slot = self._slot(step_t)
        c.k[slot, rows, :, where] = k.transpose(1, 2)
        c.v[slot, rows, :, where] = v.transpose(1, 2)
        c.depth[rows, where] = step_t
        depth = c.depth[:, :n]
        if isinstance(step, int):
            # One recurrence for the whole chunk: each key position reads one slot.
            read = self._slot(torch.clamp(depth, min=1, max=step))  # [B, L]
            pos = torch.arange(n, device=k.device)[None, :]
            keys = c.k[read, rows, :, pos].permute(0, 2, 1, 3)
            values = c.v[read, rows, :, pos].permute(0, 2, 1, 3)
            return keys, values, c.visible(chunk)
        # A recurrence per query (a wavefront): each (query, key) pair reads its own slot.
        read = self._slot(torch.clamp(torch.minimum(depth[:, None, :], step_t[:, :, None]), min=1))  # [B, W, L]
        pos = torch.arange(n, device=k.device)[None, None, :]
        keys = c.k[read, rows[:, :, None], :, pos].permute(0, 1, 3, 2, 4)  # [B, W, H, L, D]
        values = c.v[read, rows[:, :, None], :, pos].permute(0, 1, 3, 2, 4)
        return keys, values, c.visible(chunk).squeeze(1)[:, :, None, :]
