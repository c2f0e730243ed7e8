"""When can a schedule run, and what does each query read from the KV cache under each sharing policy.

Owns the validity check of a one-row `Schedule`. Time is the global pass: within a pass, every position in it first
writes its keys, then attends, so a query sees the keys written in its own pass.

A schedule is valid when:

1. Depth order: each position computes steps 1, 2, 3, ... in increasing passes, each once: cell (p, k) comes
   after (p, k - 1).
2. Attention: a cell (p, k) computed in pass g reads keys of every earlier position q < p, so every such q has
   computed at least one cell in a pass <= g (q has "started"). Which cell is read is the KV policy's
   `read_step` (`rdtheory.knobs.kv`): with d_q(g) the deepest step of q stored by pass g,
   * ShareLast (one slot per core layer, overwritten by every recurrence): the latest cell, (q, d_q(g));
   * PerStep (a slot per core layer and recurrence step): (q, min(k, d_q(g))). Every step of a position is
     stored, so this cell exists; but a cache with room for `depth_capacity` steps cannot store a step beyond it
     (`stores`), which is a further condition.
   Both policies need the same availability (q has started); they differ in which cell is read.
3. Prefill: only tick 0 may be a prefill.
4. Commits: the committed positions are P, P + 1, ... in order; token t is committed in the tick in which
   position t - 1 runs for the last time.

Knows nothing of samplers' knobs, time or cost. `KVSharing` names the two policies as the versions before the
policies were one vocabulary did (`KVSharing.SHARE_LAST`, `KVSharing.PER_STEP`, `KVSharing.of(policy)`).
"""

from bisect import bisect_right

from rdtheory.knobs.kv import KVPolicy, PerStep, ShareLast
from rdtheory.theory.grid import Cell
from rdtheory.theory.schedule import Schedule


class KVSharing:
    """The policies under their earlier names."""

    SHARE_LAST = ShareLast()
    PER_STEP = PerStep()

    @staticmethod
    def of(policy: KVPolicy) -> KVPolicy:
        return policy


class _History:
    """Per position: the passes at which it computed cells, and the deepest step stored by each of them."""

    def __init__(self, schedule: Schedule) -> None:
        self.passes: dict[int, list[int]] = {}
        self.steps: dict[int, list[int]] = {}
        self.deepest: dict[int, list[int]] = {}
        for cell, (_, g) in sorted(schedule.timeline().items(), key=lambda item: item[1][1]):
            self.passes.setdefault(cell.pos, []).append(g)
            self.steps.setdefault(cell.pos, []).append(cell.step)
            prev = self.deepest.setdefault(cell.pos, [])
            prev.append(max(cell.step, prev[-1] if prev else 0))

    def deepest_by(self, pos: int, g: int) -> int:
        """Deepest step of `pos` computed in a pass <= g (0 if none)."""
        i = bisect_right(self.passes.get(pos, []), g)
        return self.deepest[pos][i - 1] if i else 0


def read_cell(schedule: Schedule, query: Cell, source: int, sharing: KVPolicy) -> Cell | None:
    """The cell of position `source` < query.pos whose keys `query` reads, or None if `source` has not started
    by then (or `query` is not in the schedule)."""
    return _read(_History(schedule), schedule.timeline(), query, source, sharing)


def _read(history: _History, timeline: dict[Cell, tuple[int, int]], query: Cell, source: int,
          sharing: KVPolicy) -> Cell | None:
    if query not in timeline or source >= query.pos:
        return None
    d = history.deepest_by(source, timeline[query][1])
    if d == 0:
        return None
    return Cell(source, sharing.read_step(query.step, d))


def violations(schedule: Schedule, sharing: KVPolicy = ShareLast(), depth_capacity: int | None = None) -> list[str]:
    """Every way `schedule` breaks the conditions in the module docstring (empty when valid). `depth_capacity`
    is the number of recurrence steps the cache holds per position (what a policy can store within it counts)."""
    found = _depth_order(schedule) + _attention(schedule) + _commits(schedule)
    found += [f"tick {i} is a prefill but not the first tick" for i, t in enumerate(schedule.ticks) if i and t.prefill]
    if depth_capacity is not None:
        found += [f"cell {c} is deeper than depth_capacity={depth_capacity}"
                  for c in sorted(schedule.cells()) if not sharing.stores(c.step, depth_capacity)]
    return found


def is_valid(schedule: Schedule, sharing: KVPolicy = ShareLast(), depth_capacity: int | None = None) -> bool:
    return not violations(schedule, sharing, depth_capacity)


def _depth_order(schedule: Schedule) -> list[str]:
    found, done = [], {}
    for i, t in enumerate(schedule.ticks):
        for r in t.runs:
            if r.first != done.get(r.pos, 0) + 1:
                found.append(f"tick {i}: position {r.pos} starts at step {r.first} after step {done.get(r.pos, 0)}")
            done[r.pos] = r.last
    return found


def _attention(schedule: Schedule) -> list[str]:
    """Every position q < p has started by the first pass of p (its later passes then see q as well)."""
    start: dict[int, int] = {}
    for cell, (_, g) in schedule.timeline().items():
        start[cell.pos] = min(g, start.get(cell.pos, g))
    found = []
    for p, g in sorted(start.items()):
        late = [q for q in range(p) if start.get(q, g + 1) > g]
        if late:
            found.append(f"position {p} starts in pass {g} before positions {late} have keys")
    return found


def _commits(schedule: Schedule) -> list[str]:
    found = []
    commits = schedule.commits()
    expected = tuple(range(schedule.prompt_len, schedule.prompt_len + len(commits)))
    if commits != expected:
        found.append(f"commits {commits} are not the positions {expected} in order")
    last_tick: dict[int, int] = {}
    for i, t in enumerate(schedule.ticks):
        for p in t.positions:
            last_tick[p] = i
    for pos, i in schedule.commit_ticks().items():
        if last_tick.get(pos - 1) != i:
            found.append(f"token {pos} is committed in tick {i} but position {pos - 1} last runs in tick "
                         f"{last_tick.get(pos - 1)}")
    return found


def provisional_reads(schedule: Schedule, sharing: KVPolicy, ticks: range | None = None) -> int:
    """Number of (query cell, earlier position) reads, in the given ticks (default all), that differ from what
    the query would read once the earlier position has finished (the policy's `read_step` at its final depth:
    its final cell under ShareLast, step min(k, final depth) under PerStep). Zero for the decode ticks of AR; DF's
    drafts make them positive."""
    history, timeline, depths = _History(schedule), schedule.timeline(), schedule.depths()
    chosen = range(schedule.n_ticks) if ticks is None else ticks
    count = 0
    for i in chosen:
        for query in schedule.ticks[i].cells():
            for q in range(query.pos):
                read = _read(history, timeline, query, q, sharing)
                count += read is not None and read.step != sharing.read_step(query.step, depths.get(q, 0))
    return count
