"""The work a generation does, as a sequence of `Pass`es that `roofline` prices.

Builders: static and adaptive AR from knobs (`ar_passes`), diffusion forcing with the fixed exit rule from knobs
(`df_ticks`, `df_passes`, and its closed-form `df_steady_state`), and converters from what ran: generic ticks
(`passes_from_ticks`), a sampler's `Trace` (`passes_from_trace`, duck-typed on its documented fields, so this
module imports nothing from `rdtheory.sampling`), and a theory `Schedule` (`passes_from_schedule`).

Every tick becomes three passes: EMBED over the tick's positions, `passes` CORE calls over the same positions, and
DECODE over them. Batched calls are padded as the model runs them: every row of the batch is in every call, W is
the widest row's width and L (kv_len) the longest row's context. The context of a tick is one past its largest
position, the model's default kv_len.
"""

import math
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from rdtheory.config import ModelConfig
from rdtheory.costs.counts import Pass, Stage
from rdtheory.paper import DF_DEFAULTS


def tick_passes(passes: int, width: int, context: int, batch: int, per_query_kv: bool = False) -> list[Pass]:
    """One tick: EMBED, `passes` CORE calls, DECODE, all over W positions reading L for B rows."""
    return [Pass(Stage.EMBED, width, context, batch), Pass(Stage.CORE, width, context, batch, passes, per_query_kv),
            Pass(Stage.DECODE, width, context, batch)]


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}={value!r} must be an int >= 1")


def _check_fits(config: ModelConfig, prompt_length: int, new_tokens: int) -> None:
    # The last new token is decoded from position prompt_length + new_tokens - 2; its own position must exist too.
    if prompt_length + new_tokens - 1 > config.block_size:
        raise ValueError(f"prompt_length={prompt_length} + new_tokens={new_tokens} - 1 exceeds block_size="
                         f"{config.block_size}: the model has no positions beyond it")


# ------------------------------------------------------------------------------------------------------- AR

def prefill_passes(config: ModelConfig, prompt_length: int, depth: int, batch: int = 1) -> list[Pass]:
    """The prompt in one parallel tick: EMBED, `depth` CORE calls and DECODE over P positions reading P (the AR
    sampler decodes every prompt position; the last one's logits give the first new token)."""
    _check_positive(prompt_length=prompt_length, prefill_depth=depth, batch=batch)
    if prompt_length > config.block_size:
        raise ValueError(f"prompt_length={prompt_length} exceeds block_size={config.block_size}")
    return tick_passes(depth, prompt_length, prompt_length, batch)


def ar_passes(config: ModelConfig, prompt_length: int, new_tokens: int, depth: int | Sequence[int], batch: int = 1,
              prefill_depth: int | None = None) -> list[Pass]:
    """Prefill (EMBED, prefill_depth CORE, DECODE over P positions reading P), which commits the first token;
    then for each further token t = 1 .. N-1 one tick at width 1 reading P + t positions with depth[t-1] core
    steps (static AR: `depth` an int r; adaptive AR: one depth per further token). prefill_depth defaults to r,
    or to the largest depth for adaptive AR (the AR sampler's max_depth)."""
    _check_positive(prompt_length=prompt_length, new_tokens=new_tokens, batch=batch)
    _check_fits(config, prompt_length, new_tokens)
    depths = [depth] * (new_tokens - 1) if isinstance(depth, int) else list(depth)
    if len(depths) != new_tokens - 1:
        raise ValueError(f"depth has {len(depths)} entries; adaptive AR needs one per token after the first "
                         f"(new_tokens - 1 = {new_tokens - 1})")
    for d in depths:
        _check_positive(depth=d)
    if prefill_depth is None:
        prefill_depth = depth if isinstance(depth, int) else max(depths, default=1)
    out = prefill_passes(config, prompt_length, prefill_depth, batch)
    for t, d in enumerate(depths, start=1):
        out += tick_passes(d, 1, prompt_length + t, batch)
    return out


def spread_depths(mean_depth: float, count: int) -> list[int]:
    """`count` integer depths whose running sums track mean_depth * t (floor(t m) - floor((t-1) m)): their total
    is floor(count * mean_depth), so an adaptive run of a given mean depth is priced with whole core calls."""
    if not (math.isfinite(mean_depth) and mean_depth >= 1):
        raise ValueError(f"mean_depth={mean_depth!r} must be a finite number >= 1")
    return [math.floor(t * mean_depth) - math.floor((t - 1) * mean_depth) for t in range(1, count + 1)]


# ------------------------------------------------------------------------------------------------------- DF

@dataclass(frozen=True)
class SteadyState:
    """The fixed-exit DF wave far from its start and end: each position stays `ticks_per_token` ticks, the wave
    holds `width` positions, and `tokens_per_tick` tokens are committed per tick."""

    ticks_per_token: int
    width: int
    tokens_per_tick: float


def df_steady_state(depth: int, inner: int, headway: int = DF_DEFAULTS.headway,
                    max_wavefront: int = DF_DEFAULTS.max_wavefront) -> SteadyState:
    """n = ceil(r / r'); W = min(cap, headway * n); tokens per tick = W / n (headway, unless the cap binds)."""
    _check_positive(depth=depth, inner=inner, headway=headway, max_wavefront=max_wavefront)
    n = math.ceil(depth / inner)
    width = min(max_wavefront, headway * n)
    return SteadyState(n, width, width / n)


