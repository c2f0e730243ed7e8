"""Prompts in, generations out: the padded batch `prepare_prompts` builds, the stop-token set, the shared knob
checks, and the per-row stacking of what a sampler collects. (The samplers' error messages for bad input are
tested through the samplers in test_inputs.py; here each function is called directly.)"""

import dataclasses

import numpy as np
import pytest
import torch

from rdtheory import TINY
from rdtheory.model.cache import PerStep, ShareLast
from rdtheory.sampling.batch import (
    Generation,
    Prompts,
    cat_rows,
    check_common,
    check_depth,
    check_model,
    check_stop_tokens,
    prepare_prompts,
    stack_rows,
)
from rdtheory.sampling.tokens import GREEDY, Sampling
from rdtheory.sampling.trace import Trace
from rdtheory.sampling.workspace import Workspace
from rdtheory.testing.models import random_model

MODEL = random_model(TINY, 0)
EOS_MODEL = random_model(dataclasses.replace(TINY, eos_token_ids=(3, 60)), 0)


# ------------------------------------------------------------------------------------------------ rows


def test_stack_rows_stacks_each_rows_vectors_and_fills_empty_rows():
    rows = [[torch.tensor([1, 2]), torch.tensor([3, 4])], [], [torch.tensor([5, 6])]]
    out = stack_rows(rows, 2, torch.long)
    assert [t.tolist() for t in out] == [[[1, 2], [3, 4]], [], [[5, 6]]]
    assert out[1].shape == (0, 2) and out[1].dtype == torch.long
    assert all(t.device.type == "cpu" for t in out)
    assert stack_rows([[]], 3, torch.float64)[0].dtype == torch.float64


def test_cat_rows_concatenates_each_rows_blocks_and_fills_empty_rows():
    rows = [[torch.tensor([[1.0, 2.0]], dtype=torch.float64), torch.tensor([[3.0, 4.0], [5.0, 6.0]],
                                                                          dtype=torch.float64)], []]
    out = cat_rows(rows, 2, torch.float64)
    assert [t.tolist() for t in out] == [[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], []]
    assert out[1].shape == (0, 2) and out[1].dtype == torch.float64  # not torch's default dtype
    assert cat_rows([[], []], 5, torch.long)[0].dtype == torch.long
    assert cat_rows([[torch.zeros(0, 4)]], 4, torch.float64)[0].shape == (0, 4)


def test_generation_holds_what_a_sampler_returns():
    trace = Trace(prompt_lengths=[2])
    g = Generation([[1, 2]], [torch.zeros(2, 3)], [torch.zeros(2, 5, dtype=torch.long)], ["stop"], trace)
    assert g.tokens == [[1, 2]] and g.finished == ["stop"] and g.trace is trace


# ------------------------------------------------------------------------------------------------ prompts


def test_prepare_prompts_right_pads_with_zero_and_keeps_lengths_and_row_keys():
    p = prepare_prompts(MODEL, [[5, 6, 7], [8], [9, 10]], 4, None)
    assert isinstance(p, Prompts) and p.batch_size == 3
    assert p.ids.tolist() == [[5, 6, 7], [8, 0, 0], [9, 10, 0]] and p.ids.dtype == torch.long
    assert p.lengths == [3, 1, 2] and p.lengths_t.tolist() == [3, 1, 2]
    assert p.rows.tolist() == [0, 1, 2]  # each row's noise key is its index by default
    keyed = prepare_prompts(MODEL, [[5, 6, 7], [8]], 4, [7, np.int64(2)])
    assert keyed.rows.tolist() == [7, 2] and keyed.ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert all(type(n) is int for n in keyed.lengths)


def test_prepare_prompts_takes_tensors_and_numpy_arrays_alike():
    want = prepare_prompts(MODEL, [[1, 2], [3, 4]], 1, None)
    for prompts in (torch.tensor([[1, 2], [3, 4]]), torch.tensor([[1, 2], [3, 4]], dtype=torch.int32),
                    np.array([[1, 2], [3, 4]], dtype=np.uint8)):
        got = prepare_prompts(MODEL, prompts, 1, None)
        assert got.ids.tolist() == want.ids.tolist() and got.lengths == want.lengths
        assert got.ids.dtype == torch.long


