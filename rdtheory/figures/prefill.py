"""Prefill: depth scaling against width scaling (Definition B.3, Theorem 4.2) and Remark 4.3's probability.

Masks come from `rdtheory.theory.width_mask`; costs from `prefill_cost` with Huginn-0125's core-block FLOPs per
position (linear layers) and per (query, key) pair (attention) from `rdtheory.costs.counts`; the parallelism
ratio from `width_per_time_ratio` on the theorem's clock at the roofline L* of an accelerator
(`rdtheory.costs.roofline.time_model`); the probability Pr[L >= L*] from `lognormal_tail`, for prompt lengths
log-normal around a given median (an assumption the caller states), at the L* of every bundled accelerator.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rdtheory.config import HUGINN_0125, ModelConfig
from rdtheory.costs.counts import Stage, stage_attention_flops, stage_matmul_flops
from rdtheory.costs.hardware import load_hardware
from rdtheory.costs.roofline import saturation_width, time_model
from rdtheory.figures.output import new_figure
from rdtheory.theory import Scaling, lognormal_tail, prefill_cost, width_mask, width_per_time_ratio
from rdtheory.theory.checks import require, require_int
from rdtheory.theory.prefill import flat


def mask_matrix(scaling: Scaling, length: int, copies: int) -> np.ndarray:
    """Boolean [queries, keys] mask: the causal L × L mask of one depth pass, or the Ls × Ls width mask (copy
    (i, j) at row and column i·s + j - 1)."""
    require_int("length", length, 1)
    require_int("copies", copies, 1)
    if scaling is Scaling.DEPTH:
        return np.tril(np.ones((length, length), dtype=bool))
    size = length * copies
    out = np.zeros((size, size), dtype=bool)
    for query, key in width_mask(length, copies, share=scaling is Scaling.WIDTH_KV_SHARE):
        out[flat(query, copies), flat(key, copies)] = True
    return out


def masks_figure(length: int = 4, copies: int = 3) -> Any:
    """The causal mask of one depth pass and the two width masks over the copies (i, j), ticks at the copies of
    each token (thin lines separate tokens)."""
    fig, axes = new_figure(1, 3, width=12.0, height=5.0)
    titles = {Scaling.DEPTH: f"depth: each of {copies} passes, causal", Scaling.WIDTH_KV_SHARE: "Width-KVShare",
              Scaling.WIDTH_NO_SHARE: "Width-NoShare"}
    for ax, (scaling, title) in zip(axes, titles.items()):
        mask = mask_matrix(scaling, length, copies)
        ax.imshow(mask, cmap="Greys", vmin=0, vmax=1.6, interpolation="nearest").set_gid(f"mask:{scaling.value}")
        if scaling is Scaling.DEPTH:
            labels = [str(i) for i in range(length)]
        else:
            labels = [f"{i},{j}" for i in range(length) for j in range(1, copies + 1)]
            for edge in np.arange(copies, length * copies, copies) - 0.5:
                ax.axhline(edge, color="tab:blue", linewidth=0.6)
                ax.axvline(edge, color="tab:blue", linewidth=0.6)
        ax.set_xticks(range(len(labels)), labels, rotation=0 if scaling is Scaling.DEPTH else 90, fontsize=6)
        ax.set_yticks(range(len(labels)), labels, fontsize=6)
        pairs = int(mask.sum()) * (copies if scaling is Scaling.DEPTH else 1)
        ax.set_title(f"{title}\n{pairs} (query, key) pairs in all", fontsize=9)
        ax.set_xlabel("key (token i)" if scaling is Scaling.DEPTH else "key (token i, copy j)")
        ax.set_ylabel("query")
    fig.suptitle(f"Definition B.3 masks, L={length} tokens, s={copies} copies", fontsize=10)
    return fig


def huginn_unit_costs(config: ModelConfig = HUGINN_0125) -> tuple[int, int]:
    """(FLOPs of one position through the core block's linear layers, FLOPs of one attended (query, key) pair)."""
    return (stage_matmul_flops(config, Stage.CORE, 1, 1), stage_attention_flops(config, Stage.CORE, 1, 1, 1))


@dataclass(frozen=True)
class PrefillCurves:
    """E_Depth, E_Width-KVShare, E_Width-NoShare against L at one s; the parallelism ratio against L per s."""

    lengths: tuple[int, ...]
    copies: int
    costs: dict[Scaling, tuple[float, ...]]
    ratio_copies: tuple[int, ...]
    ratios: dict[int, tuple[float, ...]]
    l_star: int
    hardware: str


def prefill_curves(lengths: Sequence[int] = tuple(2**k for k in range(0, 19)), copies: int = 4,
                   ratio_copies: Sequence[int] = (2, 4, 8), hardware: str = "H100 SXM", context: int = 1024,
                   config: ModelConfig = HUGINN_0125) -> PrefillCurves:
    require("lengths", tuple(lengths), bool(lengths), "must hold at least one prompt length")
    require("ratio_copies", tuple(ratio_copies), bool(ratio_copies), "must hold at least one s")
    for n in lengths:
        require_int("length", n, 1)
    for s in (copies, *ratio_copies):
        require_int("copies", s, 1)
    linear, attention = huginn_unit_costs(config)
    costs = {s: tuple(float(prefill_cost(s, n, copies, linear, attention)) for n in lengths) for s in Scaling}
    model = time_model(config, load_hardware()[hardware], context)
    ratios = {s: tuple(float(width_per_time_ratio(n, s, model)) for n in lengths) for s in ratio_copies}
    return PrefillCurves(tuple(lengths), copies, costs, tuple(ratio_copies), ratios, model.l_star, hardware)


def prefill_figure(c: PrefillCurves) -> Any:
    """Left: the three prefill costs against L. Middle: the width costs over E_Depth (linear layers dominate
    short prompts, attention long ones). Right: the parallelism ratio against L with the roofline L*."""
    from matplotlib.ticker import NullFormatter

    fig, (left, middle, right) = new_figure(1, 3, width=15.0, height=4.4)
    depth = np.array(c.costs[Scaling.DEPTH])
    for scaling, values in c.costs.items():
        left.loglog(c.lengths, values, "o-", markersize=3, label=scaling.value, gid=f"cost:{scaling.value}")
        middle.semilogx(c.lengths, np.array(values) / depth, "o-", markersize=3, label=scaling.value,
                        gid=f"cost_ratio:{scaling.value}")
    left.set_xlabel("prompt length L")
    left.set_ylabel(f"prefill FLOPs of the core block, s={c.copies}")
    left.set_title("Theorem 4.2(2): E_Depth <= E_KVShare < E_NoShare", fontsize=9)
    left.legend(fontsize=7)
    middle.set_xlabel("prompt length L")
    middle.set_ylabel("E / E_Depth")
    middle.set_title(f"the same costs over E_Depth (NoShare tends to s = {c.copies})", fontsize=9)
    middle.legend(fontsize=7)
    for s, values in c.ratios.items():
        right.loglog(c.lengths, values, "o-", markersize=3, label=f"s={s} (s² = {s * s})", gid=f"ratio:{s}")
    right.axvline(c.l_star, color="grey", linestyle=":", label=f"L* = {c.l_star} ({c.hardware} roofline)",
                  gid="l_star")
    levels = sorted({v for s in c.ratio_copies for v in (s, s * s)})
    right.set_yticks(levels, [str(v) for v in levels])
    right.yaxis.set_minor_formatter(NullFormatter())
    right.set_xlabel("prompt length L")
    right.set_ylabel("width / depth, hidden states in parallel per latency")
    right.set_title("Theorem 4.2(3): s² below L*/s, s beyond L*", fontsize=9)
    right.legend(fontsize=7)
    return fig


@dataclass(frozen=True)
class ProbabilityCurves:
    """Pr[L >= x] for log-normal prompt lengths (median, sigma) over x, and at each accelerator's roofline L*."""

    x: tuple[float, ...]
    tails: dict[tuple[float, float], tuple[float, ...]]
    l_stars: dict[str, float]
    at_l_star: dict[tuple[float, float], dict[str, float]]


def probability_curves(distributions: Sequence[tuple[float, float]] = ((256.0, 1.0), (1024.0, 1.0)),
                       context: int = 1024, config: ModelConfig = HUGINN_0125) -> ProbabilityCurves:
    """distributions: (median prompt length, sigma of its logarithm) pairs, the caller's assumption about D."""
    require("distributions", tuple(distributions), bool(distributions), "must hold at least one (median, sigma)")
    for median, sigma in distributions:
        require("median", median, median > 0, "must be > 0")
        require("sigma", sigma, sigma > 0, "must be > 0")
    x = tuple(float(v) for v in np.geomspace(8, 16384, 80))
    l_stars = {hw.name: saturation_width(config, hw, context) for hw in load_hardware().values()}
    tails = {d: tuple(lognormal_tail(v, math.log(d[0]), d[1]) for v in x) for d in distributions}
    at = {d: {name: lognormal_tail(ls, math.log(d[0]), d[1]) for name, ls in l_stars.items()} for d in distributions}
    return ProbabilityCurves(x, tails, l_stars, at)


def probability_figure(c: ProbabilityCurves) -> Any:
    fig, ax = new_figure(width=7.0, height=4.2)
    for (median, sigma), values in c.tails.items():
        ax.semilogx(c.x, values, label=f"log L ~ N(log {median:g}, {sigma:g}²)", gid=f"tail:{median:g}")
    groups: list[list[tuple[str, float]]] = []  # accelerators within 5 % of each other share one label
    for name, l_star in sorted(c.l_stars.items(), key=lambda kv: kv[1]):
        ax.axvline(l_star, color="grey", linestyle=":", linewidth=0.8, gid=f"l_star:{name}")
        if groups and l_star <= 1.05 * groups[-1][0][1]:
            groups[-1].append((name, l_star))
        else:
            groups.append([(name, l_star)])
    for group in groups:
        ax.text(group[0][1], 0.02, " " + ", ".join(n for n, _ in group), rotation=90, fontsize=6, va="bottom",
                ha="right", color="dimgrey")
    ax.set_xlabel("L* (roofline saturation width of each accelerator, Huginn-0125 core call)")
    ax.set_ylabel("Pr[L >= L*]: depth scaling at least as efficient")
    ax.set_ylim(0, 1.05)
    ax.set_title("Remark 4.3 under assumed prompt-length distributions", fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    return fig
