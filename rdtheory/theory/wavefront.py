"""The diffusion-forcing (DF) sampler's control flow for one row, in integers only.

Owns the rules that decide, tick after tick, which positions form the wavefront, which of them exit and commit,
and which enter: `Wave` (the knobs), `Front` (the state between ticks) and the three steps `first_front`,
`recur` and `settle`. A tick is: every wavefront position runs `inner` recurrences (`recur`); the caller decides
which positions have converged; `settle` removes the exiting prefix, records the commits and admits new
positions. `rdtheory.theory.schedule.df_schedule` drives these steps with synthetic convergence depths; a sampler
can drive them with real exit decisions. Knows nothing of latents, tokens' values, time or cost.

The rules, for one row with prompt positions 0..P-1 and N new tokens (the state at p predicts token p + 1):

* Positions run: with full prefill, the prefill commits token P and the wavefront starts as {P} (the "head");
  without it, the wavefront starts with the first min(P, cap) prompt positions. No position beyond P + N - 2 is
  ever run: the last token, at P + N - 1, is decoded from P + N - 2.
* Exits: the exiting positions are a prefix of the wavefront: the longest prefix of converged positions
  (contiguous rule, the paper's Eq. 3) or everything up to and including the rightmost converged position
  (`rightmost`, the paper's Algorithm 2 and its code). An exiting p commits token p + 1 when p + 1 >= P.
* Entries: new positions are appended at the right end. While prompt positions remain to be admitted (only
  without full prefill), a tick admits only prompt positions, as many as the cap allows (headway does not
  apply): a draft position's input is decoded from its left neighbour, which must have run once. Otherwise it
  admits min(headway, cap - width, positions still needed). A tick that admits nothing because the wavefront is
  at its cap while positions are still needed is a standing wave.
* The run ends when N tokens are committed.
* Convergence is the caller's decision, per position and tick. `df_schedule` decides by the recurrence count
  alone, so a draft is never held (the reference implementation's behaviour). A sampler that also holds a
  non-head position whose input draft disagrees with the token committed to its left makes the schedule
  data-dependent; with headway >= 2 it can then differ from `df_schedule`'s, and every statement of this package
  about `df_schedule` with headway >= 2 describes the schedule without holding.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from rdtheory.paper import DF_DEFAULTS
from rdtheory.theory.checks import require, require_int
from rdtheory.theory.grid import ceil_div


@dataclass(frozen=True)
class Wave:
    """Knobs of the DF control flow for one row."""

    prompt_len: int
    n_new: int
    inner: int
    headway: int = DF_DEFAULTS.headway
    cap: int = DF_DEFAULTS.max_wavefront
    full_prefill: bool = True
    rightmost: bool = False

    def __post_init__(self) -> None:
        require_int("prompt_len", self.prompt_len, 1)
        require_int("n_new", self.n_new, 0)
        require_int("inner", self.inner, 1)
        require_int("headway", self.headway, 1)
        require_int("cap", self.cap, 1)

    @property
    def first_position(self) -> int:
        """The first position the wavefront runs."""
        return self.prompt_len if self.full_prefill else 0

    @property
    def last_position(self) -> int:
        """The last position ever run, P + N - 2 (below first_position when nothing runs in the wave)."""
        return self.prompt_len + self.n_new - 2

    @property
    def positions_run(self) -> range:
        """The positions the wave runs: first_position..P + N - 2 (none when N = 0)."""
        return range(self.first_position, self.last_position + 1 if self.n_new > 0 else self.first_position)

    def token_of(self, pos: int) -> int | None:
        """The token an exiting `pos` commits (pos + 1), or None for a prompt position whose successor is given."""
        return pos + 1 if pos + 1 >= self.prompt_len else None


@dataclass(frozen=True)
class Front:
    """The wavefront between ticks: positions start..start+len(counts)-1 with their recurrence counts, the next
    position to admit, and the number of tokens committed so far."""

    start: int
    counts: tuple[int, ...]
    next_pos: int
    committed: int

    def __post_init__(self) -> None:
        assert self.start + len(self.counts) == self.next_pos, f"wavefront {self} is not contiguous"

    @property
    def positions(self) -> range:
        return range(self.start, self.next_pos)

    @property
    def width(self) -> int:
        return len(self.counts)


@dataclass(frozen=True)
class Settled:
    """What the end of a tick did: how many positions exited, the tokens they committed, how many positions were
    admitted, and whether the front stood still at the cap."""

    exits: int
    commits: tuple[int, ...]
    added: int
    standing: bool


def first_front(wave: Wave) -> Front:
    """The wavefront before the first DF tick (after the prefill, which commits token P, under full prefill)."""
    if wave.full_prefill:
        n = 1 if wave.prompt_len <= wave.last_position else 0
        return Front(wave.prompt_len, (0,) * n, wave.prompt_len + n, min(1, wave.n_new))
    n = min(wave.prompt_len, wave.cap) if wave.n_new > 0 else 0
    return Front(0, (0,) * n, n, 0)


def is_done(front: Front, wave: Wave) -> bool:
    return front.committed >= wave.n_new


def recur(front: Front, inner: int) -> Front:
    """Every wavefront position runs `inner` more recurrences."""
    return Front(front.start, tuple(n + inner for n in front.counts), front.next_pos, front.committed)


def exiting_prefix(converged: Sequence[bool], rightmost: bool) -> int:
    """Length of the exiting prefix of a wavefront whose positions have `converged`."""
    if rightmost:
        return max((i + 1 for i, c in enumerate(converged) if c), default=0)
    return next((i for i, c in enumerate(converged) if not c), len(converged))


def settle(front: Front, converged: Sequence[bool], wave: Wave) -> tuple[Front, Settled]:
    """Exit, commit and admit at the end of a tick, given which wavefront positions have converged."""
    require("converged", converged, len(converged) == front.width, f"must have one flag per position ({front.width})")
    n_exit = exiting_prefix(converged, wave.rightmost)
    commits = tuple(t for p in range(front.start, front.start + n_exit) if (t := wave.token_of(p)) is not None)
    # The sampler cuts the prefix so that no more than n_new tokens are committed; since no position beyond
    # P + N - 2 is admitted, the cut never bites.
    assert front.committed + len(commits) <= wave.n_new, f"commits {commits} exceed n_new={wave.n_new}"
    front = Front(front.start + n_exit, front.counts[n_exit:], front.next_pos, front.committed + len(commits))
    if is_done(front, wave):
        return front, Settled(n_exit, commits, 0, False)
    room = wave.cap - front.width
    needed = wave.last_position - front.next_pos + 1
    if front.next_pos < wave.prompt_len:
        added = min(room, wave.prompt_len - front.next_pos)
    else:
        added = min(wave.headway, room, needed)
    assert needed > 0 or front.width > 0, f"nothing left to run but only {front.committed} tokens committed"
    grown = Front(front.start, front.counts + (0,) * added, front.next_pos + added, front.committed)
    return grown, Settled(n_exit, commits, added, needed > 0 and room == 0)


def max_df_ticks(prompt_len: int, n_new: int, inner: int, max_depth: int, full_prefill: bool = True) -> int:
    """An upper bound on the number of DF ticks (the prefill not counted), whatever the exit decisions, when every
    position counts as converged once it has had max_depth recurrences.

    Each tick has a leftmost wavefront position (the wavefront is never empty while tokens are missing). The
    leftmost position exits, under either commit rule, at the latest in its ceil(max_depth / inner)-th tick,
    and positions are leftmost in increasing order, so the bound is (positions run) × ceil(max_depth / inner).
    It is attained when cap = 1 and every position needs max_depth.
    """
    wave = Wave(prompt_len, n_new, inner, full_prefill=full_prefill)
    require_int("max_depth", max_depth, 1)
    return len(wave.positions_run) * ceil_div(max_depth, inner)
