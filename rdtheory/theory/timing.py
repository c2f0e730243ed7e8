"""The time model of the decoding theorem, and a schedule's depth, width, work and tokens at a time budget.

Owns `TimeModel`. A serial core pass over w positions takes pass_s · max(1, w / L*): constant in width up to the
saturation width L* (memory-bound: weights and KV are read once per pass whatever the width), linear beyond
(compute-bound). Every tick also runs the prelude over its positions before its core passes and the coda after
them (to decode and draft); they take prelude_s · max(1, w / L*) and coda_s · max(1, w / L*) for a tick of w
positions. By default prelude_s = coda_s = 0: prelude and coda are untimed, which is the clock on which Theorem
4.4's core-pass depth is equal (`rdtheory.theory.decoding`); they are then only the FLOP overhead of
`rdtheory.theory.overhead`. Timing them (prelude_s + coda_s = pass_s is Huginn-0125's one pass-equivalent per
tick) changes which depth is equal: see `Timed.stage_depth`.

Owns `Timed`, a schedule laid out on that clock: per tick, its prelude, its core passes, its coda, in that order;
a tick's commits happen at the end of its coda. With int or Fraction times every time is exact (an int or a
Fraction). Knows nothing of hardware numbers (`rdtheory.costs` calibrates pass_s and L*).
"""

from bisect import bisect_right
from dataclasses import dataclass
from fractions import Fraction
from numbers import Real

from rdtheory.theory.checks import require, require_int
from rdtheory.theory.counters import pass_counters
from rdtheory.theory.schedule import Schedule


@dataclass(frozen=True)
class TimeModel:
    """A core pass of width w takes pass_s · max(1, w / l_star); a tick of w positions adds its prelude,
    prelude_s · max(1, w / l_star), and its coda, coda_s · max(1, w / l_star) (both 0 by default: untimed)."""

    l_star: int
    pass_s: Real = 1
    prelude_s: Real = 0
    coda_s: Real = 0

    def __post_init__(self) -> None:
        require_int("l_star", self.l_star, 1)
        require("pass_s", self.pass_s, _real(self.pass_s) and self.pass_s > 0, "must be a real > 0")
        for name in ("prelude_s", "coda_s"):
            value = getattr(self, name)
            require(name, value, _real(value) and value >= 0, "must be a real >= 0")

    @property
    def stages_timed(self) -> bool:
        """Whether the prelude or the coda takes time."""
        return self.prelude_s > 0 or self.coda_s > 0

    def pass_time(self, width: int) -> Real:
        """pass_s · max(L*, w) / L*: an int or Fraction when pass_s is (exact), a float when pass_s is."""
        return self._scaled(self.pass_s, width)

    def prelude_time(self, width: int) -> Real:
        """prelude_s · max(L*, w) / L*: the prelude of a tick that runs w positions."""
        return self._scaled(self.prelude_s, width)

    def coda_time(self, width: int) -> Real:
        """coda_s · max(L*, w) / L*: the coda of a tick that runs w positions."""
        return self._scaled(self.coda_s, width)

    def _scaled(self, base: Real, width: int) -> Real:
        scaled = base * max(self.l_star, require_int("width", width, 0))
        if isinstance(scaled, float):
            return scaled / self.l_star
        exact = Fraction(scaled, self.l_star)
        return exact.numerator if exact.denominator == 1 else exact


def _real(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


class Timed:
    """`schedule` on the clock of `model`. Each tick runs its prelude, its core passes and its coda; core pass g
    (global, 1-based) ends at `ends[g - 1]`, and the stage passes (preludes, core passes and codas, in order) end
    at `stage_ends`. A tick's commits happen at the end of its coda. Queries take a budget T >= 0 and count what
    has completed by T."""

    def __init__(self, schedule: Schedule, model: TimeModel) -> None:
        self.schedule, self.model = schedule, model
        self.counters = pass_counters(schedule)
        widths = iter(self.counters.width[:-1])
        ends, stage_ends, commit_times, clock = [], [], [], 0
        for tick in schedule.ticks:
            clock += model.prelude_time(len(tick.runs))
            stage_ends.append(clock)
            for _ in range(tick.passes):
                clock += model.pass_time(next(widths))
                ends.append(clock)
                stage_ends.append(clock)
            clock += model.coda_time(len(tick.runs))
            stage_ends.append(clock)
            commit_times.extend(clock for _ in tick.commits)
        self.ends: tuple[Real, ...] = tuple(ends)
        self.stage_ends: tuple[Real, ...] = tuple(stage_ends)
        self.commit_times = sorted(commit_times)
        done, self.cumulative_work = 0, [0]
        for w in self.counters.width[:-1]:
            done += w
            self.cumulative_work.append(done)

    @property
    def end(self) -> Real:
        """When the run ends (its last coda)."""
        return self.stage_ends[-1] if self.stage_ends else 0

    def depth(self, budget: Real) -> int:
        """d(T): serial core passes completed by T."""
        return bisect_right(self.ends, budget)

    def stage_depth(self, budget: Real) -> int:
        """Serial passes of any stage (each prelude, core pass and coda counts one) completed by T."""
        return bisect_right(self.stage_ends, budget)

    def width(self, budget: Real) -> int:
        """w(T) = w_{d(T)}: the hidden states held after the core passes completed by T."""
        return self.counters.width[self.depth(budget)]

    def work(self, budget: Real) -> int:
        """Hidden states processed by the core (cells computed) by T."""
        return self.cumulative_work[self.depth(budget)]

    def tokens(self, budget: Real) -> int:
        """Tokens committed by T."""
        return bisect_right(self.commit_times, budget)
