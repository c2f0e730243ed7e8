"""Remark 3.1 on tiny contractive models: as eps -> 0, diffusion forcing with the latent-difference exit
commits the autoregressive fixed point, within `rdtheory.theory.committed_error_bound`; and where it breaks.

The reference is AR at a depth where every position has converged (`REFERENCE_DEPTH`), its tokens and the states
of every position run. The bound's constants (contraction lam, conditioning Lipschitz L) are measured by
`rdtheory.testing.contraction.step_constants` at those states and at the states each diffusion-forcing run
committed, and the largest is used (`max_constants`); B is the largest state norm of both runs. A position is
compared only while the DF tokens before it equal the reference's (assumption A5). Outside the theorem: a noise
schedule that does not vanish leaves an error floor, and a model whose recurrence does not settle has no fixed
point to converge to. Everything in float64 on the CPU (the same setting as tests/sampling/test_converged_limit).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from rdtheory.config import ModelConfig
from rdtheory.figures.output import new_figure
from rdtheory.model.cache import ShareLast
from rdtheory.model.recurrent import RecurrentDepthLM
from rdtheory.sampling.autoregressive import generate_ar
from rdtheory.sampling.diffusion_forcing import generate_df
from rdtheory.sampling.exits import LatentDiff
from rdtheory.sampling.schedules import NO_NOISE, Constant, NoiseSchedule
from rdtheory.testing.contraction import Constants, max_constants, step_constants
from rdtheory.testing.convergence import committed_states
from rdtheory.testing.models import random_model
from rdtheory.theory import committed_error_bound
from rdtheory.theory.checks import require, require_int

REFERENCE_DEPTH = 120  # lam <= 0.75 gives lam^120 < 1e-14: the reference is the fixed point to rounding
EPSILONS = (3.0, *(10.0**-k for k in range(0, 11)))
SMALL_EPSILONS = (3.0, 1e-1, 1e-3, 1e-5, 1e-8)
# Contractive at their fixed points (measured lam 0.46, 0.57, 0.66, 0.50 at state gain 0.45); seed 11 commits
# other tokens than AR at eps = 3 and the same ones from eps = 1 on (0.1 in the small sweep).
SMALL_SEEDS, FULL_SEEDS = (0, 11), (0, 11, 14, 22)
# Settles (a fixed point exists) but its measured lam is 1.24 > 1: outside the theorem, tokens differ for
# eps >= 0.1 and agree from eps = 1e-3 on.
NON_CONTRACTIVE_SEED = 3


def contractive_model(seed: int = 0, state_gain: float = 0.45) -> RecurrentDepthLM:
    """A tiny float64 model (h = 16, 1 + 2 + 1 layers) whose adapter's state half has spectral norm
    `state_gain`: contractive for small gains (measure it), unsettled for large ones."""
    require("state_gain", state_gain, state_gain > 0, "must be > 0")
    config = ModelConfig(vocab_size=24, n_embd=16, n_heads=2, n_layers_in_prelude=1, n_layers_in_recurrent_block=2,
                         n_layers_in_coda=1, intermediate_size=16, block_size=64, mean_recurrence=4,
                         mean_backprop_depth=1)
    return random_model(config, seed, gain=2.0, state_gain=state_gain)


@dataclass(frozen=True)
class ConvergencePoint:
    """One DF run at `eps`: per compared position, |z_committed - z*| and the theorem's bound (None without
    one); whether all tokens equal the reference's, and the ticks it took."""

    eps: float
    errors: tuple[float, ...]
    bounds: tuple[float, ...] | None
    tokens_equal: bool
    ticks: int

    @property
    def max_error(self) -> float:
        return max(self.errors, default=float("nan"))

    @property
    def within_bound(self) -> bool | None:
        return None if self.bounds is None else all(e <= b for e, b in zip(self.errors, self.bounds))


@dataclass(frozen=True)
class Reference:
    """AR at `depth` on one prompt: its tokens, the states z* of every position run (prompt and new tokens but the
    last), whether one more recurrence moves them by less than 1e-9 (`settled`: a fixed point), and the measured
    contraction and conditioning constants at z* (None where not measured), position by position in `constants`."""

    model: RecurrentDepthLM
    prompt: tuple[int, ...]
    tokens: tuple[int, ...]
    states: torch.Tensor
    depth: int
    settled: bool
    constants: Constants | None

    @property
    def lam(self) -> float | None:
        return None if self.constants is None else max(self.constants.lam)

    @property
    def cond(self) -> float | None:
        return None if self.constants is None else max(self.constants.cond)


def reference(model: RecurrentDepthLM, prompt: Sequence[int], n_new: int, depth: int = REFERENCE_DEPTH,
              measure: bool = True) -> Reference:
    ar = generate_ar(model, [list(prompt)], n_new, depth, init_scale=0.0, kv=ShareLast(), stop_tokens=())
    ids = torch.tensor([*prompt, *ar.tokens[0][:-1]])
    with torch.no_grad():
        z_star, deeper = model(ids[None], depth)[1][0], model(ids[None], depth + 1)[1][0]
    constants = step_constants(model, ids, z_star) if measure else None
    settled = (z_star - deeper).norm(dim=-1).max().item() < 1e-9
    return Reference(model, tuple(prompt), tuple(ar.tokens[0]), z_star, depth, settled, constants)


@dataclass(frozen=True)
class ConvergedLimit:
    """A sweep over eps against one reference (see `Reference` for settled, lam and cond)."""

    label: str
    settled: bool
    lam: float | None
    cond: float | None
    points: tuple[ConvergencePoint, ...]


