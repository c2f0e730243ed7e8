"""Schedules: which (position, recurrence-step) cells one row computes at each tick, and what it commits.

Owns `ScheduleTick` and `Schedule`, built from the same primitive data as the sampler's trace (per tick: the
number of serial passes, the runs (pos, first, count), the committed positions, the standing-wave flag and the
prefill flag), their views (tick → cells, global pass → cells, cell → when), and the constructors of the
samplers' schedules: `ar_schedule` (static depth), `adaptive_ar_schedule` (given exit depths) and `df_schedule`
(diffusion forcing with a fixed rule or synthetic per-position convergence depths). Validity lives in
`rdtheory.theory.validity`, counting in `rdtheory.theory.counters`. Knows nothing of latents, torch or time.

A sampler's `Trace` (rdtheory.sampling.trace) converts row by row with `Trace.to_schedule(b)`, keeping the ticks
in which the row runs. A tick's passes are the row's own: the largest run count among the row's runs, not the
batched tick's `t.passes` (the deepest row's):

    runs = [(r.pos, r.first, r.count) for blk in t.blocks if blk.row == b for r in blk.runs()]
    ScheduleTick(max(count for _, _, count in runs), runs, [c.pos for c in t.commits if c.row == b],
                 b in t.standing, t.prefill)

A run cut short by a stop token is `schedule.truncated(n_committed)` of the run without it.

Indexing: ticks are 0-based (tick 0 is the prefill when there is one); global passes are 1-based, so pass g is the
g-th serial pass of the run and ends at serial depth g. Exit depths given per position are indexed by absolute
position.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from rdtheory.paper import DF_DEFAULTS
from rdtheory.theory.checks import require, require_int
from rdtheory.theory.grid import Cell, Span
from rdtheory.theory.wavefront import Wave, first_front, is_done, max_df_ticks, recur, settle

ExitDepths = int | Sequence[int] | Callable[[int], int]


@dataclass(frozen=True)
class ScheduleTick:
    """One tick of one row: `passes` serial passes over `runs`, then `commits` (positions of committed tokens).

    `runs` accepts `Span`s or (pos, first, count) triples and is stored sorted by position; `commits` is stored
    sorted. `standing`: the front could not advance because the wavefront was at its cap.
    """

    passes: int
    runs: tuple[Span, ...]
    commits: tuple[int, ...] = ()
    standing: bool = False
    prefill: bool = False

    def __post_init__(self) -> None:
        require_int("passes", self.passes, 1)
        runs = tuple(sorted(Span.of(r) for r in self.runs))
        commits = tuple(sorted(self.commits))
        object.__setattr__(self, "runs", runs)
        object.__setattr__(self, "commits", commits)
        for r in runs:
            require(f"count (pos={r.pos})", r.count, r.count <= self.passes, f"must be <= passes={self.passes}")
        positions = [r.pos for r in runs]
        require("runs", positions, len(set(positions)) == len(positions), "must name each position at most once")
        for c in commits:
            require_int("commit", c, 1)
        require("commits", commits, len(set(commits)) == len(commits), "must be distinct")

    @property
    def positions(self) -> tuple[int, ...]:
        return tuple(r.pos for r in self.runs)

    def cells(self) -> frozenset[Cell]:
        return frozenset(c for r in self.runs for c in r.cells())

    def cells_at(self, j: int) -> frozenset[Cell]:
        """Cells computed in pass j (1-based) of this tick."""
        require("j", j, 1 <= j <= self.passes, f"must lie in [1, passes={self.passes}]")
        return frozenset(c for r in self.runs if (c := r.cell_at(j)) is not None)


@dataclass(frozen=True)
class Schedule:
    """The ticks of one row whose prompt has `prompt_len` positions. Equality compares prompt length and ticks."""

    prompt_len: int
    ticks: tuple[ScheduleTick, ...]

    def __post_init__(self) -> None:
        require_int("prompt_len", self.prompt_len, 0)
        object.__setattr__(self, "ticks", tuple(self.ticks))

    @property
    def n_ticks(self) -> int:
        return len(self.ticks)

    @property
    def n_passes(self) -> int:
        """Serial passes of the whole run (the prefill counts its depth)."""
        return sum(t.passes for t in self.ticks)

    def pass_offsets(self) -> tuple[int, ...]:
        """Global index of each tick's first pass, minus one."""
        offsets, total = [], 0
        for t in self.ticks:
            offsets.append(total)
            total += t.passes
        return tuple(offsets)

    def by_tick(self) -> tuple[frozenset[Cell], ...]:
        """Tick → the cells it computes."""
        return tuple(t.cells() for t in self.ticks)

    def by_pass(self) -> tuple[frozenset[Cell], ...]:
        """Global pass → the cells it computes (entry g - 1 holds pass g)."""
        return tuple(t.cells_at(j) for t in self.ticks for j in range(1, t.passes + 1))

    def timeline(self) -> dict[Cell, tuple[int, int]]:
        """Cell → (tick, global pass) at which it is computed."""
        when = {}
        for i, (t, offset) in enumerate(zip(self.ticks, self.pass_offsets())):
            for r in t.runs:
                for j, c in enumerate(r.cells(), start=1):
                    when[c] = (i, offset + j)
        return when

    def cells(self) -> frozenset[Cell]:
        return frozenset(c for t in self.ticks for c in t.cells())

    def depths(self) -> dict[int, int]:
        """Recurrences each position received, by position."""
        total: dict[int, int] = {}
        for t in self.ticks:
            for r in t.runs:
                total[r.pos] = total.get(r.pos, 0) + r.count
        return dict(sorted(total.items()))

    def commits(self) -> tuple[int, ...]:
        """Positions of the committed tokens, in commit order."""
        return tuple(c for t in self.ticks for c in t.commits)

    def truncated(self, n_tokens: int) -> "Schedule":
        """The run stopped once `n_tokens` tokens are committed (a stop token): the ticks up to the one that commits
        the n_tokens-th token, whose later commits are dropped."""
        require_int("n_tokens", n_tokens, 0)
        kept, done = [], 0
        for t in self.ticks:
            if done >= n_tokens:
                break
            commits = t.commits[: n_tokens - done]
            done += len(commits)
            kept.append(ScheduleTick(t.passes, t.runs, commits, t.standing, t.prefill))
        return Schedule(self.prompt_len, tuple(kept))

    def commit_ticks(self) -> dict[int, int]:
        """Committed position → the tick that committed it."""
        return {c: i for i, t in enumerate(self.ticks) for c in t.commits}