def df_ticks(prompt_length: int, new_tokens: int, depth: int, inner: int, headway: int = DF_DEFAULTS.headway,
             max_wavefront: int = DF_DEFAULTS.max_wavefront) -> list[tuple[int, int]]:
    """(width, context) of every tick after the prefill of the fixed-exit DF sampler (Algorithm 1): the wave
    starts with the prefill's committed token at position P; each tick runs r' recurrences on every active
    position, freezes those that reached r (committing the next token each), then appends up to `headway` new
    positions while the wave holds fewer than `max_wavefront`. Ends when new_tokens - 1 more tokens are frozen."""
    _check_positive(prompt_length=prompt_length, new_tokens=new_tokens, depth=depth, inner=inner, headway=headway,
                    max_wavefront=max_wavefront)
    n, last = math.ceil(depth / inner), prompt_length + new_tokens - 2
    active: deque[list[int]] = deque([[prompt_length, 0]]) if new_tokens > 1 else deque()
    next_pos, ticks = prompt_length + 1, []
    while active:
        ticks.append((len(active), active[-1][0] + 1))
        for entry in active:
            entry[1] += 1
        while active and active[0][1] >= n:
            active.popleft()
        for _ in range(min(headway, max_wavefront - len(active))):
            if next_pos <= last:
                active.append([next_pos, 0])
                next_pos += 1
    return ticks


def df_passes(config: ModelConfig, prompt_length: int, new_tokens: int, depth: int, inner: int,
              headway: int = DF_DEFAULTS.headway, max_wavefront: int = DF_DEFAULTS.max_wavefront, batch: int = 1,
              per_query_kv: bool = False, prefill_depth: int | None = None) -> list[Pass]:
    """Prefill at prefill_depth (default r) as for AR, then per DF tick: EMBED, r' CORE, DECODE over the wave.
    per_query_kv: PerStep keys, where each position of the wave reads its own recurrence of every key."""
    _check_positive(batch=batch)
    _check_fits(config, prompt_length, new_tokens)
    out = prefill_passes(config, prompt_length, depth if prefill_depth is None else prefill_depth, batch)
    for width, context in df_ticks(prompt_length, new_tokens, depth, inner, headway, max_wavefront):
        out += tick_passes(inner, width, context, batch, per_query_kv and width > 1)
    return out


# ----------------------------------------------------------------------------------------------- converters

def passes_from_ticks(ticks: Iterable[tuple[int, Sequence[int], Sequence[int]]],
                      per_query_kv: bool = False) -> list[Pass]:
    """Generic ticks (passes, widths per row, contexts per row) -> passes; a row may have width 0 (idle).
    W = max width, L = max context, B = number of rows. Ticks where no row has work are skipped."""
    out: list[Pass] = []
    for passes, widths, contexts in ticks:
        if len(widths) != len(contexts) or not widths:
            raise ValueError(f"widths={list(widths)} and contexts={list(contexts)} must be non-empty and of "
                             "equal length (one entry per row)")
        width = max(widths)
        if width > 0:
            out += tick_passes(passes, width, max(contexts), len(widths), per_query_kv and width > 1)
    return out


class Positioned(Protocol):
    """A run of a theory schedule's tick (a `Span`): its position."""

    @property
    def pos(self) -> int: ...


class RunLike(Positioned, Protocol):
    """A run of a sampler trace's tick (a `Run`): its row and position."""

    @property
    def row(self) -> int: ...


class ScheduleTickLike(Protocol):
    @property
    def passes(self) -> int: ...

    @property
    def prefill(self) -> bool: ...

    @property
    def runs(self) -> Sequence[Positioned]: ...


class TraceTickLike(ScheduleTickLike, Protocol):
    @property
    def runs(self) -> Sequence[RunLike]: ...


class ScheduleLike(Protocol):
    """What is read of a `rdtheory.theory.Schedule`."""

    @property
    def ticks(self) -> Sequence[ScheduleTickLike]: ...


class TraceLike(Protocol):
    """What is read of a `rdtheory.sampling.Trace`."""

    @property
    def prompt_lengths(self) -> Sequence[int]: ...

    @property
    def ticks(self) -> Sequence[TraceTickLike]: ...


R = TypeVar("R", bound=Positioned)


def _tick_shape(runs: Iterable[R], rows: int, row_of: Callable[[R], int]) -> tuple[list[int], list[int]]:
    widths, contexts = [0] * rows, [0] * rows
    for run in runs:
        row = row_of(run)
        widths[row] += 1
        contexts[row] = max(contexts[row], run.pos + 1)
    return widths, contexts


def passes_from_trace(trace: TraceLike, per_query_kv: bool = False) -> list[Pass]:
    """The passes a sampler run made, from its `Trace`: per tick, a row's width is its number of runs and its
    context one past its largest position; B is the batch size. Reads only `trace.prompt_lengths` and each tick's
    `passes`, `prefill` and `runs` (with `row` and `pos`). Prefill ticks read shared keys even under PerStep (all
    their positions sit at one recurrence step). Decodes that an exit rule makes to check convergence are not in
    a Trace and are not priced."""
    rows = len(trace.prompt_lengths)
    out: list[Pass] = []
    for tick in trace.ticks:
        widths, contexts = _tick_shape(tick.runs, rows, lambda run: run.row)
        out += passes_from_ticks([(tick.passes, widths, contexts)], per_query_kv and not tick.prefill)
    return out


def passes_from_schedule(schedule: ScheduleLike, batch: int = 1, per_query_kv: bool = False) -> list[Pass]:
    """The passes of a one-row schedule (`rdtheory.theory.Schedule`: ticks with `passes`, `prefill` and `runs`
    with `pos`), run for `batch` identical rows."""
    _check_positive(batch=batch)
    out: list[Pass] = []
    for tick in schedule.ticks:
        widths, contexts = _tick_shape(tick.runs, 1, lambda run: 0)
        out += passes_from_ticks([(tick.passes, widths * batch, contexts * batch)], per_query_kv and not tick.prefill)
    return out
