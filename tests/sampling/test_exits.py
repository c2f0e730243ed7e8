"""Exit rules on hand-built tensors: each rule's starting memory, its verdict with the threshold at and beside its
edge (every comparison is strict), the memory it hands on, and the checks of its fields.

The states are chosen so that the relative changes are exact in float64 (norms 5 and 0.5 and 3); the one value
computed through torch's log_softmax (KLDiff) is compared with a tolerance of 1e-15.
"""

import math

import numpy as np
import pytest
import torch

from rdtheory.sampling.exits import (
    ExitRule,
    FixedDepth,
    KLDiff,
    LatentDiff,
    TokenStability,
    check_int,
    is_int,
    relative_change,
)

F64 = torch.float64
RULES = [(FixedDepth, 2), (LatentDiff, 0.1), (KLDiff, 0.1), (TokenStability, 1)]


def _depth(*rows: list[int]) -> torch.Tensor:
    return torch.tensor(rows)


# ------------------------------------------------------------------------------------------------ integer checks


def test_is_int_takes_python_and_numpy_integers_but_not_bools_or_floats():
    assert all(is_int(v) for v in (0, -3, 2**70, np.int8(1), np.uint64(7)))
    assert not any(is_int(v) for v in (True, False, np.bool_(True), 1.0, np.float64(2.0), "1", None))


def test_check_int_accepts_the_low_edge_and_refuses_below_it():
    check_int("k", 0, 0)
    check_int("depth", 1, 1)
    for value in (0, -1, True, 1.0):
        with pytest.raises(ValueError, match=rf"depth={value!r} must be an int >= 1"):
            check_int("depth", value, 1)


# ------------------------------------------------------------------------------------------------ the base rule


def test_the_base_rule_starts_empty_and_has_no_verdict():
    rule = ExitRule()
    assert rule.start(torch.zeros(1, 2, 3), 5) == () and not rule.needs_logits
    with pytest.raises(NotImplementedError):
        rule.check((), torch.zeros(1, 2, 3), None, None, _depth([1, 1]))


@pytest.mark.parametrize("rule,value", RULES, ids=["fixed", "latent", "kl", "tokens"])
def test_rightmost_is_a_bool_field_default_false(rule, value):
    assert rule(value).rightmost is False and rule(value, True).rightmost is True
    with pytest.raises(TypeError, match=r"rightmost=1 must be a bool"):
        rule(value, 1)


# ------------------------------------------------------------------------------------------------ FixedDepth


def test_fixed_depth_converges_from_its_depth_on_and_keeps_the_memory():
    rule = FixedDepth(3)
    assert rule.start(torch.zeros(2, 3, 4), 9) == () and not rule.needs_logits
    memory = (torch.ones(2, 3),)
    converged, kept = rule.check(memory, torch.zeros(2, 3, 4), None, None, _depth([1, 2, 3], [4, 0, 3]))
    assert converged.tolist() == [[False, False, True], [True, False, True]]
    assert kept is memory


@pytest.mark.parametrize("depth", [0, -2, 1.5, True])
def test_fixed_depth_is_a_count_from_one(depth):
    with pytest.raises(ValueError, match=rf"depth={depth!r} must be an int >= 1"):
        FixedDepth(depth)


# ------------------------------------------------------------------------------------------------ LatentDiff


# State [3, 4] (norm 5) against three previous states: no change, a change of norm 3 and one of norm 0.5.
STATE = torch.tensor([[[3.0, 4.0], [3.0, 4.0], [3.0, 4.0]]], dtype=F64)
PREV = torch.tensor([[[3.0, 4.0], [0.0, 4.0], [3.0, 4.5]]], dtype=F64)


def test_relative_change_is_the_change_over_the_new_norm():
    assert relative_change(STATE, PREV).tolist() == [[0.0, 0.6, 0.1]]
    assert relative_change(STATE, PREV).dtype == F64
    assert relative_change(STATE.float(), PREV).dtype == torch.float32  # prev follows the state's precision
    low = relative_change(STATE.bfloat16(), PREV.bfloat16())
    # bfloat16 holds these states exactly; the arithmetic runs in float32, so 0.6 and 0.1 to float32's precision
    assert low.dtype == torch.float32 and low.tolist() == [[0.0, pytest.approx(0.6, rel=1e-6),
                                                           pytest.approx(0.1, rel=1e-6)]]


@pytest.mark.parametrize("eps,want", [
    (0.6, [True, False, True]),  # 0.6 itself does not converge: the comparison is strict
    (math.nextafter(0.6, 1.0), [True, True, True]),
    (0.1, [True, False, False]),
    (math.nextafter(0.1, 1.0), [True, False, True]),
    (0.0, [False, False, False]),  # not even a state that did not move
])
def test_latent_diff_converges_strictly_below_eps(eps, want):
    rule = LatentDiff(eps)
    converged, memory = rule.check((PREV,), STATE, None, None, _depth([4, 4, 4]))
    assert converged.tolist() == [want]
    assert len(memory) == 1 and memory[0] is STATE  # the next check compares with this state


def test_latent_diff_starts_from_the_initial_state():
    rule = LatentDiff(0.03)
    assert not rule.needs_logits
    (start,) = rule.start(PREV, 7)
    assert start is PREV


