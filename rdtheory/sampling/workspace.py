"""Reusable KV caches and CUDA graphs for repeated generations with one model.

A sampler allocates a KV cache per call and, on CUDA, captures a graph per tick shape. Capture costs about one
tick per shape, and graphs are bound to the cache buffers they were captured with, so a server or a benchmark
that generates many times passes one `Workspace` to every call: caches of the same (policy, rows, length, depth)
and their graphs are kept and reused. Without a workspace each call gets fresh ones.
"""

from collections.abc import Hashable

import torch

from rdtheory.model.cache import KVCache, KVPolicy
from rdtheory.model.recurrent import RecurrentDepthLM
from rdtheory.sampling.graphs import GraphCache, bucket_context


class Workspace:
    def __init__(self, model: RecurrentDepthLM) -> None:
        self.model = model
        self.entries: dict[Hashable, tuple[KVCache, GraphCache]] = {}

    def get(self, policy: KVPolicy, batch: int, max_len: int, max_depth: int, graphs: bool
            ) -> tuple[KVCache, GraphCache | None]:
        """A cache for `batch` rows of at least `max_len` positions (rounded up, so that similar requests share
        one), emptied; and its graphs when `graphs`."""
        m = self.model
        max_len = bucket_context(max_len, m.config.block_size)
        key = (policy, batch, max_len, max_depth, m.dtype, m.device)
        if key not in self.entries:
            self.entries[key] = (KVCache(m.config, policy, batch, max_len, max_depth, m.dtype, m.device), GraphCache())
        cache, graph_cache = self.entries[key]
        cache.truncate([0] * batch)
        return cache, graph_cache if graphs else None

    def nbytes(self) -> int:
        return sum(cache.nbytes() for cache, _ in self.entries.values())

    def clear(self) -> None:
        self.entries.clear()
        if self.model.device.type == "cuda":
            torch.cuda.empty_cache()