def test_prepare_prompts_edges_of_the_vocabulary_and_the_context():
    vocab, block = TINY.vocab_size, TINY.block_size
    assert prepare_prompts(MODEL, [[0, vocab - 1]], 0, None).ids.tolist() == [[0, vocab - 1]]
    with pytest.raises(ValueError, match=rf"token id {vocab} outside the vocabulary \[0, {vocab}\)"):
        prepare_prompts(MODEL, [[0, vocab]], 0, None)
    assert prepare_prompts(MODEL, [[1] * (block - 5)], 5, None).lengths == [block - 5]  # exactly fills the context
    with pytest.raises(ValueError, match=rf"length {block - 5} \+ max_new_tokens=6 exceeds the model's "
                                         rf"block_size={block} positions"):
        prepare_prompts(MODEL, [[1] * (block - 5)], 6, None)


@pytest.mark.parametrize("row_ids", [[0], [0, -1], [0, 1.0], [0, True, 2]])
def test_prepare_prompts_wants_one_key_from_zero_per_prompt(row_ids):
    with pytest.raises(ValueError, match=r"must hold one int >= 0 per prompt \(2\)"):
        prepare_prompts(MODEL, [[1], [2]], 3, row_ids)


def test_a_long_prompt_is_shortened_in_the_message():
    with pytest.raises(TypeError, match=r"prompts=\[1, 2, 3, .*\.\.\. must be a list of token-id lists"):
        prepare_prompts(MODEL, list(range(1, 40)), 3, None)


# ------------------------------------------------------------------------------------------------ stop tokens


def test_stop_tokens_default_to_the_models_end_tokens():
    assert check_stop_tokens(EOS_MODEL, None) == frozenset({3, 60})
    assert check_stop_tokens(MODEL, None) == frozenset()
    assert check_stop_tokens(EOS_MODEL, ()) == frozenset()  # () switches them off
    assert check_stop_tokens(EOS_MODEL, [5, 5, np.int32(7)]) == frozenset({5, 7})
    assert check_stop_tokens(EOS_MODEL, {0, TINY.vocab_size - 1}) == frozenset({0, TINY.vocab_size - 1})
    assert all(type(t) is int for t in check_stop_tokens(EOS_MODEL, [np.int64(5)]))


@pytest.mark.parametrize("stops,error,match", [
    ([64], ValueError, r"stop_tokens holds 64; stop tokens must be int ids in \[0, 64\)"),
    ([-1], ValueError, r"stop_tokens holds -1"),
    ([2.0], ValueError, r"stop_tokens holds 2.0"),
    ("ab", TypeError, r"stop_tokens='ab' must be a sequence of token ids"),
    (5, TypeError, r"stop_tokens=5 must be a sequence"),
])
def test_stop_tokens_must_be_ids_of_the_vocabulary(stops, error, match):
    with pytest.raises(error, match=match):
        check_stop_tokens(MODEL, stops)


# ------------------------------------------------------------------------------------------------ knobs


def test_check_common_returns_the_seed_as_an_int_and_takes_the_models_workspace():
    seed = check_common(MODEL, np.uint64(2**64 - 1), GREEDY, ShareLast(), Workspace(MODEL))
    assert seed == 2**64 - 1 and type(seed) is int
    assert check_common(MODEL, 0, Sampling(temperature=0.5), PerStep(), None) == 0
    with pytest.raises(ValueError, match=r"seed=18446744073709551616 must be an int in \[0, 2\*\*64\)"):
        check_common(MODEL, 2**64, GREEDY, ShareLast(), None)
    with pytest.raises(ValueError, match="workspace was made for another model"):
        check_common(MODEL, 0, GREEDY, ShareLast(), Workspace(EOS_MODEL))


def test_check_model_and_check_depth():
    check_model(MODEL)
    with pytest.raises(TypeError, match=r"model=str must be a RecurrentDepthLM"):
        check_model("huginn")
    check_depth("depth", 1)
    with pytest.raises(ValueError, match=r"max_depth=0 must be an int >= 1"):
        check_depth("max_depth", 0)