def _prefill(prompt_len: int, depth: int) -> ScheduleTick:
    """All prompt positions run recurrences 1..depth in `depth` passes; token P is decoded from P - 1."""
    return ScheduleTick(depth, tuple((p, 1, depth) for p in range(prompt_len)), (prompt_len,), prefill=True)


def exit_depths_of(exit_depths: ExitDepths, positions: Iterable[int]) -> dict[int, int]:
    """The exit depth of each of `positions`, from an int (all equal), a sequence indexed by absolute position, or a
    callable of the position; each must be an int >= 1."""
    depths = {p: _depth_at(exit_depths, p) for p in positions}
    for p, d in depths.items():
        if isinstance(d, bool) or not isinstance(d, int) or d < 1:
            raise ValueError(f"exit_depths[{p}]={d!r} must be an int >= 1 (one per position run)")
    return depths


def _depth_at(exit_depths: ExitDepths, pos: int) -> object:
    if isinstance(exit_depths, int):
        return exit_depths
    if callable(exit_depths):
        return exit_depths(pos)
    return exit_depths[pos] if pos < len(exit_depths) else None


def ar_schedule(prompt_len: int, n_new: int, depth: int, prefill_depth: int | None = None) -> Schedule:
    """Static-depth AR: the prefill (at `prefill_depth`, default `depth`) commits token P; then, for each further
    token, one tick in which position P + t - 1 runs recurrences 1..depth and commits token P + t."""
    require_int("depth", depth, 1)
    return adaptive_ar_schedule(prompt_len, n_new, depth, depth if prefill_depth is None else prefill_depth)


