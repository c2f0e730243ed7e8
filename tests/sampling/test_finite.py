"""Non-finite latents or logits stop every sampler with an error naming the row, position and recurrence."""

import pytest
import torch

from rdtheory import TINY
from rdtheory.sampling.autoregressive import generate_adaptive, generate_ar
from rdtheory.sampling.diffusion_forcing import generate_df
from rdtheory.sampling.exits import FixedDepth, LatentDiff
from rdtheory.sampling.finite import LATENT, LOGITS, NonFiniteError, nonfinite_codes
from rdtheory.testing.models import random_model

PROMPTS = [[1, 2, 3], [9, 8, 7, 6]]
SAMPLERS = {
    "ar": lambda m, **kw: generate_ar(m, PROMPTS, 6, 4, stop_tokens=(), **kw),
    "adaptive": lambda m, **kw: generate_adaptive(m, PROMPTS, 6, LatentDiff(0.01), max_depth=5, stop_tokens=(), **kw),
    "df": lambda m, **kw: generate_df(m, PROMPTS, 6, inner=2, depth=4, exit=FixedDepth(4), stop_tokens=(), **kw),
    "df-latent": lambda m, **kw: generate_df(m, PROMPTS, 6, inner=2, depth=4, exit=LatentDiff(0.01), stop_tokens=(),
                                             **kw),
}


def test_codes_flag_latents_and_logits_separately():
    state = torch.zeros(2, 3, 4)
    logits = torch.zeros(2, 3, 5)
    state[0, 1, 2] = float("nan")
    logits[1, 2, 0] = float("inf")
    logits[0, 1, 4] = float("-inf")
    assert nonfinite_codes(state, logits).tolist() == [[0, LATENT | LOGITS, 0], [0, 0, LOGITS]]


@pytest.mark.parametrize("name", sorted(SAMPLERS))
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_non_finite_weight_stops_the_prefill(name, value):
    model = random_model(TINY, 3)
    with torch.no_grad():
        model.transformer.core_block[0].mlp.proj.weight[0, 0] = value
    prefill_depth = 5 if name == "adaptive" else 4
    with pytest.raises(NonFiniteError, match=rf"row 0 at position 2 after recurrence {prefill_depth};"):
        SAMPLERS[name](model)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_a_non_finite_state_after_the_prefill_names_where_it_appeared(name):
    # An untied model whose embedding of row 0's first generated token is NaN: the prefill is finite, and the step
    # that consumes that token (at position 3) is the first to meet a NaN.
    model = random_model(TINY.replace(tie_embeddings=False), 3)
    first = SAMPLERS[name](model).tokens[0][0]
    assert all(first not in p for p in PROMPTS)
    with torch.no_grad():
        model.transformer.wte.weight[first] = float("nan")
    depth = {"ar": 4, "adaptive": 5, "df": 2, "df-latent": 2}[name]  # AR: the token's depth; DF: one tick of r'=2
    with pytest.raises(NonFiniteError, match=rf"latent state and logits \(NaN or inf\) in row 0 at position 3 after "
                                             rf"recurrence {depth};"):
        SAMPLERS[name](model)


def test_without_prefill_the_first_tick_checks_the_prompt_positions():
    model = random_model(TINY, 3)
    with torch.no_grad():
        model.transformer.wte.weight[2] = float("nan")  # token 2 sits at position 1 of row 0; tied, so logits too
    with pytest.raises(NonFiniteError, match=r"in row 0 at position 0 after recurrence 2"):
        generate_df(model, PROMPTS, 4, inner=2, depth=4, exit=FixedDepth(4), full_prefill=False, stop_tokens=())
