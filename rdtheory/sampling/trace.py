"""What a sampler run returns: the tokens, the committed latents, and a `Trace` of the work it did.

A `Trace` lists ticks. A tick is one step of a sampler's device work (the prefill, an AR token step, a DF tick): a
set of positions (per row) each advanced by some number of recurrences in the same serial core passes, followed by
commits. From it come the counters users and the theory ask for (ticks, core passes, tokens forwarded, recurrences
per position, standing waves) and, through `rdtheory.theory`, the schedule of (position, recurrence-step) cells
that actually ran. Pure Python.
"""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rdtheory.theory.schedule import Schedule, ScheduleTick


@dataclass(frozen=True)
class Run:
    """Position `pos` of row `row` ran recurrences first..first+count-1 (1-based) in this tick's first `count`
    core passes."""

    row: int
    pos: int
    first: int
    count: int


@dataclass(frozen=True)
class Block:
    """Consecutive positions head, head+1, ... of row `row`, position head+i starting at recurrence firsts[i], each
    running `count` recurrences: a compact form of many `Run`s."""

    row: int
    head: int
    firsts: tuple[int, ...]
    count: int

    def runs(self) -> list[Run]:
        return [Run(self.row, self.head + i, f, self.count) for i, f in enumerate(self.firsts)]


@dataclass(frozen=True)
class Commit:
    """Token `token` was committed at position `pos` of row `row`, decoded from the state at pos - 1."""

    row: int
    pos: int
    token: int


@dataclass
class Tick:
    """One step of device work: `passes` serial core passes over the positions of `blocks`, then `commits`. `standing`
    lists the rows whose front could not advance because their wavefront was at its cap."""

    passes: int
    blocks: list[Block]
    commits: list[Commit] = field(default_factory=list)
    standing: list[int] = field(default_factory=list)
    prefill: bool = False

    @property
    def runs(self) -> list[Run]:
        return [r for b in self.blocks for r in b.runs()]


@dataclass
class Trace:
    """The ticks of one run over `batch_size` rows with the given prompt lengths."""

    prompt_lengths: list[int]
    ticks: list[Tick] = field(default_factory=list)
    max_ticks_reached: bool = False
    tick_bound: int | None = None  # the most ticks the sampler's rules allow for this run, where known

    @property
    def batch_size(self) -> int:
        return len(self.prompt_lengths)

    @property
    def n_ticks(self) -> int:
        return len(self.ticks)

    @property
    def core_passes(self) -> int:
        """Serial core passes (the latency proxy): a prefill at depth r counts r."""
        return sum(t.passes for t in self.ticks)

    @property
    def tokens_forwarded(self) -> int:
        """Sum over core passes of the positions they processed (the work proxy)."""
        return sum(b.count * len(b.firsts) for t in self.ticks for b in t.blocks)

    @property
    def standing_waves(self) -> int:
        """(tick, row) pairs in which a row's front was held back by its wavefront cap."""
        return sum(len(t.standing) for t in self.ticks)

    def recurrences(self, row: int) -> dict[int, int]:
        """Total recurrences each position of `row` received, by position."""
        counts: Counter[int] = Counter()
        for t in self.ticks:
            for r in t.runs:
                if r.row == row:
                    counts[r.pos] += r.count
        return dict(sorted(counts.items()))

    def commits(self, row: int) -> list[Commit]:
        return [c for t in self.ticks for c in t.commits if c.row == row]

    def to_schedule(self, row: int) -> Schedule:
        """Row `row`'s ticks as a theory `Schedule` (ticks in which the row ran nothing are left out). A batched
        tick runs as many passes as its deepest row needs; the row's own tick has the passes it needed."""
        ticks = []
        for t in self.ticks:
            runs = [(r.pos, r.first, r.count) for b in t.blocks if b.row == row for r in b.runs()]
            if runs:
                ticks.append(ScheduleTick(max(r[2] for r in runs), runs, [c.pos for c in t.commits if c.row == row],
                                          row in t.standing, t.prefill))
        return Schedule(self.prompt_lengths[row], tuple(ticks))

    def summary(self) -> dict[str, Any]:
        return {
            "ticks": self.n_ticks,
            "core_passes": self.core_passes,
            "tokens_forwarded": self.tokens_forwarded,
            "standing_waves": self.standing_waves,
            "max_ticks_reached": self.max_ticks_reached,
            "tick_bound": self.tick_bound,
        }