def adaptive_ar_schedule(prompt_len: int, n_new: int, exit_depths: ExitDepths, prefill_depth: int,
                         max_depth: int | None = None) -> Schedule:
    """Adaptive AR: the prefill at a fixed depth commits token P; then position p = P, ..., P + N - 2 runs
    min(exit depth of p, max_depth) recurrences in one tick and commits token p + 1."""
    require_int("prompt_len", prompt_len, 1)
    require_int("n_new", n_new, 0)
    require_int("prefill_depth", prefill_depth, 1)
    if max_depth is not None:
        require_int("max_depth", max_depth, 1)
    if n_new == 0:
        return Schedule(prompt_len, ())
    depths = exit_depths_of(exit_depths, range(prompt_len, prompt_len + n_new - 1))
    ticks = [_prefill(prompt_len, prefill_depth)]
    for p, d in depths.items():
        d = d if max_depth is None else min(d, max_depth)
        ticks.append(ScheduleTick(d, ((p, 1, d),), (p + 1,)))
    return Schedule(prompt_len, tuple(ticks))


def df_schedule(prompt_len: int, n_new: int, inner: int, exit_depths: ExitDepths,
                headway: int = DF_DEFAULTS.headway, cap: int = DF_DEFAULTS.max_wavefront,
                max_depth: int | None = None, full_prefill: bool = True,
                prefill_depth: int | None = None, rightmost: bool = False) -> Schedule:
    """Diffusion forcing with synthetic convergence: position p has converged once its count n_p reaches its exit
    depth d_p (an int gives the paper's fixed rule) or `max_depth`, whatever its input draft (drafts are never
    held, as in the reference; a sampler that holds a non-head draft disagreeing with the token committed to its
    left can differ from this when headway >= 2). Every DF tick runs `inner` recurrences on each wavefront
    position; the control flow is `rdtheory.theory.wavefront`'s. With full prefill, the prefill runs
    at `prefill_depth` (default `max_depth`, else the int `exit_depths`)."""
    wave = Wave(prompt_len, n_new, inner, headway, cap, full_prefill, rightmost)
    if max_depth is not None:
        require_int("max_depth", max_depth, 1)
    depths = exit_depths_of(exit_depths, wave.positions_run)
    if max_depth is not None:
        depths = {p: min(d, max_depth) for p, d in depths.items()}
    if not full_prefill and prefill_depth is not None:
        raise ValueError(f"prefill_depth={prefill_depth} needs full_prefill=True (the prompt runs in the wave)")
    if n_new == 0:
        return Schedule(prompt_len, ())
    ticks = []
    if full_prefill:
        if prefill_depth is None:
            prefill_depth = max_depth if max_depth is not None else exit_depths
        if not isinstance(prefill_depth, int):
            raise ValueError("prefill_depth=None must be given when max_depth is None and exit_depths is not an int")
        ticks.append(_prefill(prompt_len, require_int("prefill_depth", prefill_depth, 1)))
    limit = max_df_ticks(prompt_len, n_new, inner, max(depths.values(), default=1), full_prefill)
    front = first_front(wave)
    while not is_done(front, wave):
        runs = tuple((p, n + 1, inner) for p, n in zip(front.positions, front.counts))
        front = recur(front, inner)
        converged = [n >= depths[p] for p, n in zip(front.positions, front.counts)]
        front, settled = settle(front, converged, wave)
        ticks.append(ScheduleTick(inner, runs, settled.commits, settled.standing))
        assert len(ticks) - full_prefill <= limit, f"DF ran past its tick bound {limit}"
    return Schedule(prompt_len, tuple(ticks))
