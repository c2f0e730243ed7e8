"""Depth and width counters of the paper's Definition 4.1 / B.1, computed from what a schedule runs.

Definition B.1, made exact: H_t is the set of hidden states held after t serial steps, i.e. the states the
(t+1)-th step processes. Depth d_t = t; width w_t = |H_t|. The (t+1)-th step processes H_t; then x^(t) of its
states exit (they decode and leave) and e^(t) new ones enter (encode), so w_{t+1} = w_t + e^(t) - x^(t).
With A_g the positions active in step g (1-based), H_t = A_{t+1}, e^(t) = |A_{t+2} minus A_{t+1}| and
x^(t) = |A_{t+1} minus A_{t+2}| (A beyond the last step is empty). Hence w_0 = L_0 when the first step is a
prefill of L_0 prompt positions, and w_T = 0 after the last step T.

A step is a serial core pass (`pass_counters`, the paper's granularity: a position is active in the passes in
which it computes a cell) or a sampler tick (`tick_counters`). Knows nothing of time or cost.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from rdtheory.theory.schedule import Schedule


@dataclass(frozen=True)
class Counters:
    """d_0..d_T, w_0..w_T, and the events e^(0)..e^(T-1), x^(0)..x^(T-1)."""

    depth: tuple[int, ...]
    width: tuple[int, ...]
    entries: tuple[int, ...]
    exits: tuple[int, ...]

    @property
    def steps(self) -> int:
        """T, the number of serial steps."""
        return len(self.entries)

    @property
    def work(self) -> int:
        """Hidden states processed over all steps, sum of w_0..w_{T-1} (the cells, at pass granularity)."""
        return sum(self.width[:-1])

    def updates_hold(self) -> bool:
        """d_t = t and w_{t+1} = w_t + e^(t) - x^(t) for every t."""
        depth_ok = self.depth == tuple(range(self.steps + 1))
        return depth_ok and all(self.width[t + 1] == self.width[t] + self.entries[t] - self.exits[t]
                                for t in range(self.steps))


def counters(active: Sequence[frozenset[int]]) -> Counters:
    """Counters of a run whose step g (1-based) processes the positions active[g - 1]."""
    sets = [*active, frozenset()]
    n = len(active)
    return Counters(
        depth=tuple(range(n + 1)),
        width=tuple(len(a) for a in sets),
        entries=tuple(len(sets[t + 1] - sets[t]) for t in range(n)),
        exits=tuple(len(sets[t] - sets[t + 1]) for t in range(n)),
    )


def pass_counters(schedule: Schedule) -> Counters:
    """Counters at serial-pass granularity (Definition B.1)."""
    return counters([frozenset(c.pos for c in cells) for cells in schedule.by_pass()])


def tick_counters(schedule: Schedule) -> Counters:
    """Counters at sampler-tick granularity (Definition 4.1's time step read as one sampler step)."""
    return counters([frozenset(t.positions) for t in schedule.ticks])
