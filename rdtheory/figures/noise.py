"""The stabilising components of Sec. 3.4 as curves: noise schedules (Eq. 2), what repeated mixing does to a
state's variance, and the embedding EMA's response (Eq. 1). Formulas from `rdtheory.theory.correspondence`.

The schedule is evaluated where the sampler evaluates it: before each tick, at a position's counts
0, r', 2r', ... The variance recursion v <- a² v + b² sigma² follows a state that only mixes (no recurrence in
between), which isolates what the mixing rule alone does: the plain rule shrinks the state's variance, the
variance-preserving rule keeps it at sigma².
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rdtheory.figures.output import new_figure
from rdtheory.paper import DF_DEFAULTS, DF_INNER_2
from rdtheory.theory import (
    constant_beta,
    dampened_beta,
    ema_embeddings,
    ema_impulse_response,
    ema_step_response,
    linear_beta,
    mixed_variance,
)
from rdtheory.theory.checks import require, require_int


@dataclass(frozen=True)
class NoiseCurves:
    """beta per schedule at `counts`; the state variance after each tick per (schedule, variance_preserving)."""

    counts: tuple[int, ...]
    betas: dict[str, tuple[float, ...]]
    variances: dict[tuple[str, bool], tuple[float, ...]]


def noise_curves(beta0: float = DF_INNER_2.beta, depth: int = DF_DEFAULTS.depth, inner: int = DF_DEFAULTS.inner,
                 ticks: int = 12,
                 state_var: float = 1.0, noise_var: float = 1.0) -> NoiseCurves:
    """beta0 and the depth D of the linear schedule; a position is `inner` recurrences further at each tick."""
    require_int("depth", depth, 1)
    require_int("inner", inner, 1)
    require_int("ticks", ticks, 1)
    require("state_var", state_var, state_var >= 0, "must be >= 0")
    require("noise_var", noise_var, noise_var >= 0, "must be >= 0")
    counts = tuple(inner * t for t in range(ticks))
    schedules = {f"constant beta0={beta0:g}": lambda n: constant_beta(beta0, n),
                 "dampened beta0/(1 + n) (code)": lambda n: dampened_beta(beta0, n),
                 f"linear beta0 (1 - n/{depth}) (paper)": lambda n: linear_beta(beta0, depth, n)}
    betas = {name: tuple(f(n) for n in counts) for name, f in schedules.items()}
    variances = {}
    for name, values in betas.items():
        for vp in (False, True):
            v, out = state_var, []
            for beta in values:
                v = mixed_variance(v, noise_var, beta, vp)
                out.append(v)
            variances[(name, vp)] = tuple(out)
    return NoiseCurves(counts, betas, variances)


def noise_figure(c: NoiseCurves) -> Any:
    """Left: beta per schedule. Right: the state variance under the plain mix (1 - beta) z + beta noise (dashed)
    and the variance-preserving sqrt(1 - beta) z + sqrt(beta) noise (solid), one colour per schedule."""
    fig, (left, right) = new_figure(1, 2, width=11.0, height=4.0)
    colours = {}
    for name, values in c.betas.items():
        (line,) = left.plot(c.counts, values, "o-", markersize=3, label=name, gid=f"beta:{name}")
        colours[name] = line.get_color()
    left.set_xlabel("recurrences done at the position (n)")
    left.set_ylabel("beta mixed in before the tick")
    left.set_title("Eq. 2 noise schedules, evaluated where the sampler mixes", fontsize=9)
    left.legend(fontsize=7)
    for (name, vp), values in c.variances.items():
        right.plot(c.counts, values, "-" if vp else "--", color=colours[name], linewidth=2.5 if vp else 1.5,
                   alpha=0.5 if vp else 1.0, gid=f"variance:{name}:{vp}")
    for name in c.betas:
        right.plot([], [], color=colours[name], label=name)
    right.plot([], [], "--", color="black", label="(1 - beta) z + beta noise")
    right.plot([], [], "-", color="black", alpha=0.5, linewidth=2.5, label="sqrt(1 - beta) z + sqrt(beta) noise")
    right.set_xlabel("recurrences done at the position (n)")
    right.set_ylabel("state variance after mixing (no recurrence)")
    right.set_title("what the mixing rule alone does to the state's variance", fontsize=9)
    right.legend(fontsize=6)
    return fig


@dataclass(frozen=True)
class EMACurves:
    """Impulse and step responses per eta over `lags`; one new position's injected embedding for a constant
    prelude output of 1, with and without the reference code's (1 - eta) shrinkage of new positions."""

    lags: tuple[int, ...]
    impulse: dict[float, tuple[float, ...]]
    step: dict[float, tuple[float, ...]]
    new_position: dict[tuple[float, bool], tuple[float, ...]]


def ema_curves(etas: Sequence[float] = (0.1, 0.3, 0.5, 0.8), lags: int = 10) -> EMACurves:
    require("etas", tuple(etas), bool(etas), "must hold at least one eta")
    require_int("lags", lags, 1)
    lag_range = tuple(range(lags))
    return EMACurves(
        lag_range,
        {eta: tuple(ema_impulse_response(eta, k) for k in lag_range) for eta in etas},
        {eta: tuple(ema_step_response(eta, k) for k in lag_range) for eta in etas},
        {(eta, shrink): tuple(ema_embeddings([1.0] * lags, eta, shrink)) for eta in etas for shrink in (False, True)},
    )


def ema_figure(c: EMACurves) -> Any:
    fig, axes = new_figure(1, 3, width=13.0, height=4.0)
    for eta in c.impulse:
        axes[0].plot(c.lags, c.impulse[eta], "o-", markersize=3, label=f"eta={eta:g}", gid=f"impulse:{eta:g}")
        axes[1].plot(c.lags, c.step[eta], "o-", markersize=3, label=f"eta={eta:g}", gid=f"step:{eta:g}")
        axes[2].plot(c.lags, c.new_position[(eta, True)], "o-", markersize=3, label=f"eta={eta:g}, (1 - eta) P",
                     gid=f"shrink:{eta:g}")
    axes[2].plot(c.lags, c.new_position[(next(iter(c.impulse)), False)], "k--", label="e = P (no shrinkage)")
    titles = ("impulse: response of e to a one-tick change of P", "step: response of e to a lasting change of P",
              "a new position, P = 1 throughout (= the step response)")
    for ax, title in zip(axes, titles):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("ticks since the change (or since the position entered)")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("injected embedding e")
    return fig
