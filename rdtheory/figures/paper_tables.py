"""Table 1 and Table 2 of the paper (`rdtheory.paper`, where the printed numbers live) as the figures draw them:
each row with its accuracy (%), its median tokens/s per task and the cost model's knobs.

A view, no data: a row that has fixed knobs carries them as `rdtheory.costs.plan` objects (static AR at depth r;
DF with r' and the fixed rule's r, as `rdtheory.costs.table1.planned` prices it), so the cost model can explain
it; adaptive AR and speculative decoding have no such knobs. The task names are re-exported from `rdtheory.paper`.
"""

from dataclasses import dataclass

from rdtheory import paper
from rdtheory.costs.plan import DiffusionForcing, StaticAR
from rdtheory.costs.table1 import planned
from rdtheory.paper import TABLE1_TASKS, TABLE2_TASKS

__all__ = ["TABLE1", "TABLE1_TASKS", "TABLE2", "TABLE2_TASKS", "PaperRow"]


@dataclass(frozen=True)
class PaperRow:
    """One sampler's row: accuracy (%) and tokens/s per task, in the table's task order."""

    label: str
    knobs: StaticAR | DiffusionForcing | None
    accuracy: tuple[float, ...]
    tokens_per_s: tuple[float, ...]

    @classmethod
    def of(cls, row: paper.TableRow) -> "PaperRow":
        """The printed row `row` with its knobs."""
        return cls(row.label, planned(row), row.accuracy, row.tokens_per_s)


TABLE1 = tuple(PaperRow.of(row) for row in paper.TABLE1.rows)

# Per checkpoint: (static AR r=32, diffusion sampler r'=4, beta=0) with the same hyperparameters.
TABLE2 = {table.checkpoint: tuple(PaperRow.of(row) for row in table.rows) for table in paper.TABLE2}
