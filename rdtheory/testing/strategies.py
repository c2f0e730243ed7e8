"""Hypothesis strategies for recurrent-depth models, prompts and sampler knobs (valid by construction, small).

Use them from your own test suite to check your sampler or your looped model against ours:

    @given(model=depth_sensitive_models(), knobs=df_knobs(), data=st.data())
    def test_mine(model, knobs, data):
        prompts = data.draw(prompt_batches(model.config.vocab_size))
        mine = my_df_sampler(model, prompts, 5, **knobs.kwargs())
        ...

Models and prompts: `model_configs`, `depth_sensitive_models`, `contractive_models`, `prompts`, `prompt_batches`,
`kv_policies`. Knobs of the samplers: `exit_rules` (FixedDepth, LatentDiff, KLDiff, TokenStability),
`noise_schedules` (Constant, Dampened, Linear), `samplings` (token-sampling options) and `df_knobs` (every
keyword of `rdtheory.sampling.diffusion_forcing.generate_df` but stop tokens and max_ticks, drawn together).
Every strategy takes strategies (or nothing) as arguments and draws small objects, so examples run in
milliseconds on a CPU and shrink well.
"""

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import hypothesis.strategies as st
import torch

from rdtheory.config import ModelConfig
from rdtheory.model.cache import KVPolicy, PerStep, ShareLast
from rdtheory.model.recurrent import RecurrentDepthLM
from rdtheory.sampling.exits import ExitRule, FixedDepth, KLDiff, LatentDiff, TokenStability
from rdtheory.sampling.schedules import NO_NOISE, Constant, Dampened, Linear, NoiseSchedule
from rdtheory.sampling.tokens import Sampling
from rdtheory.testing.models import random_model

__all__ = [
    "DFKnobs", "contractive_models", "depth_sensitive_models", "df_knobs", "exit_rules", "kv_policies",
    "model_configs", "noise_schedules", "prompt_batches", "prompts", "samplings",
]


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
def prompt_batches(draw: st.DrawFn, vocab_size: int, max_batch: int = 3, max_size: int = 6,
                   min_distinct_lengths: int = 1) -> list[list[int]]:
    """1..max_batch prompts of 1..max_size tokens, with at least `min_distinct_lengths` different lengths
    (min_distinct_lengths=2: every batch has rows of different lengths, so their wavefronts are not aligned)."""
    if not 1 <= min_distinct_lengths <= min(max_batch, max_size):
        raise ValueError(f"min_distinct_lengths={min_distinct_lengths} must lie in [1, min(max_batch={max_batch}, "
                         f"max_size={max_size})]")
    if min_distinct_lengths == 1:
        return draw(st.lists(prompts(vocab_size, 1, max_size), min_size=1, max_size=max_batch))
    lengths = draw(st.lists(st.integers(1, max_size), min_size=min_distinct_lengths, max_size=min_distinct_lengths,
                            unique=True))
    lengths += draw(st.lists(st.integers(1, max_size), max_size=max_batch - min_distinct_lengths))
    return [draw(prompts(vocab_size, n, n)) for n in draw(st.permutations(lengths))]


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


# ------------------------------------------------------------------------------------------------ sampler knobs


@st.composite
def exit_rules(
    draw: st.DrawFn,
    *,
    kinds: Sequence[type[ExitRule]] = (FixedDepth, LatentDiff, KLDiff, TokenStability),
    rightmost: st.SearchStrategy[bool] = st.booleans(),
    depths: st.SearchStrategy[int] = st.integers(1, 6),
    latent_eps: st.SearchStrategy[float] = st.floats(0.3, 1.0),
    kl_eps: st.SearchStrategy[float] = st.floats(0.02, 0.5),
    stabilities: st.SearchStrategy[int] = st.integers(0, 2),
) -> ExitRule:
    """An exit rule of one of `kinds`, with the contiguous (Eq. 3) or the rightmost (Algorithm 2) commit.

    The default thresholds are loose enough that the rules fire before a small max_depth on
    `depth_sensitive_models()`, so that adaptive exits happen (tests should still count how often they do);
    pass `rightmost=st.just(False)` for the contiguous rule only."""
    kind = draw(st.sampled_from(list(kinds)))
    right = draw(rightmost)
    if kind is FixedDepth:
        return FixedDepth(draw(depths), right)
    if kind is LatentDiff:
        return LatentDiff(draw(latent_eps), right)
    if kind is KLDiff:
        return KLDiff(draw(kl_eps), right)
    if kind is TokenStability:
        return TokenStability(draw(stabilities), right)
    raise ValueError(f"kind={kind!r} is not one of FixedDepth, LatentDiff, KLDiff, TokenStability")


