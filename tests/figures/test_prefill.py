"""rdtheory.figures.prefill: the attention masks, prefill costs and the lognormal tail against the theory."""

import math

import numpy as np
import pytest

from rdtheory.costs.hardware import load_hardware
from rdtheory.figures import prefill
from rdtheory.theory import Scaling, TimeModel, attention_pairs, lognormal_tail, width_per_time_ratio


@pytest.mark.parametrize("length,copies", [(1, 1), (3, 2), (4, 3)])
def test_masks_count_the_attention_pairs(length, copies):
    depth = prefill.mask_matrix(Scaling.DEPTH, length, copies)
    share = prefill.mask_matrix(Scaling.WIDTH_KV_SHARE, length, copies)
    no_share = prefill.mask_matrix(Scaling.WIDTH_NO_SHARE, length, copies)
    assert depth.sum() * copies == attention_pairs(Scaling.DEPTH, length, copies)
    assert share.sum() == attention_pairs(Scaling.WIDTH_KV_SHARE, length, copies)
    assert no_share.sum() == attention_pairs(Scaling.WIDTH_NO_SHARE, length, copies)
    assert not (share & ~no_share).any()  # KVShare attends to a subset of NoShare's keys
    assert not np.triu(no_share, 1).any() and np.diag(no_share).all()  # causal in the flattened order


def test_prefill_curves():
    c = prefill.prefill_curves(lengths=(1, 2, 16, 1024, 65536), copies=4, ratio_copies=(2, 4))
    d, kv, no = (np.array(c.costs[s]) for s in Scaling)
    assert (d <= kv).all() and (kv[1:] < no[1:]).all() and kv[0] == no[0]  # equal at L = 1
    assert 2 < no[-1] / d[-1] < 4  # attention dominates long prompts: NoShare tends to s times depth
    model = TimeModel(c.l_star)
    for s, values in c.ratios.items():
        assert values == tuple(float(width_per_time_ratio(n, s, model)) for n in c.lengths)
        assert values[0] == s * s and values[-1] == s
    with pytest.raises(ValueError, match=r"lengths=\(\) must hold at least one prompt length"):
        prefill.prefill_curves(lengths=())


def test_probability_curves():
    c = prefill.probability_curves(((256.0, 1.0), (1024.0, 0.5)))
    assert set(c.l_stars) == set(load_hardware())
    for (median, sigma), tail in c.tails.items():
        assert all(a >= b for a, b in zip(tail, tail[1:]))
        assert lognormal_tail(median, math.log(median), sigma) == pytest.approx(0.5)
        for name, p in c.at_l_star[(median, sigma)].items():
            assert p == lognormal_tail(c.l_stars[name], math.log(median), sigma)
    assert all(c.at_l_star[(1024.0, 0.5)][n] > c.at_l_star[(256.0, 1.0)][n] for n in c.l_stars)
    with pytest.raises(ValueError, match=r"median=0.0 must be > 0"):
        prefill.probability_curves(((0.0, 1.0),))


RENDERERS = {
    "masks": lambda: prefill.masks_figure(3, 2),
    "prefill": lambda: prefill.prefill_figure(prefill.prefill_curves(lengths=(1, 64, 4096))),
    "probability": lambda: prefill.probability_figure(prefill.probability_curves()),
}


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_figures_render(name, tmp_path, check_render):
    check_render(RENDERERS[name](), name, tmp_path)
