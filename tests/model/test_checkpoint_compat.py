"""Checkpoints as other tools write them load: transformers' tied layout without lm_head, our transformers class's
layout without freqs_cis, float16 storage; dtype names; malformed config.json is an error naming file and field."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from rdtheory import TINY, load_pretrained, save_pretrained
from rdtheory.model.checkpoint import CheckpointError
from rdtheory.model.layers import rotary_table
from rdtheory.testing.models import random_model


def assert_same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert sa[key].dtype == sb[key].dtype and torch.equal(sa[key], sb[key]), key


def _without_lm_head(tmp_path, tie: bool):
    """What transformers' save_pretrained of Huginn's modeling code writes: the tied copy dropped, no digests."""
    saved = random_model(TINY, 6, dtype=torch.float32)
    save_pretrained(saved, tmp_path)
    tensors = load_file(tmp_path / "model.safetensors")
    del tensors["lm_head.weight"]
    save_file(tensors, tmp_path / "model.safetensors", metadata={"format": "pt"})
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps(config | {"tie_embeddings": tie}))
    return saved


def test_a_tied_checkpoint_without_lm_head_takes_it_from_the_embedding(tmp_path):
    saved = _without_lm_head(tmp_path, tie=True)
    loaded = load_pretrained(tmp_path)
    assert_same_weights(loaded, saved)
    assert loaded.lm_head.weight is loaded.transformer.wte.weight


def test_an_untied_checkpoint_without_lm_head_is_an_error(tmp_path):
    _without_lm_head(tmp_path, tie=False)
    with pytest.raises(CheckpointError, match=f"{tmp_path}.*lacks tensor 'lm_head.weight'.*tie_embeddings=false"):
        load_pretrained(tmp_path)


def test_a_checkpoint_saved_by_our_transformers_class_loads(tmp_path):
    """transformers writes neither the tied lm_head nor freqs_cis (it is not a parameter of the class)."""
    pytest.importorskip("transformers")
    from rdtheory.hf.configuration import RavenConfig
    from rdtheory.hf.modeling import RavenForCausalLM

    saved = random_model(TINY, 7, dtype=torch.float32)
    hf = RavenForCausalLM(RavenConfig.from_model_config(TINY))
    hf.load_state_dict(saved.state_dict())
    hf.save_pretrained(tmp_path)
    assert "freqs_cis" not in load_file(tmp_path / "model.safetensors")
    loaded = load_pretrained(tmp_path)
    assert_same_weights(loaded, saved)
    assert torch.equal(loaded.rotations(torch.device("cpu")), rotary_table(TINY, torch.float32)[0, :, 0])
    ids = torch.tensor([[3, 1, 4, 1, 5]])
    assert torch.equal(loaded(ids, 3)[0], saved(ids, 3)[0])


def test_float16_storage_loads_as_an_exact_float32_upcast(tmp_path):
    saved = random_model(TINY, 8, dtype=torch.float32)
    save_pretrained(saved, tmp_path, dtype=torch.float16)
    assert load_file(tmp_path / "model.safetensors")["transformer.adapter.weight"].dtype == torch.float16
    assert json.loads((tmp_path / "config.json").read_text())["torch_dtype"] == "float16"
    loaded = load_pretrained(tmp_path)
    assert loaded.dtype == torch.float32
    for key, t in saved.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], t.half().float()), key
    assert load_pretrained(tmp_path, dtype="bfloat16").dtype == torch.bfloat16
    with pytest.raises(TypeError, match="dtype=torch.float16 is not supported"):
        load_pretrained(tmp_path, dtype=torch.float16)
    with pytest.raises(TypeError, match="dtype=torch.float16 is not supported"):
        load_pretrained(tmp_path, dtype="float16")


@pytest.mark.parametrize("name,dtype", [
    ("bfloat16", torch.bfloat16), ("bf16", torch.bfloat16), ("float32", torch.float32), ("fp32", torch.float32),
    ("float64", torch.float64), ("fp64", torch.float64), ("torch.bfloat16", torch.bfloat16),
])
def test_dtype_may_be_given_by_name(tmp_path, name, dtype):
    saved = random_model(TINY, 9, dtype=torch.float32)
    save_pretrained(saved, tmp_path, dtype=name)
    loaded = load_pretrained(tmp_path, dtype=name)
    assert loaded.dtype == dtype
    assert torch.equal(loaded.transformer.adapter.weight, saved.transformer.adapter.weight.to(dtype))


def test_bad_dtype_arguments_name_the_value(tmp_path):
    save_pretrained(random_model(TINY, 9, dtype=torch.float32), tmp_path)
    with pytest.raises(ValueError, match=r"dtype='bfloat17' is not a dtype name; accepted names are \[.*'bf16'"):
        load_pretrained(tmp_path, dtype="bfloat17")
    with pytest.raises(TypeError, match="dtype=torch.int8 is not supported"):
        load_pretrained(tmp_path, dtype=torch.int8)
    with pytest.raises(TypeError, match="dtype=32 must be a torch.dtype or its name"):
        load_pretrained(tmp_path, dtype=32)
    with pytest.raises(TypeError, match="dtype=torch.int8 is not supported"):
        save_pretrained(random_model(TINY, 9, dtype=torch.float32), tmp_path / "x", dtype=torch.int8)


def _dumps(config: dict) -> bytes:
    return json.dumps(config).encode()


@pytest.mark.parametrize("edit,match", [
    (lambda c: b"{}", "lacks the required field 'n_heads'"),
    (lambda c: b"[]", "must hold a JSON object of fields, not list"),
    (lambda c: b'"tiny"', "must hold a JSON object of fields, not str"),
    (lambda c: _dumps(c | {"n_embd": "32"}), "n_embd='32' must be an int"),
    (lambda c: _dumps(c | {"rope_base": "fast"}), "rope_base='fast' must be a real number"),
    (lambda c: _dumps({k: v for k, v in c.items() if k != "intermediate_size"}),
     "lacks the required field 'intermediate_size'"),
    (lambda c: _dumps(c | {"block_size": -4}), "block_size=-4 must be >= 1"),
    (lambda c: b"{not json", "not valid JSON"),
    (lambda c: b"\xff\xfe{", "not valid JSON"),
], ids=["empty", "list", "string", "string-for-int", "string-for-real", "missing-field", "out-of-range",
        "not-json", "not-utf8"])
def test_a_malformed_config_json_names_file_and_field(tmp_path, edit, match):
    save_pretrained(random_model(TINY, 1, dtype=torch.float32), tmp_path)
    file = tmp_path / "config.json"
    file.write_bytes(edit(json.loads(file.read_text())))
    with pytest.raises(CheckpointError, match=f"{file}: .*{match}"):
        load_pretrained(tmp_path)
