"""A scalar contraction toy for Remark 3.1: the DF control flow of `rdtheory.theory.wavefront`, driven by real
latent-difference exits on a tiny causal "recurrent block" with known constants.

Position i's state is a real number updated by F_i(z, c) = a·sin(z) + b·mean_{j<i} tanh(c_j) + inputs[i], where
c_j is the state from which position j's keys were computed (its input to the current pass, or to its last pass
once exited, as with ShareLast). So lam = |a| is the contraction in the state, L = |b| the Lipschitz constant in the
conditioning (max norm) and B = |a| + |b| + max |inputs| bounds every state. The prompt's states are given (a full
prefill); no tokens, noise or EMA enter, so assumption (A5) of `rdtheory.theory.convergence` holds by design.
Knows nothing of transformers or torch.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rdtheory.paper import DF_DEFAULTS
from rdtheory.theory.checks import require, require_int, require_real
from rdtheory.theory.schedule import Schedule, ScheduleTick
from rdtheory.theory.wavefront import Wave, first_front, is_done, max_df_ticks, recur, settle


@dataclass(frozen=True)
class ToyRun:
    """Committed states by position, how many positions exited without meeting the latent criterion (forced by
    the depth cap, or taken along by the rightmost rule), and the schedule that ran (its first tick a one-pass
    stand-in for the given prompt states)."""

    committed: dict[int, float]
    unconverged_exits: int
    schedule: Schedule


@dataclass(frozen=True)
class ScalarToy:
    """The toy of the module docstring over positions 0..len(inputs)-1, the first len(context) being the prompt
    with the given states."""

    a: float
    b: float
    inputs: tuple[float, ...]
    context: tuple[float, ...]

    def __post_init__(self) -> None:
        require_real("|a|", abs(self.a), 0, 1, open_high=True)
        require_int("len(context)", len(self.context), 1)
        require("inputs", self.inputs, len(self.inputs) > len(self.context), "must extend past the context")

    @property
    def contraction(self) -> float:
        return abs(self.a)

    @property
    def lipschitz(self) -> float:
        return abs(self.b)

    @property
    def state_bound(self) -> float:
        return abs(self.a) + abs(self.b) + max(abs(x) for x in self.inputs)

    def step(self, pos: int, z: float, cond: Sequence[float]) -> float:
        return self.a * math.sin(z) + self.b * sum(math.tanh(c) for c in cond) / len(cond) + self.inputs[pos]

    def fixed_points(self) -> dict[int, float]:
        """The autoregressive fixed-point solution z*_i for the generated positions, to float precision."""
        states = list(self.context)
        for pos in range(len(self.context), len(self.inputs)):
            z, prev, lam = self.step(pos, 0.0, states), 0.0, self.contraction
            while lam * abs(z - prev) > 1e-14 * (1 - lam):  # distance to the fixed point <= 1e-14
                z, prev = self.step(pos, z, states), z
            states.append(z)
        return {p: states[p] for p in range(len(self.context), len(self.inputs))}

    def run(self, inner: int, eps: float, headway: int = DF_DEFAULTS.headway, cap: int = DF_DEFAULTS.max_wavefront,
            rightmost: bool = False, max_depth: int = 10_000, init: float = 0.0) -> ToyRun:
        """DF over the generated positions with exit |z - z_prev| < eps |z| (z_prev: the state at the start of the
        tick) or count >= max_depth."""
        wave = Wave(len(self.context), len(self.inputs) - len(self.context) + 1, inner, headway, cap, True, rightmost)
        keys = dict(enumerate(self.context))
        states, committed, ticks, unconverged = {}, {}, [], 0
        front, limit = first_front(wave), max_df_ticks(wave.prompt_len, wave.n_new, inner, max_depth)
        states.update({p: init for p in front.positions})
        while not is_done(front, wave):
            start = dict(states)
            for _ in range(inner):
                keys.update({p: states[p] for p in front.positions})
                states.update({p: self.step(p, states[p], [keys[q] for q in range(p)]) for p in front.positions})
            runs = tuple((p, n + 1, inner) for p, n in zip(front.positions, front.counts))
            front = recur(front, inner)
            settled_by_rule = [abs(states[p] - start[p]) < eps * abs(states[p]) for p in front.positions]
            converged = [ok or n >= max_depth for ok, n in zip(settled_by_rule, front.counts)]
            exiting, front, settled = front.positions, *settle(front, converged, wave)
            for i, p in enumerate(exiting[:settled.exits]):
                committed[p] = states.pop(p)
                unconverged += not settled_by_rule[i]
            states.update({p: init for p in front.positions if p not in states})
            ticks.append(ScheduleTick(inner, runs, settled.commits, settled.standing))
            assert len(ticks) <= limit, f"the toy ran past its tick bound {limit}"
        n = len(self.context)
        prefill = ScheduleTick(1, tuple((p, 1, 1) for p in range(n)), (n,), prefill=True)
        return ToyRun(committed, unconverged, Schedule(n, (prefill, *ticks)))
