"""rdtheory.figures.speedup: Remark 3.2's speedups, in exact arithmetic where the theory is exact."""

from fractions import Fraction

import pytest

from rdtheory.figures import speedup


def test_speedup_curves_reproduce_remark_3_2():
    c = speedup.speedup_curves()
    assert c.inners == (1, 2, 4, 8, 16, 32)
    assert [round(v, 3) for v in c.paper_flop_ratio] == [1.939, 1.455, 1.212, 1.091, 1.030, 1.0]
    assert [round(v, 2) for v in c.ideal] == [16.5, 11.0, 6.6, 3.67, 1.94, 1.0]
    assert c.flop_ratio == c.paper_flop_ratio  # r' divides r: the exact ratio is the paper's
    assert all(f <= i for f, i in zip(c.finite, c.ideal)) and c.calibrated[-1] == pytest.approx(1.0)
    assert all(cal <= roof * 1.0001 for cal, roof in zip(c.calibrated, c.roofline))
    table = {label.split(" (")[0]: ratio for label, inner, ratio in c.measured if inner == 4}
    assert [round(table[f"Table 1 {t}"], 2) for t in ("GSM8K", "MATH500", "HumanEval", "MBPP")] == [
        4.36, 4.73, 4.81, 4.59]  # the paper's "Relative diff to AR (r=32)" row
    h100 = [ratio for label, _, ratio in c.measured if label.startswith("H100")]
    assert len(h100) == 2 and all(3 < r < c.ideal[2] for r in h100)
    with pytest.raises(ValueError, match=r"inner=64 must be an int in \[1, r=32\]"):
        speedup.speedup_curves(inners=(64,))


def test_fractions_are_exact_where_the_theory_is():
    # Remark 3.2 at r = 32, r' = 4 in exact arithmetic, as the figures plot it (floats of Fractions)
    c = speedup.speedup_curves(inners=(4,))
    assert c.paper_flop_ratio[0] == float(Fraction(32 + 8, 33)) and c.ideal[0] == float(Fraction(33, 5))


RENDERERS = {
    "speedup": lambda: speedup.speedup_figure(speedup.speedup_curves()),
}


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_figures_render(name, tmp_path, check_render):
    check_render(RENDERERS[name](), name, tmp_path)
