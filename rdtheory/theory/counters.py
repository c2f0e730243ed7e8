"""Depth and width counters of the paper's Definition 4.1 / B.1, computed from what a schedule runs.

Definition B.1, made exact: H_t is the set of hidden states held after t serial steps, i.e. the states the
(t+1)-th step processes. Depth d_t = t; width w_t = |H_t|. The (t+1)-th step processes H_t; then x^(t) of its
states exit (they decode and leave) and e^(t) new ones enter (encode), so w_{t+1} = w_t + e^(t) - x^(t).
With A_g the positions active in step g (1-based), H_t = A_{t+1}, so w_0 = L_0 when the first step is a prefill
of L_0 prompt positions, and w_T = 0 after the last step T.

Events are counted per position, from its own first and last step: a position enters once, before the first step
in which it is active (e^(t) counts the positions whose first step is t + 2; those active in step 1 make up w_0),
and exits once, after the last step in which it is active (x^(t) counts those whose last step is t + 1). The
update w_{t+1} = w_t + e^(t) - x^(t) then holds iff every position is active in one unbroken interval of steps
(it is not a definition: a position that pauses and resumes breaks it), and the events then equal the
set-difference form e^(t) = |A_{t+2} minus A_{t+1}|, x^(t) = |A_{t+1} minus A_{t+2}| (`set_difference_events`).

A step is a serial core pass (`pass_counters`, the paper's granularity: a position is active in the passes in
which it computes a cell) or a sampler tick (`tick_counters`). Knows nothing of time or cost.
"""

from collections.abc import Iterable, Sequence
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
        """d_t = t and w_{t+1} = w_t + e^(t) - x^(t) for every t (with events counted per position, this fails
        when a position is active in steps that are not consecutive)."""
        depth_ok = self.depth == tuple(range(self.steps + 1))
        return depth_ok and all(self.width[t + 1] == self.width[t] + self.entries[t] - self.exits[t]
                                for t in range(self.steps))


def _counters(widths: Sequence[int], spans: Iterable[tuple[int, int]]) -> Counters:
    """Counters of a run of len(widths) steps whose positions are active first and last in the given (first,
    last) steps (1-based)."""
    n = len(widths)
    entries, exits = [0] * n, [0] * n
    for first, last in spans:
        if first >= 2:
            entries[first - 2] += 1
        exits[last - 1] += 1
    return Counters(tuple(range(n + 1)), (*widths, 0), tuple(entries), tuple(exits))


def counters(active: Sequence[frozenset[int]]) -> Counters:
    """Counters of a run whose step g (1-based) processes the positions active[g - 1]."""
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for g, positions in enumerate(active, start=1):
        for p in positions:
            first.setdefault(p, g)
            last[p] = g
    return _counters([len(a) for a in active], ((first[p], last[p]) for p in first))


def set_difference_events(active: Sequence[frozenset[int]]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(e^(t), x^(t)) in set-difference form: |A_{t+2} minus A_{t+1}| and |A_{t+1} minus A_{t+2}| (A beyond the last
    step is empty). They satisfy the width update for any sets; they equal `counters`' per-position events iff every
    position is active in consecutive steps."""
    sets = [*active, frozenset()]
    n = len(active)
    return (tuple(len(sets[t + 1] - sets[t]) for t in range(n)), tuple(len(sets[t] - sets[t + 1]) for t in range(n)))


def pass_active(schedule: Schedule) -> tuple[frozenset[int], ...]:
    """The positions active in each serial core pass."""
    return tuple(frozenset(c.pos for c in cells) for cells in schedule.by_pass())


def tick_active(schedule: Schedule) -> tuple[frozenset[int], ...]:
    """The positions active in each sampler tick."""
    return tuple(frozenset(t.positions) for t in schedule.ticks)


def pass_counters(schedule: Schedule) -> Counters:
    """Counters at serial-pass granularity (Definition B.1). Each position's first and last pass come from its
    runs: the first pass of the tick of its first run, and pass count of the tick of its last run."""
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for t, offset in zip(schedule.ticks, schedule.pass_offsets()):
        for r in t.runs:
            first.setdefault(r.pos, offset + 1)
            last[r.pos] = offset + r.count
    return _counters([len(a) for a in pass_active(schedule)], ((first[p], last[p]) for p in first))


def tick_counters(schedule: Schedule) -> Counters:
    """Counters at sampler-tick granularity (Definition 4.1's time step read as one sampler step)."""
    return counters(tick_active(schedule))
