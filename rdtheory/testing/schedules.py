"""Hypothesis strategies for sampler knobs, exit profiles, schedules and time models (valid by construction,
small, torch-free).

Use them to check your own sampler's control flow against ours, e.g.

    @given(settings=df_settings())
    def test_my_sampler_runs_the_schedule(settings):
        assert my_trace_to_schedule(run_mine(**settings.kwargs())) == settings.build()

Every strategy takes strategies for its knobs and draws small values, so examples build in microseconds.
"""

from dataclasses import asdict, dataclass
from typing import Any

import hypothesis.strategies as st

from rdtheory.theory.schedule import Schedule, ar_schedule, df_schedule
from rdtheory.theory.timing import TimeModel

__all__ = ["DFSettings", "df_settings", "exit_profiles", "schedules", "time_models"]


@dataclass(frozen=True)
class DFSettings:
    """The arguments of `rdtheory.theory.df_schedule`, drawn together."""

    prompt_len: int
    n_new: int
    inner: int
    exit_depths: int | tuple[int, ...]
    headway: int
    cap: int
    max_depth: int | None
    full_prefill: bool
    prefill_depth: int | None
    rightmost: bool

    def kwargs(self) -> dict[str, Any]:
        return asdict(self)

    def build(self) -> Schedule:
        return df_schedule(**self.kwargs())

    @property
    def fixed_rule(self) -> bool:
        return isinstance(self.exit_depths, int)

    def ar(self, depth: int) -> Schedule:
        """Static AR at `depth` with the same prompt and prefill (full prefill only)."""
        if not self.full_prefill or self.prefill_depth is None:
            raise ValueError(f"full_prefill={self.full_prefill}: an AR counterpart needs a full prefill")
        return ar_schedule(self.prompt_len, self.n_new, depth, self.prefill_depth)


def exit_profiles(n_positions: int, depths: st.SearchStrategy[int] = st.integers(1, 8)
                  ) -> st.SearchStrategy[tuple[int, ...]]:
    """Exit depths for absolute positions 0..n_positions-1."""
    return st.lists(depths, min_size=n_positions, max_size=n_positions).map(tuple)


@st.composite
def df_settings(
    draw: st.DrawFn,
    *,
    prompt_lens: st.SearchStrategy[int] = st.integers(1, 4),
    n_news: st.SearchStrategy[int] = st.integers(0, 8),
    inners: st.SearchStrategy[int] = st.integers(1, 4),
    depths: st.SearchStrategy[int] = st.integers(1, 8),
    headways: st.SearchStrategy[int] = st.integers(1, 3),
    caps: st.SearchStrategy[int] = st.integers(1, 6),
    profiles: st.SearchStrategy[bool] = st.booleans(),
    max_depths: st.SearchStrategy[int | None] = st.none() | st.integers(1, 8),
    full_prefills: st.SearchStrategy[bool] = st.booleans(),
    rightmosts: st.SearchStrategy[bool] = st.booleans(),
) -> DFSettings:
    """DF knobs: a fixed rule (one exit depth) or a per-position profile, with or without full prefill."""
    prompt_len, n_new = draw(prompt_lens), draw(n_news)
    exit_depths = draw(exit_profiles(prompt_len + n_new, depths)) if draw(profiles) else draw(depths)
    full_prefill = draw(full_prefills)
    return DFSettings(
        prompt_len=prompt_len, n_new=n_new, inner=draw(inners), exit_depths=exit_depths, headway=draw(headways),
        cap=draw(caps), max_depth=draw(max_depths), full_prefill=full_prefill,
        prefill_depth=draw(depths) if full_prefill else None, rightmost=draw(rightmosts),
    )


def time_models(l_stars: st.SearchStrategy[int] = st.integers(1, 8),
                pass_s: st.SearchStrategy[int] = st.integers(1, 3)) -> st.SearchStrategy[TimeModel]:
    return st.builds(TimeModel, l_stars, pass_s)


def schedules(settings: st.SearchStrategy[DFSettings] | None = None) -> st.SearchStrategy[Schedule]:
    """Valid one-row schedules: DF schedules from `settings` (default `df_settings()`), and AR schedules."""
    ar = st.builds(ar_schedule, st.integers(1, 4), st.integers(0, 6), st.integers(1, 6), st.integers(1, 6))
    return st.one_of((settings if settings is not None else df_settings()).map(DFSettings.build), ar)
