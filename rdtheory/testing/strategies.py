"""Hypothesis strategies for recurrent-depth models, prompts and sampler settings (valid by construction, small).

Use them from your own test suite to check your sampler or your looped model against ours:

    @given(model=depth_sensitive_models(), prompt=st.data())
    def test_mine(model, data): ...

Every strategy takes strategies (or nothing) as arguments and draws small objects, so examples run in
milliseconds on a CPU and shrink well.
"""

import hypothesis.strategies as st
import torch

from rdtheory.config import ModelConfig
from rdtheory.model.cache import KVPolicy, PerStep, ShareLast
from rdtheory.model.recurrent import RecurrentDepthLM
from rdtheory.testing.models import random_model


@st.composite
def model_configs(draw: st.DrawFn, max_vocab: int = 48) -> ModelConfig:
    """Tiny Huginn-shaped configs: 1-2 heads of dim 4 or 8, 1-2 layers per stage, vocab 16..max_vocab."""
    n_heads = draw(st.integers(1, 2))
    head_dim = draw(st.sampled_from([4, 8]))
    return ModelConfig(
        vocab_size=draw(st.integers(16, max_vocab)),
        n_embd=n_heads * head_dim,
        n_heads=n_heads,
        n_layers_in_prelude=draw(st.integers(1, 2)),
        n_layers_in_recurrent_block=draw(st.integers(1, 2)),
        n_layers_in_coda=draw(st.integers(1, 2)),
        intermediate_size=draw(st.sampled_from([16, 32])),
        block_size=64,
        mean_recurrence=draw(st.integers(2, 6)),
        mean_backprop_depth=1,
        qk_bias=draw(st.booleans()),
        tie_embeddings=draw(st.booleans()),
    )


@st.composite
def depth_sensitive_models(
    draw: st.DrawFn, configs: st.SearchStrategy[ModelConfig] | None = None, dtype: torch.dtype = torch.float64
) -> RecurrentDepthLM:
    """Random tiny models whose tokens depend on the recurrence depth, without chaotic amplification of rounding
    (see `rdtheory.testing.models`). Tests should still measure and assert how often depth mattered."""
    config = draw(configs if configs is not None else model_configs())
    seed = draw(st.integers(0, 2**31 - 1))
    gain = draw(st.floats(2.0, 3.0))
    state_gain = draw(st.floats(1.0, 2.0))
    return random_model(config, seed, gain, state_gain, dtype)


def kv_policies() -> st.SearchStrategy[KVPolicy]:
    return st.sampled_from([ShareLast(), PerStep()])


@st.composite
def prompts(draw: st.DrawFn, vocab_size: int, min_size: int = 1, max_size: int = 6) -> list[int]:
    return draw(st.lists(st.integers(0, vocab_size - 1), min_size=min_size, max_size=max_size))


@st.composite
def prompt_batches(draw: st.DrawFn, vocab_size: int, max_batch: int = 3, max_size: int = 6) -> list[list[int]]:
    """1..max_batch prompts of different lengths."""
    return draw(st.lists(prompts(vocab_size, 1, max_size), min_size=1, max_size=max_batch))


@st.composite
def contractive_models(draw: st.DrawFn, dtype: torch.dtype = torch.float64) -> RecurrentDepthLM:
    """Tiny models whose core step contracts the state (the adapter's state half has spectral norm 0.5-0.8), so
    that the recurrence converges to a fixed point, slowly enough that depth changes the tokens in many cases.
    The contraction constant is not guaranteed: tests measure it (`rdtheory.testing.contraction`)."""
    n_heads = draw(st.integers(1, 2))
    config = ModelConfig(
        vocab_size=draw(st.integers(16, 32)), n_embd=8 * n_heads, n_heads=n_heads, n_layers_in_prelude=1,
        n_layers_in_recurrent_block=draw(st.integers(1, 2)), n_layers_in_coda=1, intermediate_size=16,
        block_size=64, mean_recurrence=4, mean_backprop_depth=1,
    )
    seed = draw(st.integers(0, 2**31 - 1))
    return random_model(config, seed, gain=2.0, state_gain=draw(st.floats(0.5, 0.8)), dtype=dtype)
