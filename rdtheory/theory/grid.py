"""The (position × recurrence-step) grid: cells, and spans of consecutive cells of one position.

A cell (p, k) is the k-th application (1-based) of the recurrent block at sequence position p; the latent state
at p predicts the token at p + 1. A span is what one position does inside one tick: recurrences
first..first+count-1, one per serial pass, in the tick's first `count` passes. This module knows nothing of
ticks, samplers, time or costs.
"""

from dataclasses import dataclass

from rdtheory.theory.checks import require, require_int


@dataclass(frozen=True, order=True)
class Cell:
    """Recurrence `step` (1-based) of the latent state at sequence position `pos`."""

    pos: int
    step: int

    def __post_init__(self) -> None:
        require_int("pos", self.pos, 0)
        require_int("step", self.step, 1)


@dataclass(frozen=True, order=True)
class Span:
    """Position `pos` runs recurrences first..first+count-1, one per pass, in passes 1..count of its tick."""

    pos: int
    first: int
    count: int

    def __post_init__(self) -> None:
        require_int("pos", self.pos, 0)
        require_int("first", self.first, 1)
        require_int("count", self.count, 1)

    @classmethod
    def of(cls, value: "Span | tuple[int, int, int]") -> "Span":
        """A span from itself or from a (pos, first, count) triple (the sampler trace's `Run` fields)."""
        if isinstance(value, Span):
            return value
        pos, first, count = value
        return cls(pos, first, count)

    @property
    def last(self) -> int:
        """The deepest recurrence this span computes."""
        return self.first + self.count - 1

    def cells(self) -> tuple[Cell, ...]:
        return tuple(Cell(self.pos, k) for k in range(self.first, self.last + 1))

    def cell_at(self, j: int) -> Cell | None:
        """The cell computed in pass j (1-based) of the tick, or None when the span is idle in that pass."""
        require(f"j (pos={self.pos})", j, j >= 1, "must be >= 1")
        return Cell(self.pos, self.first + j - 1) if j <= self.count else None


def ceil_div(a: int, b: int) -> int:
    """ceil(a / b) for ints, b >= 1."""
    require_int("b", b, 1)
    return -(-a // b)

