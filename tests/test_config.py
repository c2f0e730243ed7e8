import math
import warnings

import pytest
import torch
from hypothesis import given

from rdtheory import HUGINN_0125, TINY, ModelConfig, RecurrentDepthLM
from rdtheory.testing.strategies import model_configs

# Huginn-0125's config.json fields as released (reference.md §1.1), including keys that carry no architecture.
HUGINN_JSON = {
    "name": "nebel-raven-3.5b", "model_type": "huginn_raven", "architectures": ["RavenForCausalLM"],
    "n_embd": 5280, "n_heads": 55, "num_key_value_heads": 55, "head_dim": 96, "n_layers": 8,
    "n_layers_in_prelude": 2, "n_layers_in_recurrent_block": 4, "n_layers_in_coda": 2,
    "mean_recurrence": 32, "mean_backprop_depth": 8, "sampling_scheme": "poisson-lognormal-filling",
    "vocab_size": 65536, "padded_vocab_size": 65536, "padding_multiple": 4096, "block_size": 4096,
    "intermediate_size": 17920, "bias": False, "qk_bias": True, "norm_class_name": "RMSNorm_llama",
    "norm_eps": 1e-6, "nonlin_name": "SiLU", "tie_embeddings": True, "injection_type": "linear",
    "state_init": "like-init", "init_strategy": "takase", "torch_dtype": "bfloat16", "test_time_noise": 0,
    "architecture_class_name": "RecurrentGPT", "block_class_name": "SandwichBlock", "mlp_class_name": "GatedMLP",
    "bos_token_id": 65504, "pad_token_id": 65509, "eos_token_id": [65505, 65508],
}


def test_huginn_json_reads_as_the_preset():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ModelConfig.from_huggingface(HUGINN_JSON) == HUGINN_0125


def test_huginn_constants():
    c = HUGINN_0125
    assert c.head_dim == 96 and c.n_layers == 8
    assert math.isclose(c.embed_scale, 72.6636, rel_tol=1e-6)
    assert math.isclose(c.init_std, 0.00870388, rel_tol=1e-6)
    assert c.effective_expected_depth == 132


def test_huginn_parameter_count_on_meta():
    with torch.device("meta"):
        model = RecurrentDepthLM(HUGINN_0125)
    assert model.num_parameters() == 3_564_976_800
    per_block = sum(p.numel() for p in model.transformer.core_block[0].parameters())
    assert per_block == 395_398_080
    assert model.transformer.adapter.weight.numel() == 55_756_800


@given(model_configs())
def test_huggingface_round_trip(config):
    assert ModelConfig.from_huggingface(config.to_huggingface()) == config


@pytest.mark.parametrize("key,value", [
    ("norm_class_name", "LayerNorm"), ("injection_type", "add"), ("block_class_name", "TransformerPreNormBlock"),
    ("bias", True), ("test_time_noise", 1), ("num_key_value_heads", 5), ("n_layers", 9), ("head_dim", 64),
])
def test_unsupported_architecture_is_an_error(key, value):
    with pytest.raises(ValueError, match=key):
        ModelConfig.from_huggingface(HUGINN_JSON | {key: value})


def test_unknown_keys_warn():
    with pytest.warns(UserWarning, match="frobnicate"):
        ModelConfig.from_huggingface(HUGINN_JSON | {"frobnicate": 3})


@pytest.mark.parametrize("change,match", [
    ({"n_embd": 30}, "n_embd=30 must be divisible by n_heads=4"),
    ({"n_embd": 12, "n_heads": 4}, "even head_dim"),
    ({"vocab_size": 0}, "vocab_size=0 must be >= 1"),
    ({"n_layers_in_recurrent_block": 0}, "n_layers_in_recurrent_block=0 must be >= 1"),
    ({"n_layers_in_coda": -1}, "n_layers_in_coda=-1 must be >= 0"),
    ({"rope_base": 1.0}, "rope_base=1.0 must be > 1"),
    ({"norm_eps": 0.0}, "norm_eps=0.0 must be > 0"),
    ({"bos_token_id": 64}, r"bos_token_id=64 must lie in \[0, vocab_size=64\)"),
    ({"eos_token_ids": (3, 99)}, "eos_token_ids"),
])
def test_invalid_config_names_field_value_and_rule(change, match):
    with pytest.raises(ValueError, match=match):
        TINY.replace(**change)


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        TINY.n_embd = 8  # type: ignore[misc]  # the point of the test


@pytest.mark.parametrize("change,match", [
    ({"n_embd": "32"}, "n_embd='32' must be an int, not str"),
    ({"block_size": 3.5}, "block_size=3.5 must be an int, not float"),
    ({"mean_recurrence": True}, "mean_recurrence=True must be an int, not bool"),
    ({"rope_base": "10000"}, "rope_base='10000' must be a real number"),
    ({"norm_eps": None}, "norm_eps=None must be a real number"),
    ({"qk_bias": 1}, "qk_bias=1 must be a bool"),
    ({"tie_embeddings": "false"}, "tie_embeddings='false' must be a bool"),
    ({"bos_token_id": 1.0}, "bos_token_id=1.0 must be an int or None"),
    ({"eos_token_ids": ("2",)}, "eos_token_ids=.*must be a tuple of ints"),
    ({"eos_token_ids": [2]}, "eos_token_ids=.*must be a tuple of ints"),
])
def test_field_of_the_wrong_type_is_a_type_error_naming_it(change, match):
    with pytest.raises(TypeError, match=match):
        TINY.replace(**change)


def test_non_finite_reals_are_refused():
    for name in ("rope_base", "norm_eps"):
        with pytest.raises(ValueError, match=f"{name}=inf must be finite"):
            TINY.replace(**{name: math.inf})


TINY_JSON = TINY.to_huggingface()


@pytest.mark.parametrize("raw,error,match", [
    ({}, ValueError, "lacks the required field 'n_heads' or 'num_attention_heads'"),
    ([], TypeError, "must hold a JSON object of fields, not list"),
    ("config", TypeError, "must hold a JSON object of fields, not str"),
    ({k: v for k, v in TINY_JSON.items() if k != "block_size"}, ValueError, "lacks the required field 'block_size'"),
    (TINY_JSON | {"n_embd": "32"}, TypeError, "n_embd='32' must be an int"),
    (TINY_JSON | {"vocab_size": "64"}, TypeError, "vocab_size='64' must be an int"),
    (TINY_JSON | {"rope_base": "50000"}, TypeError, "rope_base='50000' must be a real number"),
    (TINY_JSON | {"qk_bias": "false"}, TypeError, "qk_bias='false' must be a bool"),
    (TINY_JSON | {"eos_token_id": "2"}, TypeError, "eos_token_ids=.*must be a tuple of ints"),
    (TINY_JSON | {"mean_recurrence": 0}, ValueError, "mean_recurrence=0 must be >= 1"),
])
def test_malformed_config_json_names_the_field(raw, error, match):
    with pytest.raises(error, match=match):
        ModelConfig.from_huggingface(raw)


def test_integer_reals_in_config_json_read_as_floats():
    config = ModelConfig.from_huggingface(TINY_JSON | {"rope_base": 50000, "norm_eps": 1})
    assert config.rope_base == 50000.0 and isinstance(config.rope_base, float) and config.norm_eps == 1.0
    with pytest.raises(ValueError, match="rope_base=inf must be finite"):
        ModelConfig.from_huggingface(TINY_JSON | {"rope_base": 10**400})
