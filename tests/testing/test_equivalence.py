"""The public equivalence checks: what their mismatch messages tell a user whose sampler disagrees."""

import inspect
from functools import partial
from types import SimpleNamespace

import pytest

from rdtheory import TINY, PerStep, ShareLast
from rdtheory.sampling.autoregressive import generate_ar
from rdtheory.sampling.diffusion_forcing import generate_df
from rdtheory.sampling.exits import FixedDepth
from rdtheory.sampling.schedules import Dampened
from rdtheory.testing.equivalence import SAMPLER_DEFAULTS, check_against_df_reference, check_against_oracle
from rdtheory.testing.models import random_model

MODEL = random_model(TINY, 2)
PROMPTS = [[3, 1, 4], [1, 5]]


def test_the_defaults_named_are_those_of_both_samplers():
    for sampler in (generate_ar, generate_df):
        params = inspect.signature(sampler).parameters
        assert {k: params[k].default for k in SAMPLER_DEFAULTS} == SAMPLER_DEFAULTS


def test_a_sampler_left_at_its_default_init_scale_is_told_why_it_disagrees():
    sampler = partial(generate_ar, depth=4, stop_tokens=())  # init_scale=1.0: random initial states
    with pytest.raises(AssertionError, match=r"the oracle ran greedy, depth=4, kv=ShareLast\(\), init_scale=0\.0, "
                                             r"seed=0, no stop tokens; it differs from the defaults of generate_ar "
                                             r"and generate_df in init_scale=0\.0 \(the samplers' default is 1\.0"):
        check_against_oracle(lambda m, p, n: sampler(m, p, n), MODEL, PROMPTS, 5, kv=ShareLast(), depth=4)


def test_a_kv_policy_other_than_the_samplers_default_is_named():
    sampler = partial(generate_ar, depth=4, stop_tokens=(), init_scale=0.0)  # ShareLast keys against PerStep
    with pytest.raises(AssertionError, match=r"kv=PerStep\(\) \(the samplers' default is ShareLast\(\); pass "
                                             r"kv=PerStep\(\)\)"):
        check_against_oracle(lambda m, p, n: sampler(m, p, n), MODEL, PROMPTS, 5, kv=PerStep(), depth=4)


def test_a_configured_sampler_passes_and_the_message_lists_only_the_settings():
    good = partial(generate_ar, depth=4, stop_tokens=(), init_scale=0.0)
    check_against_oracle(lambda m, p, n: good(m, p, n), MODEL, PROMPTS, 5, kv=ShareLast(), depth=4)
    wrong_depth = partial(generate_ar, depth=3, stop_tokens=(), init_scale=1.0)
    with pytest.raises(AssertionError) as info:
        check_against_oracle(lambda m, p, n: wrong_depth(m, p, n), MODEL, PROMPTS, 5, kv=ShareLast(), depth=4,
                             init_scale=1.0)
    assert str(info.value).endswith("the oracle ran greedy, depth=4, kv=ShareLast(), init_scale=1.0, seed=0, no stop "
                                    "tokens")


def test_the_df_reference_check_passes_the_sampler_and_names_what_a_wrong_one_got_wrong():
    knobs = dict(inner=1, depth=6, exit=FixedDepth(6), max_wavefront=6, ema=0.3, noise=Dampened(0.4),
                 stop_tokens=())
    check_against_df_reference(generate_df, MODEL, PROMPTS, 5, **knobs)

    def swapped_ema(model, prompts, n, **kw):  # the EMA weighting the old embedding by 1 - eta instead of eta
        return generate_df(model, prompts, n, **(kw | dict(ema=1 - kw["ema"])))

    with pytest.raises(AssertionError, match=r"DF reference row 0: (tokens diverge|latents differ)"):
        check_against_df_reference(swapped_ema, MODEL, PROMPTS, 5, **knobs)

    def no_trace(model, prompts, n, **kw):  # another engine's output: tokens and latents only
        run = generate_df(model, prompts, n, **kw)
        return SimpleNamespace(tokens=run.tokens, latents=run.latents)

    check_against_df_reference(no_trace, MODEL, PROMPTS, 5, **knobs)
