"""rdtheory.figures.schedules: the grids of Figure 1 against the theory's schedules."""

import numpy as np
import pytest

from rdtheory.figures import schedules
from rdtheory.theory import ar_schedule, df_schedule


def test_ar_grid_fills_each_column_in_order():
    depth, prompt, n_new = 5, 3, 4
    grid = schedules.schedule_grid(ar_schedule(prompt, n_new, depth))
    assert grid.shape == (prompt + n_new - 1, depth) and not np.isnan(grid).any()
    assert (grid[:prompt] == np.arange(1, depth + 1)).all()  # the prompt: one prefill, all positions in parallel
    for p in range(prompt, grid.shape[0]):  # then one column at a time, bottom to top
        assert (grid[p] == grid[p - 1, -1] + np.arange(1, depth + 1)).all()
    ticks = schedules.schedule_grid(ar_schedule(prompt, n_new, depth), clock="tick")
    assert (ticks[:prompt] == 0).all() and (ticks[prompt:] == np.arange(1, n_new)[:, None]).all()


def test_df_grid_is_a_diagonal_wave_and_equals_ar_at_r_prime_r():
    depth, inner = 8, 2
    grid = schedules.schedule_grid(df_schedule(2, 6, inner, depth))
    new = grid[2:]
    assert (np.diff(new, axis=0) == inner).all()  # the next position runs r' passes behind, at every step
    assert np.nanmax(grid) < np.nanmax(schedules.schedule_grid(ar_schedule(2, 6, depth)))
    limit = schedules.schedule_grid(df_schedule(2, 6, depth, depth))
    assert np.array_equal(limit, schedules.schedule_grid(ar_schedule(2, 6, depth)))


def test_grid_matches_the_schedule_timeline():
    s = df_schedule(3, 7, 3, 7, headway=2, cap=3)
    grid = schedules.schedule_grid(s)
    assert np.count_nonzero(~np.isnan(grid)) == len(s.cells())
    assert all(grid[c.pos, c.step - 1] == g for c, (_, g) in s.timeline().items())


def test_paper_schedules_and_errors():
    named = schedules.paper_schedules(depth=4, inner=2, headway=2, cap=3, prompt_len=2, n_new=5)
    assert list(named.values()) == [ar_schedule(2, 5, 4), df_schedule(2, 5, 2, 4, 2, 3)]
    with pytest.raises(ValueError, match=r"clock='wall' must be one of"):
        schedules.schedule_grid(ar_schedule(1, 2, 2), clock="wall")
    with pytest.raises(ValueError, match=r"n_new=0 must be >= 1"):
        schedules.paper_schedules(n_new=0)
    with pytest.raises(ValueError, match=r"schedules=\{\} must name at least one"):
        schedules.schedules_figure({})


RENDERERS = {
    "schedule_diagram": lambda: schedules.schedule_diagram(depth=4, inner=2, n_new=4),
}


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_figures_render(name, tmp_path, check_render):
    check_render(RENDERERS[name](), name, tmp_path)
