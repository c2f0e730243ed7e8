"""rdtheory.figures.wavefront: the wave's history follows the schedule; standing waves and early commits."""

import numpy as np
import pytest

from rdtheory.figures import wavefront


@pytest.fixture(scope="module")
def runs():
    return wavefront.wave_runs(prompt_len=4, n_new=32, inner=4, depth=32, cap=8, seed=0)


def test_wave_history_follows_the_schedule(runs):
    for name, s in runs.schedules.items():
        h = wavefront.wave_history(s)
        assert max(h.widths) <= runs.cap, name
        assert h.committed[-1] == 32 - 1, name  # the prefill commits the first token
        assert all(w == runs.cap for w, st in zip(h.widths, h.standing) if st), name
        for before, after in zip(h.counts[:-1], h.counts[1:]):  # a position present in two ticks gains r'
            both = ~np.isnan(before) & ~np.isnan(after)
            assert (after[both] - before[both] == 4).all(), name


def test_standing_waves_and_early_commits(runs):
    fixed, contiguous, rightmost = runs.schedules.values()
    assert not any(wavefront.wave_history(fixed).standing)  # cap 8 = ceil(32/4): the fixed wave never stands
    assert sum(wavefront.wave_history(contiguous).standing) > 0  # a hard position holds the wave at its cap
    assert wavefront.early_commits(contiguous, runs.needed["adaptive, contiguous prefix (Eq. 3)"]) == 0
    assert wavefront.early_commits(rightmost, runs.needed["adaptive, rightmost (Algorithm 2)"]) > 0
    assert wavefront.early_commits(fixed, runs.needed["fixed rule, exit at r=32"]) == 0


def test_synthetic_exit_depths():
    a = wavefront.synthetic_exit_depths(5, 400, seed=1, typical=(2, 4), hard_share=0.25, hard=(10, 12))
    assert a == wavefront.synthetic_exit_depths(5, 400, seed=1, typical=(2, 4), hard_share=0.25, hard=(10, 12))
    assert sorted(a) == list(range(5, 405)) and set(a.values()) <= {2, 3, 4, 10, 11, 12}
    assert 0.15 < sum(v >= 10 for v in a.values()) / 400 < 0.35
    with pytest.raises(ValueError, match=r"hard_share=2 must lie in \[0, 1\]"):
        wavefront.synthetic_exit_depths(0, 3, hard_share=2)
    with pytest.raises(ValueError, match=r"count=-1 must be >= 0"):
        wavefront.synthetic_exit_depths(0, -1)
    with pytest.raises(ValueError, match=r"typical=\(5, 2\) must satisfy"):
        wavefront.synthetic_exit_depths(0, 3, typical=(5, 2))


RENDERERS = {
    "wavefront": lambda: wavefront.wavefront_figure(wavefront.wave_runs(n_new=8, depth=8, inner=2, cap=3)),
}


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_figures_render(name, tmp_path, check_render):
    check_render(RENDERERS[name](), name, tmp_path)
