"""Theorem 4.4 (depth versus width in decoding) as a predicate over concrete schedules and a time model, and the
closed forms of the fixed exit rule that make it quantitative.

Theorem 4.4, precise version. Let AR and DF be one-row schedules of the same prompt that start with the same
prefill tick, AR running one position per later tick, and let every DF pass after the prefill have width <= L*
(implied by cap <= L*). Under `TimeModel(L*)` with prelude and coda untimed (the default), for every budget
0 <= T < min(end_AR, end_DF):

  (a) d_DF(T) = d_AR(T), d counting serial core passes    (equal serial depth);
  (b) w_DF(T) >= w_AR(T)                                  (width, Definition B.1);
  (c) work_DF(T) >= work_AR(T), with strict inequality iff T >= the end of DF's first post-prefill pass of
      width >= 2                                          (strictly more hidden states at equal depth).

Clause (a) depends on what is timed and what is counted. Every tick also runs the prelude and the coda (Remark
3.2 counts them, `rdtheory.theory.overhead`), and DF runs ceil(D/r') ticks per token where AR runs one. If they
take time t_pc > 0 per tick, core-pass depth is not equal: at T = end of prefill + (D + 1) t0 with t_pc = t0, AR
has run D core passes and the fixed rule's DF fewer than D whenever r' < D (exactly r'(D + 1)/(r' + 1) when
r' + 1 divides D + 1), i.e. exactly where DF is wider. What stays equal then is the serial depth counted in passes
of any stage (every prelude, core pass and coda counts one), provided each takes as long as a core pass
(prelude_s = coda_s = pass_s): `theorem_4_4_stage_depth`, premises in `stage_depth_premises`. (b) and (c) are
claimed for the untimed clock only; on that clock with timed stages DF can be behind AR in hidden states
processed (tests/theory/test_decoding.py has a case).

For the fixed rule (exit depth r, D = min(r, max_depth), full prefill) such a pass of width >= 2 exists iff
cap >= 2, N >= 3 and (D > r' or (headway >= 2 and N >= 4)). The headway >= 2 part, like every statement here
with headway >= 2, describes `df_schedule`, in which a draft is never held: a position counts as converged by its
recurrence count alone (the reference implementation's behaviour). A sampler that holds a non-head position
whose input draft disagrees with the token committed to its left runs a data-dependent schedule that can differ
from it when headway >= 2. Where the paper's statement fails:

* r = 1, or more generally r' >= D with headway 1: DF equals AR at depth r' tick for tick, width is never
  greater (`rdtheory.theory.limits`).
* W > L*: a pass wider than L* is slower than t0, so once AR has completed as many passes as that pass's index,
  DF is at least one pass behind: d_DF(T) < d_AR(T).
* Prelude and coda timed: clause (a) for core passes fails whenever r' < D (above).
* The literal pointwise w_DF(T) > w_AR(T) fails for every pair: during the prefill both hold the same states,
  and right after it the DF wavefront is the single head position.

Also here: the fixed rule's entry and exit ticks in closed form and the token lead (DF never behind AR in
committed tokens at equal serial depth iff r' divides D). Knows nothing of latents or hardware.
"""

from collections.abc import Callable
from dataclasses import dataclass
from numbers import Real

from rdtheory.theory.checks import require_int
from rdtheory.theory.grid import ceil_div
from rdtheory.theory.schedule import Schedule
from rdtheory.theory.timing import Timed, TimeModel


