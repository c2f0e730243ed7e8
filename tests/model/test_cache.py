"""The KV cache: cached incremental decoding equals an uncached forward where the policy says it must."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rdtheory import TINY, KVCache, PerStep, ShareLast
from rdtheory.model.layers import chunk_self_kv
from rdtheory.testing.models import random_model
from rdtheory.testing.strategies import depth_sensitive_models


def cached_logits(model, ids, depth, policy, cuts):
    """Run ids [B, S] through the cache in chunks ending at `cuts`, each at `depth`; return all logits."""
    b, s = ids.shape
    cache = KVCache(model.config, policy, b, s, depth, model.dtype, "cpu")
    rows = torch.arange(b)
    out, start = [], 0
    for end in [*cuts, s]:
        if end <= start:
            continue
        pos = torch.arange(start, end).expand(b, -1)
        chunk = model.chunk(pos, kv_len=end)
        e = model.embed(ids[:, start:end], chunk, cache)
        state = model.initial_state(chunk, 0.0, 0, rows)
        for k in range(1, depth + 1):
            state = model.core_step(state, e, chunk, cache, k)
        out.append(model.decode(state, chunk, cache))
        start = end
    return torch.cat(out, dim=1)


# Cuts of a 10-token sequence with at least one inside it, so that later chunks read cached keys.
chunkings = st.lists(st.integers(1, 9), min_size=1, max_size=4).map(sorted)


def n_chunks(cuts: list[int], length: int) -> int:
    """How many chunks `cached_logits` runs for these cuts."""
    return len({c for c in cuts if 0 < c < length}) + 1


def test_per_step_cache_equals_uncached_forward():
    """Not vacuous by construction: every example splits the sequence into several chunks (so later chunks read
    cached keys) at a depth above one (so which recurrence's keys they read matters); and it does matter: keys of
    the last recurrence only (ShareLast) give other logits in most examples. (Depth one and a single chunk are the
    cases where ShareLast equals the uncached forward, tested below.)"""
    mattered = []

    @settings(max_examples=20)
    @given(model=depth_sensitive_models(), depth=st.integers(2, 4), cuts=chunkings, data=st.data())
    def check(model, depth, cuts, data):
        ids = torch.tensor(data.draw(st.lists(st.lists(st.integers(0, model.config.vocab_size - 1), min_size=10,
                                                       max_size=10), min_size=1, max_size=2)))
        assert n_chunks(cuts, ids.shape[1]) >= 2
        full, _ = model(ids, depth)
        with torch.no_grad():
            inc = cached_logits(model, ids, depth, PerStep(), cuts)
            shared = cached_logits(model, ids, depth, ShareLast(), cuts)
        torch.testing.assert_close(inc, full, rtol=1e-9, atol=1e-9)
        mattered.append(not torch.allclose(shared, full, rtol=1e-6, atol=1e-6))

    check()
    assert sum(mattered) >= 0.5 * len(mattered), f"ShareLast changed the logits in {sum(mattered)} of {len(mattered)}"


def test_share_last_agrees_on_a_single_chunk_and_at_depth_one_and_differs_otherwise():
    differs = 0
    for seed in range(8):
        model = random_model(TINY, seed)
        ids = torch.randint(0, TINY.vocab_size, (1, 10), generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            for depth in (1, 3):
                full, _ = model(ids, depth)
                one = cached_logits(model, ids, depth, ShareLast(), [])
                torch.testing.assert_close(one, full, rtol=1e-9, atol=1e-9)
            torch.testing.assert_close(cached_logits(model, ids, 1, ShareLast(), [4, 7]), model(ids, 1)[0],
                                       rtol=1e-9, atol=1e-9)
            inc = cached_logits(model, ids, 4, ShareLast(), [4, 5, 6, 7, 8, 9])
            per_step = cached_logits(model, ids, 4, PerStep(), [4, 5, 6, 7, 8, 9])
        torch.testing.assert_close(per_step, model(ids, 4)[0], rtol=1e-9, atol=1e-9)
        differs += not torch.equal(inc.argmax(-1), per_step.argmax(-1))
        assert not torch.allclose(inc[:, 4:], per_step[:, 4:])  # later chunks read last-recurrence keys
        torch.testing.assert_close(inc[:, :4], per_step[:, :4], rtol=1e-9, atol=1e-9)
    assert differs >= 4, f"sharing changed the tokens in only {differs} of 8 models"


def test_memory_per_policy():
    share = KVCache(TINY, ShareLast(), 2, 20, 16, torch.float32, "cpu")
    per = KVCache(TINY, PerStep(), 2, 20, 16, torch.float32, "cpu")
    slot_bytes = 2 * 2 * TINY.n_heads * 21 * TINY.head_dim * 4  # K and V, 2 rows, 20 positions + trash column
    assert share.nbytes() == (1 + 2 + 1) * slot_bytes
    assert per.nbytes() == (1 + 2 * 16 + 1) * slot_bytes


ops = st.lists(st.tuples(st.integers(0, 1), st.integers(0, 7), st.integers(1, 3), st.integers(1, 4)), min_size=1,
               max_size=12)


@given(ops=ops, query_step=st.integers(1, 4))
def test_per_step_reads_recurrence_min_of_query_and_stored_depth(ops, query_step):
    """Chunks (row, start, width, n) run recurrences 1..n, each write tagged; a read at `query_step` must return,
    for every position, the tag of recurrence min(query_step, n_last) of its last run (a dictionary model)."""
    cache = KVCache(TINY, PerStep(), 2, 12, 4, torch.float64, "cpu")
    expected: dict[tuple[int, int], dict[int, float]] = {}
    h, d = TINY.n_heads, TINY.head_dim
    for n_op, (row, start, width, n) in enumerate(ops):
        valid = torch.zeros(2, width, dtype=torch.bool)
        valid[row] = True
        chunk = _chunk(torch.arange(start, start + width)[None].expand(2, -1), valid, 12)
        for step in range(1, n + 1):
            tag = float(100 * n_op + step)
            k = torch.full((2, h, width, d), tag, dtype=torch.float64)
            cache.core(0, step).exchange(k, k, chunk)
        for p in range(start, start + width):
            expected[(row, p)] = {step: float(100 * n_op + step) for step in range(1, n + 1)}
    probe = _chunk(torch.full((2, 1), 11), torch.zeros(2, 1, dtype=torch.bool), 12)
    zeros = torch.zeros(2, h, 1, d, dtype=torch.float64)
    keys, values, _ = cache.core(0, query_step).exchange(zeros, zeros, probe)
    for (row, p), tags in expected.items():
        assert keys[row, 0, p, 0].item() == tags[min(query_step, max(tags))]
        assert torch.equal(keys[row, :, p], values[row, :, p])


def _chunk(pos, valid, kv_len):
    from rdtheory import RecurrentDepthLM

    return RecurrentDepthLM(TINY).chunk(pos, valid, kv_len)


def test_padding_entries_never_become_visible():
    pos = torch.tensor([[0, 1, 2]])
    valid = torch.tensor([[True, True, False]])
    chunk = _chunk(pos, valid, 3)
    _, _, mask = chunk_self_kv(torch.zeros(1, 1, 3, 2), torch.zeros(1, 1, 3, 2), chunk)
    assert not mask[0, 0, :2, 2].any()  # real queries never see padding
    assert mask[0, 0, 2].all()  # padding sees everything, so no softmax row is empty


@pytest.mark.parametrize("kwargs,match", [
    (dict(max_len=0), "max_len=0 must lie in"), (dict(max_len=10**6), "max_len=1000000 must lie in"),
    (dict(max_depth=0), "max_depth=0 must be >= 1"), (dict(batch_size=0), "batch_size=0 must be >= 1"),
])
def test_bad_cache_arguments(kwargs, match):
    args = dict(config=TINY, policy=ShareLast(), batch_size=1, max_len=8, max_depth=2, dtype=torch.float32,
                device="cpu") | kwargs
    with pytest.raises(ValueError, match=match):
        KVCache(**args)


def test_truncate_and_step_bounds():
    cache = KVCache(TINY, PerStep(), 2, 8, 2, torch.float32, "cpu")
    with pytest.raises(ValueError, match="lengths has 1 entries"):
        cache.truncate([3])
    with pytest.raises(ValueError, match=r"lengths\[1\]=9 must lie in"):
        cache.truncate([3, 9])
    chunk = _chunk(torch.tensor([[0], [0]]), None, 1)
    with pytest.raises(ValueError, match="step=3 must lie in"):
        cache.core(0, 3).exchange(torch.zeros(2, 4, 1, 8), torch.zeros(2, 4, 1, 8), chunk)
