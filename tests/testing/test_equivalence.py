"""The public equivalence checks: what their mismatch messages tell a user whose sampler disagrees."""

import inspect
from functools import partial

import pytest

from rdtheory import TINY, PerStep, ShareLast
from rdtheory.sampling.autoregressive import generate_ar
from rdtheory.sampling.diffusion_forcing import generate_df
from rdtheory.testing.equivalence import SAMPLER_DEFAULTS, check_against_oracle
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