def converged_limit(ref: Reference, epsilons: Sequence[float] = EPSILONS, label: str = "", inner: int = 2,
                    cap: int = 8, init_scale: float = 1.0, noise: NoiseSchedule = NO_NOISE,
                    max_depth: int = 100_000) -> ConvergedLimit:
    """DF (LatentDiff(eps), r' = inner, no EMA, prefill at the reference depth) against the reference for every
    eps; the bound is evaluated where the measured lam < 1, with lam and L the largest over the reference's states
    and every run's committed states (the sweep's `lam` and `cond` report those)."""
    require("epsilons", tuple(epsilons), bool(epsilons), "must hold at least one threshold")
    for eps in epsilons:
        require("eps", eps, eps > 0, "must be > 0")
    require_int("inner", inner, 1)
    require_int("cap", cap, 1)
    runs = [(eps, generate_df(ref.model, [list(ref.prompt)], len(ref.tokens), inner=inner, depth=ref.depth,
                              exit=LatentDiff(eps), max_wavefront=cap, ema=0.0, noise=noise, init_scale=init_scale,
                              max_depth=max_depth, kv=ShareLast(), stop_tokens=(), seed=4)) for eps in epsilons]
    lam = cond = None
    if ref.constants is not None:
        ids = torch.tensor([*ref.prompt, *ref.tokens[:-1]])
        measured = [ref.constants]
        for _, df in runs:
            states, n = committed_states(ref.states, ref.tokens, df, len(ref.prompt))
            if n:
                measured.append(step_constants(ref.model, ids, states))
        most = max_constants(measured)
        lam, cond = max(most.lam), max(most.cond)
    bounded = lam is not None and lam < 1
    points = []
    for eps, df in runs:
        state_bound = max(df.latents[0].norm(dim=-1).max().item(), ref.states.norm(dim=-1).max().item())
        errors, bounds = [], []
        for i in range(len(ref.tokens) - 1):  # wave position P + i commits new token i + 1
            if tuple(df.tokens[0][: i + 1]) != ref.tokens[: i + 1]:
                break
            errors.append((df.latents[0][i + 1] - ref.states[len(ref.prompt) + i]).norm().item())
            if bounded:
                bounds.append(committed_error_bound(lam, eps, state_bound, cond, i, inner))
        points.append(ConvergencePoint(eps, tuple(errors), tuple(bounds) if bounded else None,
                                       tuple(df.tokens[0]) == ref.tokens, df.trace.n_ticks))
    return ConvergedLimit(label, ref.settled, lam, cond, tuple(points))


def convergence_sweeps(full: bool = False) -> dict[str, list[ConvergedLimit]]:
    """Contractive models (the theorem applies) and the breaking cases: constant noise on a contractive model, a
    model that settles without being a contraction at its fixed point, and one whose recurrence does not settle."""
    seeds = FULL_SEEDS if full else SMALL_SEEDS
    n_new = 8 if full else 5
    eps = EPSILONS if full else SMALL_EPSILONS
    prompt = (1, 2, 3)
    refs = {s: reference(contractive_model(s), prompt, n_new) for s in seeds}
    loose = reference(contractive_model(NON_CONTRACTIVE_SEED), prompt, n_new)
    unsettled = reference(contractive_model(0, state_gain=5.0), prompt, n_new, depth=60, measure=False)
    return {
        "contractive": [converged_limit(r, eps, f"seed {s}, state gain 0.45") for s, r in refs.items()],
        "breaking": [
            converged_limit(refs[seeds[0]], eps, f"seed {seeds[0]}, constant noise beta=0.3", noise=Constant(0.3),
                            max_depth=60),
            converged_limit(loose, eps, f"seed {NON_CONTRACTIVE_SEED}: settles, not a contraction"),
            converged_limit(unsettled, eps, "state gain 5: no fixed point", max_depth=60),
        ],
    }


def convergence_figure(sweeps: dict[str, list[ConvergedLimit]]) -> Any:
    """Left: max committed error against eps with the theorem's bound (dashed). Right: the breaking cases."""
    fig, (left, right) = new_figure(1, 2, width=11.0, height=4.2)
    for ax, key in ((left, "contractive"), (right, "breaking")):
        for run in sweeps.get(key, []):
            eps = [p.eps for p in run.points]
            (line,) = ax.loglog(eps, [p.max_error for p in run.points], "o-", markersize=4,
                                label=f"{run.label}" + (f" (lam={run.lam:.2f})" if run.lam is not None else ""),
                                gid=f"error:{run.label}")
            if all(p.bounds for p in run.points):
                ax.loglog(eps, [max(p.bounds) for p in run.points], "--", color=line.get_color(),
                          gid=f"bound:{run.label}")
            for p in run.points:
                if not p.tokens_equal:
                    ax.plot(p.eps, p.max_error, "x", color="crimson", markersize=8,
                            gid=f"tokens_differ:{run.label}:{p.eps:g}")
        ax.plot([], [], "--", color="grey", label="committed_error_bound (noise-free theorem)")
        ax.plot([], [], "x", color="crimson", label="tokens differ from AR (errors up to the first)")
        ax.set_xlabel("exit threshold eps")
        ax.set_ylabel("max |z_committed - z*| over compared positions")
        ax.invert_xaxis()
        ax.legend(fontsize=7)
    left.set_title("contractive models: DF -> AR as eps -> 0", fontsize=9)
    right.set_title("outside the theorem: noise that does not vanish, lam > 1, no fixed point", fontsize=9)
    return fig
