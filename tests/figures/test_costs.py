"""rdtheory.figures.costs: pass time against width on the calibration device, and the throughput grid."""

import math

import numpy as np
import pytest

from rdtheory.figures import costs, predictions


def test_pass_time_curve_on_the_calibration_device():
    c = costs.pass_time_curve()
    assert c.hardware == "H100 SXM" and len(c.measured_widths) >= 8
    model, roof = dict(zip(c.widths, c.calibrated_s)), dict(zip(c.widths, c.roofline_s))
    for w, t in zip(c.measured_widths, c.measured_s):
        assert roof[w] <= t if w in roof else True  # the datasheet roofline is a lower bound
        if w in model:
            assert abs(model[w] / t - 1) < 0.1, w
    assert 16 < c.l_star.measured < 1024 and c.l_star.calibrated < c.l_star.roofline
    off = costs.pass_time_curve(hardware="A100 40GB SXM")
    assert off.measured_widths == () and off.l_star.measured is None
    with pytest.raises(ValueError, match=r"context=0 must be >= 1"):
        costs.pass_time_curve(context=0)


def test_throughput_grid():
    g = costs.throughput_grid(caps=(1, 2, 4, 8, 16))
    assert g.inners == (1, 2, 4, 8, 16, 32)
    assert np.allclose(g.tokens_per_s[:, -1], g.ar.tokens_per_s)  # r' = r is AR
    for j, inner in enumerate(g.inners):
        full = [i for i, cap in enumerate(g.caps) if cap >= math.ceil(32 / inner)]
        if full:  # caps from K = ceil(r/r') on never fill: they price the same
            assert np.allclose(g.tokens_per_s[full, j], g.tokens_per_s[full[0], j])
        assert (np.diff(g.tokens_per_s[:, j]) >= -1e-9).all()  # a larger cap never slows the wave
    assert (g.low <= g.tokens_per_s).all() and (g.tokens_per_s <= g.high).all()
    # the calibration is of the compiled blocks: it prices their measured DF rate
    compiled_df = next(m for m in g.measured if m.kind == "compiled" and m.case == predictions.DF_CASE)
    assert abs(g.tokens_per_s[g.caps.index(8), g.inners.index(4)] / compiled_df.tokens_per_s - 1) < 0.1
    with pytest.raises(ValueError, match=r"caps=\(\) must hold at least one wavefront cap"):
        costs.throughput_grid(caps=())


RENDERERS = {
    "pass_time": lambda: costs.pass_time_figure([costs.pass_time_curve()]),
    "throughput": lambda: costs.throughput_figure(costs.throughput_grid(caps=(1, 8))),
}


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_figures_render(name, tmp_path, check_render):
    check_render(RENDERERS[name](), name, tmp_path)
