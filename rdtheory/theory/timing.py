"""The time model of the decoding theorem, and a schedule's depth, width, work and tokens at a time budget.

Owns `TimeModel`: a serial pass over w positions takes pass_s · max(1, w / L*): constant in width up to the
saturation width L* (memory-bound: weights and KV are read once per pass whatever the width), linear beyond
(compute-bound). Owns `Timed`, a schedule laid out on that clock. Prelude and coda are not timed here (they
are the FLOP overhead of `rdtheory.theory.overhead`). With an int or Fraction pass_s every time is exact (an int
or a Fraction). Knows nothing of hardware numbers (`rdtheory.costs` calibrates pass_s and L*).
"""

from bisect import bisect_right
from dataclasses import dataclass
from fractions import Fraction
from numbers import Real

from rdtheory.theory._checks import require, require_int
from rdtheory.theory.counters import pass_counters
from rdtheory.theory.schedule import Schedule


@dataclass(frozen=True)
class TimeModel:
    """A pass of width w takes pass_s · max(1, w / l_star)."""

    l_star: int
    pass_s: Real = 1

    def __post_init__(self) -> None:
        require_int("l_star", self.l_star, 1)
        require("pass_s", self.pass_s, isinstance(self.pass_s, Real) and self.pass_s > 0, "must be a real > 0")

    def pass_time(self, width: int) -> Real:
        """pass_s · max(L*, w) / L*: an int or Fraction when pass_s is (exact), a float when pass_s is."""
        scaled = self.pass_s * max(self.l_star, require_int("width", width, 0))
        if isinstance(scaled, float):
            return scaled / self.l_star
        exact = Fraction(scaled, self.l_star)
        return exact.numerator if exact.denominator == 1 else exact


class Timed:
    """`schedule` on the clock of `model`: pass g ends at `ends[g - 1]`; a tick's commits happen at the end of
    its last pass. Queries take a budget T >= 0 and count what has completed by T."""

    def __init__(self, schedule: Schedule, model: TimeModel) -> None:
        self.schedule, self.model = schedule, model
        self.counters = pass_counters(schedule)
        ends, total = [], 0
        for w in self.counters.width[:-1]:
            total += model.pass_time(w)
            ends.append(total)
        self.ends: tuple[Real, ...] = tuple(ends)
        done, self.cumulative_work = 0, [0]
        for w in self.counters.width[:-1]:
            done += w
            self.cumulative_work.append(done)
        offsets = schedule.pass_offsets()
        self.commit_times = sorted(self.ends[offsets[i] + t.passes - 1]
                                   for i, t in enumerate(schedule.ticks) for _ in t.commits)

    @property
    def end(self) -> Real:
        """When the run ends."""
        return self.ends[-1] if self.ends else 0

    def depth(self, budget: Real) -> int:
        """d(T): serial passes completed by T."""
        return bisect_right(self.ends, budget)

    def width(self, budget: Real) -> int:
        """w(T) = w_{d(T)}: the hidden states held after the passes completed by T."""
        return self.counters.width[self.depth(budget)]

    def work(self, budget: Real) -> int:
        """Hidden states processed (cells computed) by T."""
        return self.cumulative_work[self.depth(budget)]

    def tokens(self, budget: Real) -> int:
        """Tokens committed by T."""
        return bisect_right(self.commit_times, budget)