@st.composite
def noise_schedules(
    draw: st.DrawFn,
    *,
    kinds: Sequence[type[NoiseSchedule] | None] = (None, Constant, Dampened, Linear),
    beta0s: st.SearchStrategy[float] = st.sampled_from([0.1, 0.3, 0.5]),
    linear_depths: st.SearchStrategy[int] = st.integers(2, 12),
) -> NoiseSchedule:
    """A state-noise schedule: None stands for no noise (`NO_NOISE`), Constant(beta0), Dampened(beta0)
    (beta0 / (1 + n)) or Linear(beta0, depth) (zero from `depth` recurrences on)."""
    kind = draw(st.sampled_from(list(kinds)))
    if kind is None:
        return NO_NOISE
    if kind is Linear:
        return Linear(draw(beta0s), draw(linear_depths))
    return kind(draw(beta0s))


@st.composite
def samplings(
    draw: st.DrawFn,
    *,
    greedy: st.SearchStrategy[bool] = st.booleans(),
    temperatures: st.SearchStrategy[float] = st.sampled_from([0.7, 1.0, 1.5]),
    top_ks: st.SearchStrategy[int | None] = st.none() | st.integers(1, 8),
    top_ps: st.SearchStrategy[float | None] = st.none() | st.sampled_from([0.5, 0.9, 1.0]),
    min_ps: st.SearchStrategy[float | None] = st.none() | st.sampled_from([0.0, 0.05, 0.2]),
) -> Sampling:
    """Token-sampling options: greedy, or a temperature with any of the top_k, top_p and min_p filters."""
    if draw(greedy):
        return Sampling()
    return Sampling(draw(temperatures), draw(top_ks), draw(top_ps), draw(min_ps))


@dataclass(frozen=True)
class DFKnobs:
    """Keyword arguments of `generate_df` drawn together (all but stop_tokens, max_ticks, row_ids, graphs and
    workspace). `kwargs()` gives them as a dict."""

    inner: int
    depth: int
    exit: ExitRule
    max_wavefront: int
    headway: int
    ema: float
    noise: NoiseSchedule
    variance_preserving: bool
    init_scale: float
    continuous_compute: bool
    full_prefill: bool
    min_depth: int
    max_depth: int | None
    sampling: Sampling
    seed: int
    kv: KVPolicy
    hold_stale_drafts: bool = True

    def kwargs(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@st.composite
def df_knobs(
    draw: st.DrawFn,
    *,
    inners: st.SearchStrategy[int] = st.integers(1, 3),
    depths: st.SearchStrategy[int] = st.integers(1, 4),
    rules: st.SearchStrategy[ExitRule] | None = None,
    max_wavefronts: st.SearchStrategy[int] = st.integers(1, 6),
    headways: st.SearchStrategy[int] = st.integers(1, 3),
    emas: st.SearchStrategy[float] = st.sampled_from([0.0, 0.3, 0.6]),
    noises: st.SearchStrategy[NoiseSchedule] | None = None,
    variance_preservings: st.SearchStrategy[bool] = st.booleans(),
    init_scales: st.SearchStrategy[float] = st.sampled_from([0.0, 1.0]),
    continuous_computes: st.SearchStrategy[bool] = st.booleans(),
    full_prefills: st.SearchStrategy[bool] = st.booleans(),
    min_depths: st.SearchStrategy[int] = st.integers(1, 3),
    max_depths: st.SearchStrategy[int | None] = st.none() | st.integers(1, 9),
    sampling_options: st.SearchStrategy[Sampling] | None = None,
    seeds: st.SearchStrategy[int] = st.integers(0, 100),
    kvs: st.SearchStrategy[KVPolicy] | None = None,
    hold_stale_drafts_options: st.SearchStrategy[bool] = st.booleans(),
) -> DFKnobs:
    """Every knob of the diffusion-forcing sampler (paper Algorithms 1-2 and the reference code), small and valid:
    min_depth is clipped to max_depth (default 2 * depth). Defaults: `exit_rules()`, `noise_schedules()`,
    `samplings()`, `kv_policies()`."""
    depth = draw(depths)
    max_depth = draw(max_depths)
    min_depth = min(draw(min_depths), 2 * depth if max_depth is None else max_depth)
    return DFKnobs(
        inner=draw(inners), depth=depth, exit=draw(rules if rules is not None else exit_rules()),
        max_wavefront=draw(max_wavefronts), headway=draw(headways), ema=draw(emas),
        noise=draw(noises if noises is not None else noise_schedules()),
        variance_preserving=draw(variance_preservings), init_scale=draw(init_scales),
        continuous_compute=draw(continuous_computes), full_prefill=draw(full_prefills), min_depth=min_depth,
        max_depth=max_depth, sampling=draw(sampling_options if sampling_options is not None else samplings()),
        seed=draw(seeds),
        kv=draw(kvs if kvs is not None else kv_policies()), hold_stale_drafts=draw(hold_stale_drafts_options),
    )
