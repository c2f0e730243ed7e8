"""Depth and width counters of AR and DF (Definition 4.1 / B.1) and Theorem 4.4 on concrete schedules.

For one prompt, static AR at depth r and fixed-rule DF (r', same r) are laid out on the theorem's clock
(`TimeModel(L*)`: a pass costs one unit at every width up to L*). The figure shows, against serial depth, the
width w_t of both runs and, against the time budget T, the hidden states processed and the tokens committed;
the claims grid evaluates the precise theorem and the paper's literal w_DF(T) > w_AR(T) over (r, r').
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rdtheory.figures.output import new_figure
from rdtheory.paper import DF_DEFAULTS
from rdtheory.theory import (
    Counters,
    DecodingComparison,
    Schedule,
    TimeModel,
    ar_schedule,
    compare_decoding,
    decoding_premises,
    df_schedule,
    pass_counters,
    theorem_4_4,
    tokens_never_behind,
)
from rdtheory.theory.checks import require, require_int


@dataclass(frozen=True)
class CounterComparison:
    """AR and DF schedules of one prompt, their pass counters, and their comparison on the time model."""

    ar: Schedule
    df: Schedule
    ar_counters: Counters
    df_counters: Counters
    decoding: DecodingComparison
    model: TimeModel
    theorem_holds: bool
    premises: tuple[str, ...]


def counter_comparison(depth: int = 8, inner: int = 2, n_new: int = 8, prompt_len: int = 4,
                       cap: int = DF_DEFAULTS.max_wavefront,
                       l_star: int = 64) -> CounterComparison:
    require_int("n_new", n_new, 1)
    ar = ar_schedule(prompt_len, n_new, depth)
    df = df_schedule(prompt_len, n_new, inner, depth, cap=cap)
    model = TimeModel(l_star)
    return CounterComparison(ar, df, pass_counters(ar), pass_counters(df), compare_decoding(df, ar, model), model,
                             theorem_4_4(df, ar, model), tuple(decoding_premises(df, ar, model)))


def counters_figure(c: CounterComparison) -> Any:
    """Left: w_t against d_t = t. Right: hidden states processed and tokens committed against the budget T."""
    fig, (left, right) = new_figure(1, 2, width=11.0, height=4.0)
    for name, counts, style in (("AR", c.ar_counters, "-"), ("DF", c.df_counters, "--")):
        left.step(counts.depth, counts.width, where="post", linestyle=style, label=f"{name}: w_t", gid=f"width:{name}")
    left.set_xlabel("serial depth d_t = t (passes)")
    left.set_ylabel("width w_t (hidden states held)")
    left.yaxis.get_major_locator().set_params(integer=True)
    left.legend(fontsize=8)
    left.set_title(f"Definition B.1 counters (d_AR = d_DF = t; {c.ar_counters.steps} vs {c.df_counters.steps} "
                   "passes)", fontsize=9)
    budgets = np.array(c.decoding.budgets, dtype=float)
    for i, name in enumerate(("DF", "AR")):
        right.step(budgets, [pair[i] for pair in c.decoding.work], where="post", label=f"{name}: hidden states",
                   gid=f"work:{name}")
    twin = right.twinx()
    for i, (name, style) in enumerate((("DF", "--"), ("AR", ":"))):
        twin.step(budgets, [pair[i] for pair in c.decoding.tokens], where="post", linestyle=style, color="black",
                  label=f"{name}: tokens committed", gid=f"tokens:{name}")
    right.set_xlabel(f"time budget T (passes; a pass costs 1 up to L*={c.model.l_star})")
    right.set_ylabel("hidden states processed")
    twin.set_ylabel("tokens committed")
    right.legend(fontsize=7, loc="upper left")
    twin.legend(fontsize=7, loc="lower right")
    verdict = "holds" if c.theorem_holds else "fails: " + "; ".join(c.premises or ("conclusions differ",))
    right.set_title(f"Theorem 4.4 (precise) {verdict}", fontsize=9)
    return fig


@dataclass(frozen=True)
class ClaimsGrid:
    """Over depths (rows) × inners (columns): the precise theorem, the paper's literal strict width, and DF
    never behind AR in committed tokens."""

    depths: tuple[int, ...]
    inners: tuple[int, ...]
    theorem: np.ndarray
    literal_strict_width: np.ndarray
    tokens_never_behind: np.ndarray


def claims_grid(depths: Sequence[int] = tuple(range(1, 9)), inners: Sequence[int] = tuple(range(1, 9)),
                n_new: int = 8, prompt_len: int = 2, l_star: int = 64) -> ClaimsGrid:
    """Over every (r, r'), fixed-rule DF against static AR on the theorem's clock."""
    require("depths", tuple(depths), bool(depths), "must hold at least one r")
    require("inners", tuple(inners), bool(inners), "must hold at least one r'")
    shape = (len(depths), len(inners))
    theorem, literal, lead = (np.zeros(shape, dtype=bool) for _ in range(3))
    model = TimeModel(l_star)
    for i, depth in enumerate(depths):
        ar = ar_schedule(prompt_len, n_new, depth)
        for j, inner in enumerate(inners):
            df = df_schedule(prompt_len, n_new, inner, depth)
            theorem[i, j] = theorem_4_4(df, ar, model)
            literal[i, j] = compare_decoding(df, ar, model).width_strictly_greater
            lead[i, j] = tokens_never_behind(df, ar, model)
    return ClaimsGrid(tuple(depths), tuple(inners), theorem, literal, lead)


def claims_figure(grid: ClaimsGrid) -> Any:
    panels = (("precise Theorem 4.4", grid.theorem), ("literal w_DF(T) > w_AR(T) at every T",
                                                       grid.literal_strict_width),
              ("DF never behind AR in tokens", grid.tokens_never_behind))
    fig, axes = new_figure(1, 3, width=12.0, height=4.0)
    for ax, (title, values) in zip(axes, panels):
        image = ax.imshow(values.astype(float), origin="lower", cmap="RdYlGn", vmin=0, vmax=1)
        image.set_gid(f"claim:{title}")
        ax.set_xticks(range(len(grid.inners)), [str(i) for i in grid.inners])
        ax.set_yticks(range(len(grid.depths)), [str(d) for d in grid.depths])
        ax.set_xlabel("r' (recurrences per tick)")
        ax.set_ylabel("r (recurrences per token)")
        ax.set_title(f"{title}\nholds in {int(values.sum())} of {values.size}", fontsize=9)
    return fig