@dataclass(frozen=True)
class DecodingComparison:
    """DF against AR at every budget where either changes, below the earlier end: (df, ar) pairs per budget."""

    budgets: tuple[Real, ...]
    depth: tuple[tuple[int, int], ...]
    width: tuple[tuple[int, int], ...]
    work: tuple[tuple[int, int], ...]
    tokens: tuple[tuple[int, int], ...]
    stage_depth: tuple[tuple[int, int], ...]

    @property
    def equal_depth(self) -> bool:
        """Clause (a): equal serial depth in core passes at every budget."""
        return all(df == ar for df, ar in self.depth)

    @property
    def equal_stage_depth(self) -> bool:
        """Equal serial depth in passes of any stage (prelude, core pass, coda) at every budget."""
        return all(df == ar for df, ar in self.stage_depth)

    @property
    def width_at_least(self) -> bool:
        return all(df >= ar for df, ar in self.width)

    @property
    def width_strictly_greater(self) -> bool:
        """The paper's literal w_DF(T) > w_AR(T) at every budget."""
        return all(df > ar for df, ar in self.width)

    @property
    def work_at_least(self) -> bool:
        return all(df >= ar for df, ar in self.work)

    @property
    def work_strict_from(self) -> Real | None:
        """The first budget at which DF has processed strictly more hidden states than AR."""
        return next((t for t, (df, ar) in zip(self.budgets, self.work) if df > ar), None)


def compare_decoding(df: Schedule, ar: Schedule, model: TimeModel) -> DecodingComparison:
    return _compare(Timed(df, model), Timed(ar, model))


def _compare(a: Timed, b: Timed) -> DecodingComparison:
    horizon = min(a.end, b.end)
    budgets = tuple(sorted(t for t in {0, *a.stage_ends, *b.stage_ends} if t < horizon))

    def pairs(f: Callable[[Real], int], g: Callable[[Real], int]) -> tuple[tuple[int, int], ...]:
        return tuple((f(t), g(t)) for t in budgets)

    return DecodingComparison(budgets, pairs(a.depth, b.depth), pairs(a.width, b.width),
                              pairs(a.work, b.work), pairs(a.tokens, b.tokens), pairs(a.stage_depth, b.stage_depth))


def decode_widths(schedule: Schedule) -> tuple[int, ...]:
    """Width of every pass after the prefill tick."""
    skip = schedule.ticks[0].passes if schedule.ticks and schedule.ticks[0].prefill else 0
    return tuple(len(cells) for cells in schedule.by_pass()[skip:])


def first_parallel_pass_end(df: Schedule, model: TimeModel) -> Real | None:
    """When DF's first post-prefill pass of width >= 2 ends (None if there is none)."""
    return _first_parallel(Timed(df, model))


def _first_parallel(timed: Timed) -> Real | None:
    widths = decode_widths(timed.schedule)
    skip = timed.schedule.n_passes - len(widths)
    return next((timed.ends[skip + g] for g, w in enumerate(widths) if w >= 2), None)


def decoding_premises(df: Schedule, ar: Schedule, model: TimeModel) -> list[str]:
    """Why the precise Theorem 4.4 does not apply to (df, ar, model); empty when it does."""
    found = _schedule_premises(df, ar, model)
    if model.stages_timed:
        found.append(f"the time model times the prelude or coda (prelude_s={model.prelude_s}, "
                     f"coda_s={model.coda_s}): core-pass depth is equal only with them untimed")
    return found


def stage_depth_premises(df: Schedule, ar: Schedule, model: TimeModel) -> list[str]:
    """Why equal depth in passes of any stage (`theorem_4_4_stage_depth`) is not guaranteed; empty when it is:
    the premises of Theorem 4.4 on the schedules, and every prelude and coda as long as a core pass."""
    found = _schedule_premises(df, ar, model)
    if not model.prelude_s == model.coda_s == model.pass_s:
        found.append(f"prelude_s={model.prelude_s} and coda_s={model.coda_s} must both equal "
                     f"pass_s={model.pass_s}")
    return found


def _schedule_premises(df: Schedule, ar: Schedule, model: TimeModel) -> list[str]:
    found = []
    if df.prompt_len != ar.prompt_len:
        found.append(f"prompt lengths differ: {df.prompt_len} != {ar.prompt_len}")
    if not (df.ticks and ar.ticks and df.ticks[0].prefill and df.ticks[0] == ar.ticks[0]):
        found.append("the schedules do not start with the same prefill tick")
    if any(len(t.runs) != 1 for t in ar.ticks[1:]):
        found.append("AR runs more than one position in a decode tick")
    if max(decode_widths(df), default=0) > model.l_star:
        found.append(f"a DF decode pass is wider than l_star={model.l_star}")
    return found


