"""Bad input raises an error naming the argument, its value and the rule."""

import copy

import numpy as np
import pytest
import torch

from rdtheory import TINY
from rdtheory.sampling.autoregressive import generate_adaptive, generate_ar
from rdtheory.sampling.diffusion_forcing import generate_df
from rdtheory.sampling.exits import FixedDepth, KLDiff, LatentDiff, TokenStability
from rdtheory.sampling.tokens import Sampling
from rdtheory.sampling.workspace import Workspace
from rdtheory.testing.models import random_model

MODEL = random_model(TINY, 0, dtype=torch.float32)


@pytest.mark.parametrize("call,error,match", [
    (lambda g: g(MODEL, [[1, 64]], 3), ValueError, r"token id 64 outside the vocabulary \[0, 64\)"),
    (lambda g: g(MODEL, [[1, -1]], 3), ValueError, "token id -1"),
    (lambda g: g(MODEL, [[]], 3), ValueError, r"prompts\[0\] is empty"),
    (lambda g: g(MODEL, [], 3), ValueError, "prompts is empty"),
    (lambda g: g(MODEL, [[1] * 100], 29), ValueError, "length 100 \\+ max_new_tokens=29 exceeds .* block_size=128"),
    (lambda g: g(MODEL, [[1]], -1), ValueError, "max_new_tokens=-1 must be an int >= 0"),
    (lambda g: g(MODEL, [[1.5]], 3), TypeError, "token ids must be ints"),
    (lambda g: g(MODEL, torch.tensor([[1.0, 2.0]]), 3), TypeError, "prompts dtype=torch.float32 must be an integer"),
    (lambda g: g(MODEL, torch.tensor([1, 2]), 3), ValueError, r"shape=\[2\] must be \[batch, length\]"),
    (lambda g: g(copy.deepcopy(MODEL).half(), [[1]], 3), TypeError, "model dtype=torch.float16 is not supported"),
    (lambda g: g(object(), [[1]], 3), TypeError, "must be a RecurrentDepthLM"),
    (lambda g: g(MODEL, [[1]], 3, stop_tokens=[99]), ValueError, "stop_tokens holds 99"),
    (lambda g: g(MODEL, [[1], [2]], 3, row_ids=[0]), ValueError, "row_ids"),
    (lambda g: g(MODEL, [1, 2, 3], 3), TypeError,
     r"prompts=\[1, 2, 3\] must be a list of token-id lists or a 2-D integer tensor, but prompts\[0\]=1 has type int"),
    (lambda g: g(MODEL, "abc", 3), TypeError, "prompts='abc' must be a list of token-id lists"),
    (lambda g: g(MODEL, [[1]], 3, seed=1.5), TypeError, r"seed=1.5 must be an int in \[0, 2\*\*64\)"),
    (lambda g: g(MODEL, [[1]], 3, seed=-1), ValueError, r"seed=-1 must be an int in \[0, 2\*\*64\)"),
    (lambda g: g(MODEL, [[1]], 3, kv="share-last"), TypeError, r"kv='share-last' must be a KVPolicy \(ShareLast\(\)"),
    (lambda g: g(MODEL, [[1]], 3, sampling={"temperature": 1.0}), TypeError,
     r"sampling=\{'temperature': 1.0\} must be a Sampling"),
    (lambda g: g(MODEL, [[1]], 3, stop_tokens=5), TypeError, "stop_tokens=5 must be a sequence of token ids"),
    (lambda g: g(MODEL, [[1]], 3, stop_tokens=[True]), ValueError, "stop_tokens holds True; stop tokens must be int"),
    (lambda g: g(MODEL, [[1]], 3, workspace="x"), TypeError, r"workspace='x' must be a Workspace"),
    (lambda g: g(MODEL, [[1]], 3, workspace=Workspace(random_model(TINY, 1))), ValueError,
     "workspace was made for another model"),
    (lambda g: g(MODEL, np.array([[1.0, 2.0]]), 3), TypeError, "prompts dtype=float64 must be an integer dtype"),
    (lambda g: g(MODEL, np.array([1, 2]), 3), ValueError, r"shape=\[2\] must be \[batch, length\]"),
])
@pytest.mark.parametrize("sampler", [generate_ar, generate_df], ids=["ar", "df"])
def test_bad_prompts_and_budgets(sampler, call, error, match):
    with pytest.raises(error, match=match):
        call(sampler)


