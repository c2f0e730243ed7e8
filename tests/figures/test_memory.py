"""rdtheory.figures.memory: KV-cache, state and weight memory equal the cost model's numbers."""

import numpy as np
import pytest

from rdtheory.config import HUGINN_0125
from rdtheory.costs.memory import kv_bytes_per_token, kv_cache_bytes, wavefront_state_bytes, weights_bytes
from rdtheory.figures import memory
from rdtheory.model.cache import PerStep, ShareLast


def test_memory_curves_equal_the_cost_model():
    c = memory.memory_curves(depth=32, batch=2, positions=(16, 1024), wavefronts=(8, 128))
    assert c.share_last == tuple(kv_cache_bytes(HUGINN_0125, ShareLast(), 2, n, 32, "bfloat16") for n in (16, 1024))
    assert c.per_step == tuple(kv_cache_bytes(HUGINN_0125, PerStep(), 2, n, 32, "bfloat16") for n in (16, 1024))
    assert c.states == {w: wavefront_state_bytes(HUGINN_0125, 2, w, "bfloat16", vectors=4) for w in (8, 128)}
    # the numbers themselves: 8 shared slots, 132 unshared at r = 32, 2h bf16 bytes each; 7.13 GB of weights
    assert kv_bytes_per_token(HUGINN_0125, ShareLast(), 32, "bfloat16") == 168_960
    assert c.share_last[1] == 2 * 1024 * 168_960 and c.per_step[1] == 2 * 1024 * 2_787_840
    assert c.states[128] == 4 * 2 * 128 * 5280 * 2 and c.weights == weights_bytes(HUGINN_0125, "bfloat16")
    assert c.weights == 7_129_953_600
    steps = np.diff(c.per_step_by_depth) / np.diff(c.depths)
    assert np.allclose(steps, steps[0])  # unshared memory grows linearly in r
    assert c.per_step_by_depth[0] == c.share_last[-1]  # at r = 1 sharing changes nothing
    with pytest.raises(ValueError, match=r"positions=\(\) must hold at least one"):
        memory.memory_curves(positions=())


RENDERERS = {
    "memory": lambda: memory.memory_figure(memory.memory_curves()),
}


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_figures_render(name, tmp_path, check_render):
    check_render(RENDERERS[name](), name, tmp_path)
