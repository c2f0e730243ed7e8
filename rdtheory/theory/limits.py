"""The autoregressive limits of diffusion forcing, with the settings they need.

The paper states two limits: "r' = r exactly recovers the original autoregressive sampler" (Sec. 3.3) and
"setting the wavefront to 1 token, we exactly recover the token-per-token adaptive compute sampler" (Sec. 3.5).
At the level of schedules they hold as follows (proved in proofs/ar_limits.py):

* Tick limit. With full prefill, headway 1 or cap 1, and every position run needing at most r' recurrences
  (min(d_p, max_depth) <= r' for all p; the fixed rule with r' >= r), DF equals `ar_schedule(depth=r')` tick for
  tick. Without full prefill the same holds when also cap >= P and the prompt positions need at most r',
  except that DF's first tick is not flagged as a prefill. Headway >= 2 with cap >= 2 breaks it (placeholders),
  already in `df_schedule`, where drafts are never held.
* Pass limit. With full prefill and cap 1, DF computes the same cells in the same global passes, and commits
  the same tokens at the same passes, as adaptive AR whose position p runs ceil(min(d_p, max_depth) / r')·r'
  recurrences (adaptive AR checking its exit every r' steps). Ticks differ: DF splits a token into
  ceil(·/r') ticks, all but the last standing waves.

These are statements about which cells run when. Equal outputs also need equal numerics: no noise (beta = 0),
no embedding EMA (eta = 0) and position-keyed initial states; see proofs/README.md.
"""

from rdtheory.paper import DF_DEFAULTS
from rdtheory.theory.grid import ceil_div
from rdtheory.theory.schedule import (
    ExitDepths,
    Schedule,
    ScheduleTick,
    adaptive_ar_schedule,
    ar_schedule,
    exit_depths_of,
)
from rdtheory.theory.wavefront import Wave


def _effective(wave: Wave, exit_depths: ExitDepths, max_depth: int | None) -> dict[int, int]:
    depths = exit_depths_of(exit_depths, wave.positions_run)
    return {p: d if max_depth is None else min(d, max_depth) for p, d in depths.items()}


def tick_limit(prompt_len: int, n_new: int, inner: int, exit_depths: ExitDepths,
               headway: int = DF_DEFAULTS.headway, cap: int = DF_DEFAULTS.max_wavefront,
               max_depth: int | None = None, full_prefill: bool = True,
               prefill_depth: int | None = None) -> Schedule | None:
    """The AR schedule that `df_schedule` with these arguments equals tick for tick, or None outside the tick
    limit. (The commit rule does not matter here: every position exits after one tick.)"""
    wave = Wave(prompt_len, n_new, inner, headway, cap, full_prefill)
    depths = _effective(wave, exit_depths, max_depth)
    if any(d > inner for d in depths.values()) or (headway > 1 and cap > 1):
        return None
    if full_prefill:
        if prefill_depth is None:
            prefill_depth = max_depth if max_depth is not None else exit_depths
        return ar_schedule(prompt_len, n_new, inner, prefill_depth) if isinstance(prefill_depth, int) else None
    if cap < prompt_len:
        return None
    ar = ar_schedule(prompt_len, n_new, inner)
    if not ar.ticks:
        return ar
    first = ar.ticks[0]
    return Schedule(prompt_len, (ScheduleTick(first.passes, first.runs, first.commits), *ar.ticks[1:]))


def pass_limit(prompt_len: int, n_new: int, inner: int, exit_depths: ExitDepths, cap: int = 1,
               max_depth: int | None = None, prefill_depth: int | None = None) -> Schedule | None:
    """The adaptive AR schedule that `df_schedule(..., cap=cap, full_prefill=True)` equals pass for pass
    (`same_passes`), or None unless cap == 1."""
    if cap != 1:
        return None
    wave = Wave(prompt_len, n_new, inner, cap=cap)
    depths = {p: ceil_div(d, inner) * inner for p, d in _effective(wave, exit_depths, max_depth).items()}
    if prefill_depth is None:
        prefill_depth = max_depth if max_depth is not None else exit_depths
    if not isinstance(prefill_depth, int):
        return None
    return adaptive_ar_schedule(prompt_len, n_new, lambda p: depths[p], prefill_depth)


def same_passes(a: Schedule, b: Schedule) -> bool:
    """Same prompt, same cells in every global pass, and the same tokens committed at the end of the same pass."""
    return a.prompt_len == b.prompt_len and a.by_pass() == b.by_pass() and _commit_passes(a) == _commit_passes(b)


def _commit_passes(schedule: Schedule) -> dict[int, int]:
    offsets = schedule.pass_offsets()
    return {c: offsets[i] + t.passes for i, t in enumerate(schedule.ticks) for c in t.commits}
