"""The converged limit at any shape and precision (the GPU tests run the same code at Huginn-0125's shape)."""

import pytest
import torch

from rdtheory.config import ModelConfig
from rdtheory.sampling.schedules import Linear
from rdtheory.testing.scale import contractive_model, converged_rows, low_precision_copy

SMALL = ModelConfig(vocab_size=48, n_embd=16, n_heads=2, n_layers_in_prelude=1, n_layers_in_recurrent_block=2,
                    n_layers_in_coda=1, intermediate_size=32, block_size=64, mean_recurrence=8,
                    mean_backprop_depth=2)
PROMPTS = [[3, 14, 15, 9], [26, 5], [35, 8, 9]]


@pytest.fixture(scope="module")
def contractive():
    return contractive_model(SMALL, seed=2, dtype=torch.float64)


def test_the_contractive_model_is_measured_below_its_bound(contractive):
    assert contractive.contraction < 0.8 and contractive.state_gain == 0.5
    with pytest.raises(ValueError, match=r"no state gain in \(0\.3,\) gives a contraction below 0\.001 "
                                         r"\(state_gain=0\.3: lam="):
        contractive_model(SMALL, seed=2, dtype=torch.float64, state_gains=(0.3,), max_contraction=1e-3)


@pytest.mark.parametrize("inner,cap,headway,noise", [(1, 8, 1, None), (2, 2, 2, Linear(0.2, 6)), (4, 1, 1, None)])
def test_rows_of_a_batch_commit_within_the_bound(contractive, inner, cap, headway, noise):
    knobs = dict(inner=inner, eps=1e-6, cap=cap, headway=headway, **({} if noise is None else {"noise": noise}))
    records = converged_rows(contractive.model, contractive.model, PROMPTS, **knobs)
    applicable = [r for r in records if r["applicable"]]
    assert len(applicable) >= 2, records
    assert all(r["floor"] == 0 and len(r["bounds"]) == len(r["errors"]) for r in applicable)
    assert sum(b is not None for r in applicable for b in r["bounds"]) >= 3
    assert all(0 < t <= 1 for r in applicable for t in r["tightness"])
    assert any(r["shallow_ar_differs"] for r in applicable), "depth never mattered: the check could not fail"


def test_a_lower_precision_run_is_held_to_the_widened_bound(contractive):
    low, reference = low_precision_copy(contractive.model, torch.float32)
    records = converged_rows(reference, low, PROMPTS, inner=2, eps=1e-4, cap=4)
    applicable = [r for r in records if r["applicable"]]
    assert applicable and all(r["floor"] > 0 for r in applicable)
    assert all(max(r["errors"]) > 1e-10 for r in applicable)  # float32 arithmetic really is less precise
    assert sum(b is not None for r in applicable for b in r["bounds"]) >= 3
