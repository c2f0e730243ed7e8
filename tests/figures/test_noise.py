"""rdtheory.figures.noise: the noise schedules' betas and variances, and the EMA's responses."""

import numpy as np
import pytest

from rdtheory.figures import noise


def test_noise_curves():
    c = noise.noise_curves(beta0=0.5, depth=32, inner=4, ticks=12)
    constant, dampened, linear = c.betas.values()
    assert set(constant) == {0.5} and dampened == tuple(0.5 / (1 + n) for n in c.counts)
    assert linear[0] == 0.5 and all(b == 0 for n, b in zip(c.counts, linear) if n >= 32)
    for name in c.betas:
        assert c.variances[(name, True)] == pytest.approx([1.0] * 12)  # variance preserving
    # plain mixing with constant beta: v -> beta / (2 - beta) sigma², 1/3 at beta = 1/2
    assert c.variances[(next(iter(c.betas)), False)][-1] == pytest.approx(1 / 3, rel=1e-6)
    with pytest.raises(ValueError, match=r"ticks=0 must be >= 1"):
        noise.noise_curves(ticks=0)


def test_ema_curves():
    c = noise.ema_curves(etas=(0.1, 0.5, 0.8), lags=30)
    for eta in (0.1, 0.5, 0.8):
        assert np.cumsum(c.impulse[eta]) == pytest.approx(c.step[eta])  # a step is the sum of impulses
        assert c.new_position[(eta, True)] == pytest.approx(c.step[eta])  # shrinkage: a start from e = 0
        assert c.new_position[(eta, False)] == pytest.approx([1.0] * 30)
    assert c.step[0.8][5] < c.step[0.1][5]
    with pytest.raises(ValueError, match=r"eta=1.0 must lie in \[0, 1\)"):
        noise.ema_curves(etas=(1.0,))


RENDERERS = {
    "noise": lambda: noise.noise_figure(noise.noise_curves()),
    "ema": lambda: noise.ema_figure(noise.ema_curves()),
}


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_figures_render(name, tmp_path, check_render):
    check_render(RENDERERS[name](), name, tmp_path)
