"""The rotary table as Huginn computes it (float32) and stores it (`freqs_cis`): a checkpoint's stored table is the
one float32 and bfloat16 models use; float64 models keep the exact table; tables for another config are refused."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from rdtheory import HUGINN_0125, TINY, RecurrentDepthLM, load_pretrained, save_pretrained
from rdtheory.model.checkpoint import CheckpointError
from rdtheory.model.layers import ROTARY_TOLERANCE, rotary_table
from rdtheory.testing.models import random_model

CPU = torch.device("cpu")


def huginn_float32(base: float, head_dim: int, block_size: int) -> torch.Tensor:
    """The float32 computation written out here, independently of rdtheory: [block_size, head_dim/2, 2]."""
    exponents = torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim
    inv_freq = torch.ones((), dtype=torch.float32) / torch.pow(torch.tensor(base, dtype=torch.float32), exponents)
    angles = torch.arange(block_size, dtype=torch.float32)[:, None] * inv_freq[None, :]
    return torch.stack([torch.cos(angles), torch.sin(angles)], dim=-1)


def exact(base: float, head_dim: int, block_size: int) -> torch.Tensor:
    inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = torch.arange(block_size, dtype=torch.float64)[:, None] * inv_freq[None, :]
    return torch.stack([torch.cos(angles), torch.sin(angles)], dim=-1)


def test_float32_table_is_huginns_float32_computation_and_float64_is_exact():
    for config in (TINY, HUGINN_0125):
        args = (config.rope_base, config.head_dim, config.block_size)
        assert torch.equal(rotary_table(config, torch.float32)[0, :, 0], huginn_float32(*args))
        torch.testing.assert_close(rotary_table(config, torch.float64)[0, :, 0], exact(*args), rtol=0, atol=1e-12)
    # Why the tolerance: float32 rounding of the angles moves Huginn's table by a few 1e-4 at late positions.
    gap = (rotary_table(HUGINN_0125, torch.float32).double() - rotary_table(HUGINN_0125, torch.float64)).abs().max()
    assert 1e-4 < gap < ROTARY_TOLERANCE


def test_a_random_model_uses_the_float32_table_and_a_float64_model_the_exact_one():
    model = random_model(TINY, 0, dtype=torch.float32)
    assert torch.equal(model.rotations(CPU), huginn_float32(TINY.rope_base, TINY.head_dim, TINY.block_size))
    assert torch.equal(model.to(torch.bfloat16).rotations(CPU), model.freqs_cis()[0, :, 0])
    assert torch.equal(model.double().rotations(CPU), rotary_table(TINY, torch.float64)[0, :, 0])


def _perturbed() -> torch.Tensor:
    """Huginn's table moved by up to half the tolerance: a table another platform's float32 could compute."""
    table = rotary_table(TINY, torch.float32)
    wiggle = torch.linspace(-0.5, 0.5, table.numel()).reshape(table.shape) * ROTARY_TOLERANCE
    return table + wiggle


def _store_table(folder, table):
    """Replace the checkpoint's freqs_cis (written without digests, as another tool would)."""
    tensors = load_file(folder / "model.safetensors")
    if table is None:
        del tensors["freqs_cis"]
    else:
        tensors["freqs_cis"] = table
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_a_stored_table_within_tolerance_is_the_one_used(tmp_path, dtype):
    save_pretrained(random_model(TINY, 1, dtype=dtype), tmp_path)
    stored = _perturbed()
    _store_table(tmp_path, stored)
    model = load_pretrained(tmp_path)
    assert model.dtype == dtype
    assert torch.equal(model.rotations(CPU), stored[0, :, 0])
    assert torch.equal(model.to(torch.bfloat16).rotations(CPU), stored[0, :, 0])  # a cast does not quantise it
    assert torch.equal(load_pretrained(tmp_path, dtype=torch.float64).rotations(CPU),
                       rotary_table(TINY, torch.float64)[0, :, 0])
    save_pretrained(model, tmp_path / "again")  # the table in use is the one written
    assert torch.equal(load_file(tmp_path / "again" / "model.safetensors")["freqs_cis"], stored)


def test_a_checkpoint_without_a_table_uses_the_float32_computation(tmp_path):
    save_pretrained(random_model(TINY, 1, dtype=torch.float32), tmp_path)
    _store_table(tmp_path, None)
    model = load_pretrained(tmp_path)
    assert torch.equal(model.rotations(CPU), huginn_float32(TINY.rope_base, TINY.head_dim, TINY.block_size))


@pytest.mark.parametrize("table,match", [
    (lambda: rotary_table(TINY.replace(rope_base=10_000.0)), "rope_base=50000.0 by"),
    (lambda: rotary_table(TINY).flip(-1), "rope_base=50000.0 by"),  # sin before cos
    (lambda: rotary_table(TINY) + 2 * ROTARY_TOLERANCE, "rope_base=50000.0 by 0.002"),
    (lambda: rotary_table(TINY, torch.float64), "dtype torch.float64"),
    (lambda: rotary_table(TINY)[:, :64], r"shape \[1, 64, 1, 4, 2\]"),
    (lambda: rotary_table(TINY).index_fill(1, torch.tensor([3]), float("nan")), "non-finite"),
], ids=["other-base", "other-layout", "off-by-twice-the-tolerance", "float64", "short", "nan"])
def test_a_table_that_does_not_fit_the_config_is_refused(tmp_path, table, match):
    save_pretrained(random_model(TINY, 1, dtype=torch.float32), tmp_path)
    _store_table(tmp_path, table())
    with pytest.raises(CheckpointError, match=f"{tmp_path / 'model.safetensors'}: .*{match}"):
        load_pretrained(tmp_path)


def test_use_rotary_table_validates_and_is_not_a_buffer():
    model = RecurrentDepthLM(TINY)
    with pytest.raises(ValueError, match="rope_base=50000.0"):
        model.use_rotary_table(rotary_table(TINY.replace(rope_base=10_000.0)))
    model.use_rotary_table(_perturbed())
    assert "freqs_cis" not in model.state_dict() and not any(b.numel() for b in model.buffers())
    assert model.to(torch.bfloat16).freqs_cis().dtype == torch.float32


def test_transformers_from_pretrained_uses_the_stored_table(tmp_path):
    pytest.importorskip("transformers")
    from transformers import AutoModelForCausalLM

    save_pretrained(random_model(TINY, 2, dtype=torch.float32), tmp_path)
    stored = _perturbed()
    _store_table(tmp_path, stored)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "huginn_raven"
    hf = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert torch.equal(hf.lm.rotations(CPU), stored[0, :, 0])
    ids = torch.tensor([[5, 3, 9, 60, 2]])
    assert torch.equal(hf(ids, num_steps=3).logits, load_pretrained(tmp_path)(ids, 3)[0])
