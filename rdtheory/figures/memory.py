"""The KV-memory model for Huginn-0125: a cache without sharing (a slot per recurrence step, growing with
L · r · layers) against KV sharing (one slot per layer, growing with L · layers), the wavefront's state vectors
(W · h), and the weights, against the capacity of the bundled accelerators. Bytes from `rdtheory.costs.memory`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rdtheory.config import HUGINN_0125, ModelConfig
from rdtheory.costs.hardware import load_hardware
from rdtheory.costs.memory import kv_cache_bytes, wavefront_state_bytes, weights_bytes
from rdtheory.figures.output import new_figure
from rdtheory.model.cache import PerStep, ShareLast
from rdtheory.paper import DEPTH
from rdtheory.theory.checks import require, require_int


@dataclass(frozen=True)
class MemoryCurves:
    """Bytes against the positions cached per row, for `batch` rows at depth r; bytes against r at the last
    position count (`depths`, `per_step_by_depth`); states for each wavefront width; device capacities."""

    depth: int
    batch: int
    dtype: str
    positions: tuple[int, ...]
    per_step: tuple[int, ...]
    share_last: tuple[int, ...]
    weights: int
    states: dict[int, int]
    capacities: dict[str, float]
    depths: tuple[int, ...]
    per_step_by_depth: tuple[int, ...]


def memory_curves(depth: int = DEPTH, batch: int = 1, positions: Sequence[int] = tuple(2**k for k in range(4, 13)),
                  wavefronts: Sequence[int] = (8, 128), dtype: str = "bfloat16",
                  depths: Sequence[int] = (1, 2, 4, 8, 16, 32, 64, 128),
                  config: ModelConfig = HUGINN_0125) -> MemoryCurves:
    """States use 4 vectors per position (state, embedding, previous state, previous embedding: the paper's
    defaults with the latent-difference exit and the EMA)."""
    require_int("depth", depth, 1)
    require_int("batch", batch, 1)
    require("positions", tuple(positions), bool(positions), "must hold at least one position count")
    require("depths", tuple(depths), bool(depths), "must hold at least one depth")
    for n in positions:
        require_int("positions", n, 1)
    for w in wavefronts:
        require_int("wavefront", w, 1)
    longest = max(positions)
    return MemoryCurves(
        depth, batch, dtype, tuple(positions),
        tuple(kv_cache_bytes(config, PerStep(), batch, n, depth, dtype) for n in positions),
        tuple(kv_cache_bytes(config, ShareLast(), batch, n, depth, dtype) for n in positions),
        weights_bytes(config, dtype),
        {w: wavefront_state_bytes(config, batch, w, dtype, vectors=4) for w in wavefronts},
        {hw.name: hw.memory_bytes for hw in load_hardware().values()},
        tuple(depths), tuple(kv_cache_bytes(config, PerStep(), batch, longest, r, dtype) for r in depths))


def _capacity_lines(ax: Any, capacities: dict[str, float], x: float, gb: float) -> None:
    """One dotted line per distinct capacity, labelled with every accelerator that has it."""
    grouped: dict[float, list[str]] = {}
    for name, cap in capacities.items():
        grouped.setdefault(cap, []).append(name)
    for cap, names in sorted(grouped.items()):
        ax.axhline(cap / gb, linestyle=":", color="grey", linewidth=0.7, gid=f"capacity:{cap / gb:g}")
        ax.text(x, cap / gb, f"{', '.join(names)} ({cap / gb:.0f} GB) ", fontsize=6, ha="right", va="bottom",
                color="grey")


def memory_figure(c: MemoryCurves) -> Any:
    """Left: bytes against positions cached. Right: the unshared cache against r at the longest position count
    (the shared cache does not depend on r)."""
    fig, (left, right) = new_figure(1, 2, width=13.0, height=4.8)
    gb = 1e9
    left.loglog(c.positions, np.array(c.per_step) / gb, "o-", label=f"KV cache, a slot per step (r={c.depth})",
                gid="per_step")
    left.loglog(c.positions, np.array(c.share_last) / gb, "s-", label="KV cache, shared (last recurrence)",
                gid="share_last")
    for w, b in c.states.items():
        left.axhline(b / gb, linestyle="--", color="tab:green", linewidth=0.8, gid=f"states:{w}")
        left.text(c.positions[0], b / gb, f" wavefront states W={w}", fontsize=7, va="bottom")
    left.set_xlabel("positions cached per row")
    left.set_title("KV sharing stores one recurrence per position", fontsize=9)
    longest = max(c.positions)
    right.loglog(c.depths, np.array(c.per_step_by_depth) / gb, "o-", label="KV cache, a slot per step",
                 gid="per_step_by_depth")
    shared = c.share_last[c.positions.index(longest)]
    right.axhline(shared / gb, color="tab:orange", label="KV cache, shared", gid="share_last_by_depth")
    right.set_xscale("log", base=2)
    right.set_xlabel("recurrence depth r (slots per core layer without sharing)")
    right.set_title(f"{longest} positions cached per row", fontsize=9)
    for ax, x in ((left, c.positions[-1]), (right, c.depths[-1])):
        ax.axhline(c.weights / gb, color="black", label=f"weights {c.weights / gb:.2f} GB", gid="weights")
        _capacity_lines(ax, c.capacities, x, gb)
        ax.set_ylabel(f"GB ({c.dtype}, batch {c.batch})")
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle("Huginn-0125 device memory", fontsize=10)
    return fig
