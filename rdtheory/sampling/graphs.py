"""CUDA graphs for the samplers' per-tick computation: launch once, replay every tick.

A tick of a recurrent-depth model is hundreds of small kernels (several layers, each run r' times); launched one
by one from Python, their launch cost rivals the memory traffic they do. `GraphCache.run(key, fn, inputs)` captures
`fn` the first time it sees `key` (a tuple naming every shape and Python value `fn` depends on) on static copies of
`inputs`, and afterwards copies the inputs into those buffers and replays the graph. `fn` must be a pure function of
its tensor inputs apart from writes into preallocated buffers (the KV cache) and must not synchronise with the host.
The outputs are the graph's own buffers: read or copy them before the next replay.
"""

from collections.abc import Callable, Hashable
from typing import Any

import torch
from torch import Tensor
from torch.utils._pytree import tree_map

Tree = Any


def use_graphs(model: torch.nn.Module, requested: bool | None) -> bool:
    """Graphs default to on for CUDA models; asking for them elsewhere is an error."""
    on_cuda = next(model.parameters()).device.type == "cuda"
    if requested and not on_cuda:
        raise ValueError("graphs=True needs a model on a CUDA device")
    return on_cuda if requested is None else requested


def bucket_width(n: int) -> int:
    """Widths are padded to powers of two, so a growing wavefront needs few graphs."""
    return 1 << max(0, n - 1).bit_length()


def bucket_context(n: int, limit: int, step: int = 256) -> int:
    """Attention spans are padded to a multiple of `step` (masked positions cost little), at most `limit`."""
    return min(limit, -(-n // step) * step)


class GraphCache:
    def __init__(self) -> None:
        self.graphs: dict[Hashable, tuple[Tree, Tree, torch.cuda.CUDAGraph]] = {}

    def __len__(self) -> int:
        return len(self.graphs)

    def run(self, key: Hashable, fn: Callable[[Tree], Tree], inputs: Tree) -> Tree:
        if key not in self.graphs:
            self.graphs[key] = self._capture(fn, inputs)
        static, outputs, graph = self.graphs[key]
        tree_map(lambda dst, src: dst.copy_(src) if isinstance(dst, Tensor) else None, static, inputs)
        graph.replay()
        return outputs

    def _capture(self, fn: Callable[[Tree], Tree], inputs: Tree) -> tuple[Tree, Tree, torch.cuda.CUDAGraph]:
        static = tree_map(lambda t: t.clone() if isinstance(t, Tensor) else t, inputs)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up: lazy initialisation must not happen during capture
            fn(static)
        torch.cuda.current_stream().wait_stream(side)
        # Each graph gets its own memory pool: graphs sharing a pool may only be replayed in capture order, and a
        # sampler replays them in whatever order its wavefront widths come.
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            outputs = fn(static)
        return static, outputs, graph


class Stager:
    """Host integers to the device without a stream synchronisation: a copy from pageable memory waits for the
    device to drain, a non-blocking copy from pinned memory does not. One pinned buffer per purpose; a buffer is
    rewritten only after the caller has synchronised with the device since its last copy (each sampler tick does)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.buffers: dict[str, Tensor] = {}

    def __call__(self, purpose: str, rows: list[list[int]]) -> Tensor:
        """rows: k lists of B ints -> a [k, B] long tensor on the device."""
        host = torch.tensor(rows, dtype=torch.long)
        if self.device.type != "cuda":
            return host.to(self.device)
        buffer = self.buffers.get(purpose)
        if buffer is None or buffer.shape != host.shape:
            buffer = self.buffers[purpose] = torch.empty(host.shape, dtype=torch.long, pin_memory=True)
        buffer.copy_(host)
        return buffer.to(self.device, non_blocking=True)