@pytest.mark.parametrize("sampler", [generate_ar, generate_df], ids=["ar", "df"])
def test_numpy_integers_are_token_ids_seeds_and_row_ids(sampler):
    plain = sampler(MODEL, [[1, 2, 3], [4, 5]], 4, seed=7, row_ids=[3, 1], stop_tokens=())
    as_numpy = [[np.int64(1), np.int32(2), np.uint8(3)], [np.int16(4), np.int64(5)]]
    run = sampler(MODEL, as_numpy, np.int64(4), seed=np.uint64(7), row_ids=[np.int64(3), np.int8(1)], stop_tokens=())
    assert run.tokens == plain.tokens
    ragged_free = sampler(MODEL, np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int32), 4, stop_tokens=())
    assert ragged_free.tokens == sampler(MODEL, [[1, 2, 3], [4, 5, 6]], 4, stop_tokens=()).tokens
    assert all(type(t) is int for row in run.tokens for t in row)


def test_prompts_on_another_device():
    with pytest.raises(ValueError, match="device=meta must be the model's device=cpu"):
        generate_ar(MODEL, torch.zeros(1, 2, dtype=torch.long, device="meta"), 3)


@pytest.mark.parametrize("call,match", [
    (lambda: generate_ar(MODEL, [[1]], 3, depth=0), "depth=0 must be an int >= 1"),
    (lambda: generate_adaptive(MODEL, [[1]], 3, LatentDiff(0.1), max_depth=0), "max_depth=0"),
    (lambda: generate_adaptive(MODEL, [[1]], 3, LatentDiff(0.1), max_depth=4, min_depth=5), "min_depth=5 must be <="),
    (lambda: generate_adaptive(MODEL, [[1]], 3, LatentDiff(0.1), check_every=0), "check_every=0"),
    (lambda: LatentDiff(-0.1), "eps=-0.1 must be >= 0"),
    (lambda: KLDiff(-1.0), "eps=-1.0 must be >= 0"),
    (lambda: generate_ar(MODEL, [[1]], 3, init_scale=-1.0), "init_scale=-1.0 must be >= 0"),
    (lambda: generate_df(MODEL, [[1]], 3, inner=0), "inner=0 must be an int >= 1"),
    (lambda: generate_df(MODEL, [[1]], 3, max_wavefront=0), "max_wavefront=0"),
    (lambda: generate_df(MODEL, [[1]], 3, headway=0), "headway=0"),
    (lambda: generate_df(MODEL, [[1]], 3, ema=1.0), r"ema=1.0 must lie in \[0, 1\)"),
    (lambda: generate_df(MODEL, [[1]], 3, max_ticks=0), "max_ticks=0"),
    (lambda: generate_df(MODEL, [[1]], 3, min_depth=10, max_depth=2), "min_depth=10 must be <= max_depth=2"),
    (lambda: generate_df(MODEL, [[1]], 3, depth=2, min_depth=5), "min_depth=5 must be <= max_depth=4"),
    (lambda: TokenStability(1.5), "k=1.5 must be an int >= 0"),
    (lambda: TokenStability(-1), "k=-1 must be an int >= 0"),
    (lambda: FixedDepth(2.0), "depth=2.0 must be an int >= 1"),
    (lambda: Sampling(temperature=1.0, top_k=0), "top_k=0 must be >= 1"),
])
def test_bad_knobs(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_exit_and_noise_must_be_objects():
    with pytest.raises(TypeError, match="must be an ExitRule"):
        generate_adaptive(MODEL, [[1]], 3, "latent-diff")  # type: ignore[arg-type]  # deliberately wrong
    with pytest.raises(TypeError, match="must be a NoiseSchedule"):
        generate_df(MODEL, [[1]], 3, noise=0.5)  # type: ignore[arg-type]  # deliberately wrong


@pytest.mark.parametrize("call,match", [
    (lambda: Sampling(temperature=1.0, top_k=2.5), r"top_k=2.5 must be an int >= 1 or None"),
    (lambda: Sampling(temperature="1"), "temperature='1' must be a number"),
    (lambda: Sampling(temperature=1.0, top_p="0.9"), "top_p='0.9' must be a number or None"),
    (lambda: FixedDepth(2, rightmost="yes"), "rightmost='yes' must be a bool"),
    (lambda: LatentDiff("0.1"), "eps='0.1' must be a number >= 0"),
    (lambda: generate_df(MODEL, [[1]], 3, hold_stale_drafts=0), "hold_stale_drafts=0 must be a bool"),
])
def test_settings_objects_reject_wrong_types(call, match):
    with pytest.raises(TypeError, match=match):
        call()
