"""KV sharing across recurrence steps: which cache slot a core layer's keys go to at a recurrence, which recurrence
of an earlier position a query reads, and how many slots that takes.

* `ShareLast`: one slot per core layer, overwritten by every recurrence; a query reads each earlier position's
  latest keys (Huginn's default, "latest-m4-compress-s4"). Memory independent of depth.
* `PerStep`: one slot per (core layer, recurrence); a query at recurrence k reads recurrence min(k, d) of an earlier
  position whose deepest stored recurrence is d (Huginn's "latest-m4" lookup over a full cache). Memory grows with
  the depth capacity, and each query reads its own slot of every key (`reads_per_query`).

The same objects serve the KV cache (`rdtheory.model.cache`, with int or tensor steps), the theory's validity
check (`rdtheory.theory.validity`, with ints) and the cost model's memory and traffic (`rdtheory.costs`).
"""

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class KVPolicy:
    """Base of the KV sharing policies; the subclasses are final frozen dataclasses."""

    reads_per_query: ClassVar[bool]
    """Whether queries at different recurrences read different slots of the same key (a gather per query)."""

    @property
    def per_step(self) -> bool:
        """A slot per recurrence step (the name the samplers and the cache have used)."""
        return self.reads_per_query

    @property
    def label(self) -> str:
        return type(self).__name__

    def core_slots(self, n_core: int, depth_capacity: int) -> int:
        """Cache slots the core needs for `n_core` layers and recurrences up to `depth_capacity`."""
        raise NotImplementedError

    def core_slot(self, layer: Any, step: Any, n_core: int) -> Any:
        """The core slot (0-based among the core's) of `layer` at recurrence `step` (1-based; ints or tensors)."""
        raise NotImplementedError

    def read_step(self, query_step: int, deepest: int) -> int:
        """The recurrence of an earlier position that a query at recurrence `query_step` reads, when that
        position's deepest stored recurrence is `deepest` (>= 1)."""
        raise NotImplementedError

    def stores(self, step: int, depth_capacity: int) -> bool:
        """Whether a cache with `depth_capacity` recurrences per position can hold recurrence `step`."""
        raise NotImplementedError


@dataclass(frozen=True)
class ShareLast(KVPolicy):
    """One slot per core layer, overwritten by the latest recurrence (memory independent of depth)."""

    reads_per_query = False

    def core_slots(self, n_core: int, depth_capacity: int) -> int:
        return n_core

    def core_slot(self, layer: Any, step: Any, n_core: int) -> Any:
        return layer

    def read_step(self, query_step: int, deepest: int) -> int:
        return deepest

    def stores(self, step: int, depth_capacity: int) -> bool:
        return True


@dataclass(frozen=True)
class PerStep(KVPolicy):
    """A slot per (core layer, recurrence step): memory grows linearly with the depth capacity."""

    reads_per_query = True

    def core_slots(self, n_core: int, depth_capacity: int) -> int:
        return n_core * depth_capacity

    def core_slot(self, layer: Any, step: Any, n_core: int) -> Any:
        return (step - 1) * n_core + layer

    def read_step(self, query_step: int, deepest: int) -> int:
        return min(query_step, deepest)

    def stores(self, step: int, depth_capacity: int) -> bool:
        return step <= depth_capacity