@pytest.mark.parametrize("make", [LatentDiff, KLDiff], ids=["latent", "kl"])
def test_eps_must_be_a_number_at_least_zero(make):
    assert make(0).eps == 0 and make(0.0).eps == 0.0
    for bad in (-0.01, -1, float("nan")):
        with pytest.raises(ValueError, match=rf"eps={bad!r} must be >= 0"):
            make(bad)
    for bad in (True, "0.1", None):
        with pytest.raises(TypeError, match=rf"eps={bad!r} must be a number >= 0"):
            make(bad)


# ------------------------------------------------------------------------------------------------ KLDiff


def test_kl_diff_starts_uniform_in_the_states_precision():
    (uniform,) = KLDiff(0.1).start(torch.zeros(2, 3, 4, dtype=F64), 8)
    assert uniform.shape == (2, 3, 8) and uniform.dtype == F64
    assert torch.equal(uniform, torch.full((2, 3, 8), -math.log(8), dtype=F64))
    for dtype in (torch.float32, torch.bfloat16):
        assert KLDiff(0.1).start(torch.zeros(1, 1, 4, dtype=dtype), 3)[0].dtype == torch.float32


def test_kl_diff_is_kl_of_the_previous_distribution_to_the_new_one():
    """From uniform over two tokens: logits [0, 0] give KL 0; logits [log 3, 0] give p = (3/4, 1/4) and
    KL(u || p) = 1/2 log(1/2 / 3/4) + 1/2 log(1/2 / 1/4) = 1/2 log(4/3)."""
    rule = KLDiff(0.1)
    assert rule.needs_logits
    state = torch.zeros(1, 2, 3, dtype=F64)
    (uniform,) = rule.start(state, 2)
    logits = torch.tensor([[[0.0, 0.0], [math.log(3.0), 0.0]]], dtype=F64)
    kl_want = 0.5 * math.log(4 / 3)
    converged, (logp,) = KLDiff(kl_want).check((uniform,), state, logits, None, _depth([1, 1]))
    assert converged.tolist() == [[True, False]]  # KL exactly eps does not converge ...
    assert logp.exp().tolist() == [[pytest.approx([0.5, 0.5], abs=1e-15), pytest.approx([0.75, 0.25], abs=1e-15)]]
    # ... and the value itself, through torch's log_softmax, is the formula's to 1e-15
    kl = (uniform.exp() * (uniform - logp)).sum(-1)[0, 1].item()
    assert kl == pytest.approx(kl_want, abs=1e-15)
    assert KLDiff(math.nextafter(kl, 1.0)).check((uniform,), state, logits, None, _depth([1, 1]))[0].tolist() == [
        [True, True]]
    assert KLDiff(kl).check((uniform,), state, logits, None, _depth([1, 1]))[0].tolist() == [[True, False]]
    # The next check compares with this check's distribution: the same logits again give KL 0 everywhere.
    again, _ = KLDiff(1e-300).check((logp,), state, logits, None, _depth([2, 2]))
    assert again.tolist() == [[True, True]]


def test_kl_diff_needs_logits():
    with pytest.raises(AssertionError, match="KLDiff needs logits"):
        KLDiff(0.1).check((torch.zeros(1, 1, 2),), torch.zeros(1, 1, 3), None, None, _depth([1]))


# ------------------------------------------------------------------------------------------------ TokenStability


def test_token_stability_counts_checks_with_an_unchanged_token():
    state = torch.zeros(1, 3, 4)
    prev, count = TokenStability(1).start(state, 9)
    assert prev.tolist() == [[-1, -1, -1]] and count.tolist() == [[0, 0, 0]]
    assert prev.dtype == count.dtype == torch.long and TokenStability(1).needs_logits
    memory = (prev, count)
    counts, verdicts = [], {k: [] for k in (0, 1, 2)}
    for tokens in ([[5, 7, 1]], [[5, 8, 1]], [[5, 8, 2]], [[5, 8, 2]]):
        tokens = torch.tensor(tokens)
        for k in verdicts:
            verdicts[k].append(TokenStability(k).check(memory, state, None, tokens, _depth([1, 1, 1]))[0].tolist())
        _, memory = TokenStability(1).check(memory, state, None, tokens, _depth([1, 1, 1]))
        assert memory[0] is tokens
        counts.append(memory[1].tolist())
    assert counts == [[[0, 0, 0]], [[1, 0, 1]], [[2, 1, 0]], [[3, 2, 1]]]  # a change resets the count to 0
    assert verdicts[0] == [[[True, True, True]]] * 4  # k = 0: at the first check
    assert verdicts[1] == [[[False, False, False]], [[True, False, True]], [[True, True, False]],
                           [[True, True, True]]]
    assert verdicts[2] == [[[False, False, False]], [[False, False, False]], [[True, False, False]],
                           [[True, True, False]]]


def test_token_stability_k_is_a_count_from_zero_and_needs_tokens():
    assert TokenStability(0).k == 0
    with pytest.raises(ValueError, match=r"k=-1 must be an int >= 0"):
        TokenStability(-1)
    with pytest.raises(AssertionError, match="TokenStability needs tokens"):
        TokenStability(1).check(TokenStability(1).start(torch.zeros(1, 1, 2), 3), torch.zeros(1, 1, 2), None, None,
                                _depth([1]))
