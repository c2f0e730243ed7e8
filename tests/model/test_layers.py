"""The model is numerically Huginn's architecture: checked against a from-the-spec functional forward."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rdtheory import TINY, RecurrentDepthLM
from rdtheory.model.layers import RMSNorm, apply_rotary, rotary_table
from rdtheory.testing.models import random_model
from rdtheory.testing.strategies import model_configs


def spec_forward(sd: dict, cfg, ids: torch.Tensor, depth: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Huginn's forward written from the specification, on a state dict, float64, zero initial state, one row."""
    h, nh, d = cfg.n_embd, cfg.n_heads, cfg.head_dim
    s_len = ids.shape[0]
    pos = torch.arange(s_len, dtype=torch.float64)

    def rms(x, w):
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + cfg.norm_eps) * w

    def rope(x):  # [S, H, D]: pairs (x[2i], x[2i+1]) as complex numbers times exp(i pos base^(-2i/D))
        freqs = cfg.rope_base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
        angle = pos[:, None, None] * freqs
        a, b = x[..., 0::2], x[..., 1::2]
        out = torch.empty_like(x)
        out[..., 0::2] = a * torch.cos(angle) - b * torch.sin(angle)
        out[..., 1::2] = b * torch.cos(angle) + a * torch.sin(angle)
        return out

    def block(prefix, x):
        w = lambda name: sd[f"{prefix}.{name}"]  # noqa: E731
        y = rms(x, w("norm_1.weight")) @ w("attn.Wqkv.weight").T
        q, k, v = (y[:, i * h:(i + 1) * h].reshape(s_len, nh, d) for i in range(3))
        if cfg.qk_bias:
            q, k = q + w("attn.qk_bias")[0, 0], k + w("attn.qk_bias")[1, 0]
        q, k = rope(q), rope(k)
        scores = torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(d)
        scores = scores.masked_fill(torch.ones(s_len, s_len).triu(1).bool(), float("-inf"))
        att = torch.einsum("hqk,khd->qhd", scores.softmax(-1), v).reshape(s_len, h) @ w("attn.proj.weight").T
        x = rms(x + att, w("norm_2.weight"))
        fc = rms(x, w("norm_3.weight")) @ w("mlp.fc.weight").T
        gate, up = fc[:, : cfg.intermediate_size], fc[:, cfg.intermediate_size:]
        mlp = (gate * torch.sigmoid(gate) * up) @ w("mlp.proj.weight").T
        return rms(x + mlp, w("norm_4.weight"))

    e = sd["transformer.wte.weight"][ids] * math.sqrt(h)
    for i in range(cfg.n_layers_in_prelude):
        e = block(f"transformer.prelude.{i}", e)
    s = torch.zeros(s_len, h, dtype=torch.float64)
    for _ in range(depth):
        x = torch.cat([s, e], -1) @ sd["transformer.adapter.weight"].T
        for j in range(cfg.n_layers_in_recurrent_block):
            x = block(f"transformer.core_block.{j}", x)
        s = x
    x = rms(s, sd["transformer.ln_f.weight"])
    for i in range(cfg.n_layers_in_coda):
        x = block(f"transformer.coda.{i}", x)
    x = rms(x, sd["transformer.ln_f.weight"])
    return x @ sd["lm_head.weight"].T, s


@settings(max_examples=15)
@given(config=model_configs(), seed=st.integers(0, 10_000), depth=st.integers(1, 4), length=st.integers(1, 7))
def test_forward_equals_the_specification(config, seed, depth, length):
    model = random_model(config, seed)
    ids = torch.randint(0, config.vocab_size, (length,), generator=torch.Generator().manual_seed(seed))
    logits, latents = model(ids[None], depth)
    ref_logits, ref_latents = spec_forward(model.state_dict(), config, ids, depth)
    torch.testing.assert_close(logits[0], ref_logits, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(latents[0], ref_latents, rtol=1e-10, atol=1e-10)


def test_rotary_is_interleaved_not_rotate_half():
    x = torch.randn(1, 3, 2, 8, dtype=torch.float64)
    table = rotary_table(TINY.replace(n_embd=32, n_heads=4), torch.float64)[0, :3, 0]
    ours = apply_rotary(x, table[None, :, None])
    angle = torch.arange(3, dtype=torch.float64)[:, None] * 50_000.0 ** (-torch.arange(0, 8, 2) / 8)
    cos, sin = angle.cos()[None, :, None], angle.sin()[None, :, None]
    a, b = x[..., 0::2], x[..., 1::2]
    expected = torch.stack([a * cos - b * sin, b * cos + a * sin], dim=-1).flatten(-2)
    torch.testing.assert_close(ours, expected)
    half = torch.cat([x[..., :4] * cos - x[..., 4:] * sin, x[..., 4:] * cos + x[..., :4] * sin], -1)
    assert not torch.allclose(ours, half)
    compiled = torch.compile(apply_rotary, backend="eager")(x, table[None, :, None])  # the spelled-out product
    torch.testing.assert_close(compiled, expected)


def test_rotary_table_layout_matches_freqs_cis():
    table = rotary_table(TINY)
    assert table.shape == (1, TINY.block_size, 1, TINY.head_dim // 2, 2) and table.dtype == torch.float32
    assert torch.allclose(table[0, 5, 0, 0], torch.tensor([math.cos(5.0), math.sin(5.0)]))


def test_rmsnorm_runs_in_float32_then_scales_in_the_input_dtype():
    norm = RMSNorm(16, 1e-6).to(torch.bfloat16)
    with torch.no_grad():
        norm.weight.copy_(torch.linspace(0.5, 1.5, 16))
    x = (torch.randn(4, 16) * 30).to(torch.bfloat16)
    xf = x.double()
    normed = (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + 1e-6)).float()
    expected = normed.to(torch.bfloat16) * norm.weight
    out = norm(x)
    assert out.dtype == torch.bfloat16
    # The float32 result may differ from the float64 one in its last bit, which can move a bf16 rounding by one ulp.
    assert (out.float() - expected.float()).abs().max() <= 2 ** -7 * expected.float().abs().max()
    assert (out == expected).float().mean() > 0.95


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64])
def test_dtypes_run_and_logits_are_at_least_float32(dtype):
    model = RecurrentDepthLM(TINY).to(dtype)
    logits, _ = model(torch.tensor([[1, 2, 3]]), 2)
    assert logits.dtype == (torch.float64 if dtype == torch.float64 else torch.float32)
    assert torch.isfinite(logits).all()


def test_embeddings_are_tied_and_scaled():
    model = RecurrentDepthLM(TINY)
    assert model.lm_head.weight is model.transformer.wte.weight
    untied = RecurrentDepthLM(TINY.replace(tie_embeddings=False))
    assert untied.lm_head.weight is not untied.transformer.wte.weight
    assert untied.num_parameters() == model.num_parameters() + TINY.vocab_size * TINY.n_embd
