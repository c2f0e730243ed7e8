"""Huginn-layout checkpoints: bit-exact round trips, the released key set, and clear errors."""

import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file, save_file

import rdtheory
from rdtheory import HUGINN_0125, TINY, load_pretrained, save_pretrained
from rdtheory.model.checkpoint import CheckpointError, expected_tensors
from rdtheory.testing.models import random_model


def assert_same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert sa[key].dtype == sb[key].dtype and torch.equal(sa[key], sb[key]), key


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64])
@pytest.mark.parametrize("shard", [None, 30_000])
def test_round_trip_is_bit_exact(tmp_path, dtype, shard):
    model = random_model(TINY, 3, dtype=dtype)
    save_pretrained(model, tmp_path, max_shard_bytes=shard)
    loaded = load_pretrained(tmp_path)
    assert_same_weights(model, loaded)
    assert loaded.lm_head.weight is loaded.transformer.wte.weight
    files = sorted(p.name for p in tmp_path.iterdir())
    assert ("model.safetensors.index.json" in files) == (shard is not None)


def test_stored_layout_has_both_tied_copies_and_the_rotary_table(tmp_path):
    save_pretrained(random_model(TINY, 0, dtype=torch.float32), tmp_path)
    stored = load_file(tmp_path / "model.safetensors")
    assert torch.equal(stored["lm_head.weight"], stored["transformer.wte.weight"])
    assert stored["freqs_cis"].shape == (1, TINY.block_size, 1, TINY.head_dim // 2, 2)
    assert stored["freqs_cis"].dtype == torch.float32
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "huginn_raven" and config["n_embd"] == TINY.n_embd


def test_huginn_key_set_and_shapes_equal_the_release():
    shapes = expected_tensors(HUGINN_0125)
    assert len(shapes) == 77
    assert shapes["freqs_cis"] == (1, 4096, 1, 48, 2)
    assert shapes["transformer.wte.weight"] == shapes["lm_head.weight"] == (65536, 5280)
    assert shapes["transformer.adapter.weight"] == (5280, 10560)
    assert shapes["transformer.ln_f.weight"] == (5280,)
    for stage, n in (("prelude", 2), ("core_block", 4), ("coda", 2)):
        for i in range(n):
            p = f"transformer.{stage}.{i}"
            assert shapes[f"{p}.attn.Wqkv.weight"] == (15840, 5280)
            assert shapes[f"{p}.attn.qk_bias"] == (2, 1, 55, 96)
            assert shapes[f"{p}.attn.proj.weight"] == (5280, 5280)
            assert shapes[f"{p}.mlp.fc.weight"] == (35840, 5280)
            assert shapes[f"{p}.mlp.proj.weight"] == (5280, 17920)
            for j in range(1, 5):
                assert shapes[f"{p}.norm_{j}.weight"] == (5280,)


def _edit(tmp_path, edit):
    save_pretrained(random_model(TINY, 1, dtype=torch.float32), tmp_path)
    tensors = load_file(tmp_path / "model.safetensors")
    edit(tensors)
    save_file(tensors, tmp_path / "model.safetensors")


def test_missing_tensor_names_key_and_shape(tmp_path):
    _edit(tmp_path, lambda t: t.pop("transformer.coda.0.mlp.fc.weight"))
    with pytest.raises(CheckpointError, match=r"transformer\.coda\.0\.mlp\.fc\.weight.*\[128, 32\]"):
        load_pretrained(tmp_path)


def test_wrong_shape_names_key_and_both_shapes(tmp_path):
    _edit(tmp_path, lambda t: t.update({"transformer.adapter.weight": torch.zeros(32, 63)}))
    with pytest.raises(CheckpointError, match=r"model\.safetensors: tensor 'transformer\.adapter\.weight'.*\[32, 63\].*"
                                              r"\[32, 64\]"):
        load_pretrained(tmp_path)


def test_unexpected_tensor_is_an_error(tmp_path):
    _edit(tmp_path, lambda t: t.update({"transformer.extra": torch.zeros(2)}))
    with pytest.raises(CheckpointError, match="transformer.extra"):
        load_pretrained(tmp_path)


def test_untied_copies_are_an_error(tmp_path):
    _edit(tmp_path, lambda t: t.update({"lm_head.weight": t["lm_head.weight"] + 1}))
    with pytest.raises(CheckpointError, match="lm_head.weight differs"):
        load_pretrained(tmp_path)


def test_a_rotary_table_from_another_base_is_an_error(tmp_path):
    save_pretrained(random_model(TINY, 1, dtype=torch.float32), tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps(config | {"rope_base": 10_000.0}))
    with pytest.raises(CheckpointError, match="rope_base=10000.0"):
        load_pretrained(tmp_path)


def test_pickle_files_are_never_read(tmp_path):
    save_pretrained(random_model(TINY, 1, dtype=torch.float32), tmp_path)
    (tmp_path / "model.safetensors").unlink()
    (tmp_path / "pytorch_model.bin").write_bytes(b"not read")
    with pytest.raises(FileNotFoundError, match="pytorch_model.bin.*pickle"):
        load_pretrained(tmp_path)


def test_missing_config(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_pretrained(tmp_path)


def test_missing_folder_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.*is not a directory"):
        load_pretrained(tmp_path / "nowhere")


def test_checkpoint_error_is_a_value_error_exported_at_the_top():
    assert rdtheory.CheckpointError is CheckpointError and issubclass(CheckpointError, ValueError)


def test_load_casts_to_a_requested_dtype(tmp_path):
    model = random_model(TINY, 2, dtype=torch.float32)
    save_pretrained(model, tmp_path)
    loaded = load_pretrained(tmp_path, dtype=torch.float64)
    assert loaded.dtype == torch.float64
    assert torch.equal(loaded.transformer.adapter.weight, model.transformer.adapter.weight.double())
    with pytest.raises(TypeError, match="float16"):
        load_pretrained(tmp_path, dtype=torch.float16)


TRANSFORMERS_SCRIPT = """
import sys, torch
order = sys.argv[2]
if order == "transformers-first":
    import transformers
    from transformers import AutoConfig, AutoModelForCausalLM
    import rdtheory
else:
    import rdtheory
    from transformers import AutoConfig, AutoModelForCausalLM
path = sys.argv[1]
config = AutoConfig.from_pretrained(path)
model = AutoModelForCausalLM.from_pretrained(path)
ours = rdtheory.load_pretrained(path)
assert type(config).__name__ == "RavenConfig", type(config)
for (ka, a), (kb, b) in zip(sorted(model.state_dict().items()), sorted(ours.state_dict().items())):
    assert ka == kb and torch.equal(a, b), ka
assert model.lm_head.weight is model.transformer.wte.weight
ids = torch.tensor([[1, 2, 3]])
assert torch.equal(model(ids, num_steps=3).logits, ours(ids, 3)[0])
assert model.lm.num_parameters() == ours.num_parameters()
print("ok")
"""


@pytest.mark.parametrize("order", ["rdtheory-first", "transformers-first"])
def test_transformers_auto_classes_load_offline(tmp_path, order):
    save_pretrained(random_model(TINY, 4, dtype=torch.float32), tmp_path)
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", TRANSFORMERS_SCRIPT, str(tmp_path), order], capture_output=True,
                            text=True, env=env, timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]


def test_import_is_light():
    code = ("import sys, rdtheory; from rdtheory import theory, TINY; "
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["False", "False"], result.stderr
