"""rdtheory.figures.counters: the counter comparison and the claims grid against the theory."""

import numpy as np
import pytest

from rdtheory.figures import counters
from rdtheory.theory import ar_schedule, df_schedule, pass_counters


def test_counter_comparison_matches_the_theory():
    c = counters.counter_comparison(depth=8, inner=2, n_new=8, prompt_len=4, cap=128, l_star=64)
    assert c.ar_counters == pass_counters(ar_schedule(4, 8, 8))
    assert c.df_counters == pass_counters(df_schedule(4, 8, 2, 8))
    assert c.ar_counters.updates_hold() and c.df_counters.updates_hold()
    assert c.df_counters.steps < c.ar_counters.steps and c.df_counters.work >= c.ar_counters.work
    assert c.theorem_holds and not c.premises
    assert c.decoding.equal_depth and c.decoding.work_at_least and not c.decoding.width_strictly_greater
    narrow = counters.counter_comparison(depth=8, inner=2, l_star=1)
    assert any("wider than l_star=1" in p for p in narrow.premises)


def test_claims_grid():
    g = counters.claims_grid(depths=(1, 2, 3, 4, 6), inners=(1, 2, 3, 4, 5))
    assert g.theorem.all() and not g.literal_strict_width.any()
    expected = np.array([[d % i == 0 for i in g.inners] for d in g.depths])
    assert np.array_equal(g.tokens_never_behind, expected)  # the token lead holds iff r' divides r
    with pytest.raises(ValueError, match=r"depths=\(\) must hold at least one r"):
        counters.claims_grid(depths=())


RENDERERS = {
    "counters": lambda: counters.counters_figure(counters.counter_comparison()),
    "claims": lambda: counters.claims_figure(counters.claims_grid(depths=(1, 2, 4), inners=(1, 2))),
}


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_figures_render(name, tmp_path, check_render):
    check_render(RENDERERS[name](), name, tmp_path)
