"""Memory formulas equal what the model and the cache allocate, and reproduce the reference's per-token numbers."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rdtheory.config import HUGINN_0125, TINY
from rdtheory.costs import (
    footprint,
    kv_bytes_per_position,
    kv_bytes_per_token,
    kv_cache_allocation_bytes,
    kv_slots,
    transient_bytes,
    wavefront_state_bytes,
    weights_bytes,
)
from rdtheory.model.cache import KVCache, PerStep, ShareLast


def test_weights_bytes_equal_parameter_bytes_of_the_meta_model(huginn_meta):
    assert weights_bytes(HUGINN_0125, torch.bfloat16) == sum(p.nbytes for p in huginn_meta.parameters())
    assert weights_bytes(HUGINN_0125, "bfloat16") == 7_129_953_600


@settings(max_examples=20, deadline=None)
@given(policy=st.sampled_from([ShareLast(), PerStep()]), batch=st.integers(1, 3), max_len=st.integers(1, 40),
       max_depth=st.integers(1, 6), dtype=st.sampled_from([torch.float32, torch.bfloat16, torch.float64]))
def test_kv_allocation_equals_the_cache(policy, batch, max_len, max_depth, dtype):
    cache = KVCache(TINY, policy, batch, max_len, max_depth, dtype, "cpu")
    assert kv_cache_allocation_bytes(TINY, policy, batch, max_len, max_depth, dtype) == cache.nbytes()


def test_kv_allocation_of_huginn_on_meta():
    cache = KVCache(HUGINN_0125, PerStep(), 2, 4096, 32, torch.bfloat16, "meta")
    assert kv_cache_allocation_bytes(HUGINN_0125, PerStep(), 2, 4096, 32, "bfloat16") == cache.nbytes()


def test_reference_kv_bytes_per_token():
    """21,120 bytes per token per slot in bf16; 8 slots (compress-s4 / ShareLast) about 169 KB; 132 slots
    (full cache at r = 32) about 2.79 MB."""
    assert kv_bytes_per_position(HUGINN_0125, "bfloat16") == 21_120
    assert kv_slots(HUGINN_0125, ShareLast(), 32) == kv_slots(HUGINN_0125, None, 32) == 8
    assert kv_slots(HUGINN_0125, PerStep(), 32) == 132
    assert kv_bytes_per_token(HUGINN_0125, ShareLast(), 32, "bfloat16") == 168_960
    assert kv_bytes_per_token(HUGINN_0125, PerStep(), 32, "bfloat16") == 2_787_840
    # PerStep grows with the depth capacity, ShareLast does not.
    assert kv_bytes_per_token(HUGINN_0125, PerStep(), 64, "bfloat16") > kv_bytes_per_token(
        HUGINN_0125, PerStep(), 32, "bfloat16")
    assert kv_bytes_per_token(HUGINN_0125, ShareLast(), 64, "bfloat16") == 168_960


def test_wavefront_and_transients():
    assert wavefront_state_bytes(HUGINN_0125, 1, 128, "bfloat16", vectors=4) == 4 * 128 * 5280 * 2
    # Prefill of 4096 positions: float32 logits dominate the transients.
    assert transient_bytes(HUGINN_0125, 4096, 4096, 1, "bfloat16") == 4096 * 65_536 * (2 + 4)
    # Per-query keys gather a [B, W, H, L, D] copy of keys and values.
    gathered = transient_bytes(HUGINN_0125, 8, 4096, 1, "bfloat16", per_query_kv=True) \
        - transient_bytes(HUGINN_0125, 8, 4096, 1, "bfloat16")
    assert gathered == 8 * 4096 * 21_120


def test_footprint_sums_its_parts():
    fp = footprint(HUGINN_0125, PerStep(), batch=2, max_len=1000, max_depth=32, widest=500, wavefront=8,
                   dtype="bfloat16", state_vectors=4)
    assert fp.weight_bytes == 7_129_953_600
    assert fp.kv_cache_bytes == 2 * 1001 * 2_787_840
    assert fp.total_bytes == fp.weight_bytes + fp.kv_cache_bytes + fp.state_bytes + fp.transient_bytes


def test_depth_must_be_positive():
    with pytest.raises(ValueError, match="max_depth=0 must be >= 1"):
        kv_slots(HUGINN_0125, PerStep(), 0)