def theorem_4_4(df: Schedule, ar: Schedule, model: TimeModel) -> bool:
    """Conclusions (a) (core-pass depth), (b), (c) of the precise Theorem 4.4 for these schedules (see the module
    docstring); guaranteed when `decoding_premises` is empty (prelude and coda untimed)."""
    a, b = Timed(df, model), Timed(ar, model)
    c, first = _compare(a, b), _first_parallel(a)
    expected = first if first is not None and first < min(a.end, b.end) else None
    return c.equal_depth and c.width_at_least and c.work_at_least and c.work_strict_from == expected


def theorem_4_4_stage_depth(df: Schedule, ar: Schedule, model: TimeModel) -> bool:
    """Clause (a) read as serial depth in passes of any stage: at every budget below the earlier end, DF and AR
    have completed as many preludes, core passes and codas in all. Guaranteed when `stage_depth_premises` is
    empty (each stage pass then takes pass_s in both after the common prefill)."""
    return compare_decoding(df, ar, model).equal_stage_depth


def fixed_rule_has_parallel_pass(n_new: int, inner: int, depth: int, headway: int, cap: int) -> bool:
    """Whether the fixed rule with effective exit depth `depth` (= min(r, max_depth)), full prefill, ever runs
    two positions in one pass: cap >= 2, N >= 3 and (depth > inner or (headway >= 2 and N >= 4)). This is about
    `df_schedule`, where drafts are never held (the reference's behaviour); with headway >= 2 a sampler that holds
    a non-head position whose input draft disagrees with the token committed to its left runs a data-dependent
    schedule this does not describe."""
    return cap >= 2 and n_new >= 3 and (depth > inner or (headway >= 2 and n_new >= 4))


def wavefront_bound(inner: int, max_depth: int, headway: int, cap: int) -> int:
    """The widest a DF pass after a full prefill can be when every position has converged by max_depth
    recurrences (drafts never held): min(cap, headway · ceil(max_depth / r')). A position stays at most
    ceil(max_depth / r') ticks and at most `headway` enter per tick. This, not r, is what Remark 4.5's W is: its
    "r ≈ 100, so W <= L*" holds only through the cap (128 by default) or this product."""
    k = ceil_div(require_int("max_depth", max_depth, 1), require_int("inner", inner, 1))
    return min(require_int("cap", cap, 1), require_int("headway", headway, 1) * k)


def fixed_rule_entry_tick(i: int, ticks_per_token: int, cap: int) -> int:
    """The DF tick (1-based, after the prefill) in which position P + i first runs, for the fixed rule, full
    prefill and headway 1: 1 + floor(i / c)·K + (i mod c), with K = ceil(D / r') and c = min(cap, K)."""
    require_int("i", i, 0)
    k, c = require_int("ticks_per_token", ticks_per_token, 1), min(require_int("cap", cap, 1), ticks_per_token)
    return 1 + (i // c) * k + i % c


def fixed_rule_exit_tick(i: int, ticks_per_token: int, cap: int) -> int:
    """The DF tick in which position P + i exits and commits token P + i + 1: its entry tick + K - 1."""
    return fixed_rule_entry_tick(i, ticks_per_token, cap) + ticks_per_token - 1


def ticks_per_token(depth: int, inner: int) -> int:
    """K = ceil(D / r'): the ticks a position spends in the wavefront under the fixed rule."""
    return ceil_div(require_int("depth", depth, 1), require_int("inner", inner, 1))


def tokens_never_behind(df: Schedule, ar: Schedule, model: TimeModel) -> bool:
    """At every budget, DF has committed at least as many tokens as AR (the token lead). For the fixed rule with
    headway 1, full prefill and DF widths <= L*, this holds iff r' divides D = min(r, max_depth) (or N <= 1)."""
    a, b = Timed(df, model), Timed(ar, model)
    return all(a.tokens(t) >= b.tokens(t) for t in sorted({0, *a.ends, *b.ends}))
