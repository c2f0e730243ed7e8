"""Workspace: one cache (and its graphs) per kind of request, handed back emptied; similar lengths share one;
clear() lets them go; a workspace serves only the model it was made for."""

import dataclasses

import pytest
import torch

from rdtheory import TINY
from rdtheory.model.cache import KVCache, PerStep, ShareLast
from rdtheory.sampling.batch import check_common
from rdtheory.sampling.graphs import GraphCache
from rdtheory.sampling.tokens import GREEDY
from rdtheory.sampling.workspace import Workspace
from rdtheory.testing.models import random_model

# Long enough for two length buckets (lengths are padded to multiples of 256, at most the block size).
MODEL = random_model(dataclasses.replace(TINY, block_size=600), 0)


def test_the_same_request_gets_the_same_cache_and_graphs():
    ws = Workspace(MODEL)
    cache, graphs = ws.get(ShareLast(), 2, 40, 8, True)
    assert isinstance(cache, KVCache) and isinstance(graphs, GraphCache)
    again, graphs_again = ws.get(ShareLast(), 2, 40, 8, True)
    assert again is cache and graphs_again is graphs and len(ws.entries) == 1
    without, none = ws.get(ShareLast(), 2, 40, 8, False)
    assert without is cache and none is None  # graphs are asked for, not a part of the key


def test_the_cache_fits_the_request_rounded_up():
    ws = Workspace(MODEL)
    cache, _ = ws.get(PerStep(), 3, 40, 5, False)
    assert (cache.batch_size, cache.max_len, cache.max_depth) == (3, 256, 5)
    assert cache.policy == PerStep() and cache.k.dtype == MODEL.dtype and cache.k.device == MODEL.device
    assert ws.get(PerStep(), 3, 256, 5, False)[0] is cache  # 40 and 256 positions: one bucket
    longer, _ = ws.get(PerStep(), 3, 257, 5, False)
    assert longer is not cache and longer.max_len == 512
    assert ws.get(PerStep(), 3, 600, 5, False)[0].max_len == 600  # the block size caps the bucket


@pytest.mark.parametrize("change", [
    dict(policy=PerStep()), dict(batch=3), dict(max_depth=9),
], ids=["policy", "batch", "depth"])
def test_another_kind_of_request_gets_another_cache(change):
    ws = Workspace(MODEL)
    request = dict(policy=ShareLast(), batch=2, max_len=40, max_depth=8, graphs=False)
    first, _ = ws.get(**request)
    other, _ = ws.get(**{**request, **change})
    assert other is not first and len(ws.entries) == 2
    assert ws.get(**request)[0] is first


def test_a_cache_is_handed_back_emptied():
    ws = Workspace(MODEL)
    cache, _ = ws.get(PerStep(), 2, 40, 4, False)
    cache.truncate([7, 3])
    cache.depth[:, :8] = 4  # recurrences a previous generation stored
    again, _ = ws.get(PerStep(), 2, 40, 4, False)
    assert again is cache and again.lengths == [0, 0]
    assert not again.depth.any()  # PerStep forgets the stored depths past the (now empty) committed length


def test_nbytes_counts_every_cache_and_clear_lets_them_go():
    ws = Workspace(MODEL)
    assert ws.nbytes() == 0
    a, graphs = ws.get(ShareLast(), 1, 40, 4, True)
    b, _ = ws.get(PerStep(), 1, 40, 4, False)
    assert ws.nbytes() == a.nbytes() + b.nbytes() > 0 and b.nbytes() > a.nbytes()
    ws.clear()
    assert ws.entries == {} and ws.nbytes() == 0
    fresh, fresh_graphs = ws.get(ShareLast(), 1, 40, 4, True)
    assert fresh is not a and fresh_graphs is not graphs


def test_a_workspace_serves_only_its_model():
    ws = Workspace(MODEL)
    assert ws.model is MODEL
    assert check_common(MODEL, 0, GREEDY, ShareLast(), ws) == 0
    other = random_model(dataclasses.replace(TINY, block_size=600), 0)  # equal weights, another model
    with pytest.raises(ValueError, match="workspace was made for another model"):
        check_common(other, 0, GREEDY, ShareLast(), ws)


def test_a_workspace_follows_its_models_dtype():
    model = random_model(TINY, 1, dtype=torch.float32)
    cache, _ = Workspace(model).get(ShareLast(), 1, 10, 2, False)
    assert cache.k.dtype == torch.float32 and cache.max_len == TINY.block_size
