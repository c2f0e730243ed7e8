"""One diffusion-forcing tick (`tick`) on a tiny float64 model against the same tick written out from the model's
stages, and the move to the next wavefront (`move`) on integer tensors worked out by hand.

The written-out tick follows the paper's formulas (Eq. 1 as eta e_prev + (1 - eta) P(y), Eq. 2 as
(1 - beta) z + beta noise); where its arithmetic is ordered differently from the sampler's, states are compared
within 1e-12 (float64) and tokens, counts and exits exactly.
"""

import copy

import pytest
import torch

from rdtheory import TINY
from rdtheory.model.cache import KVCache, ShareLast
from rdtheory.sampling.exits import FixedDepth, LatentDiff, relative_change
from rdtheory.sampling.schedules import NO_NOISE, Constant
from rdtheory.sampling.tokens import GREEDY, top_ranks
from rdtheory.sampling.wave import gather_rows, move, tick
from rdtheory.testing.models import random_model

MODEL = random_model(TINY, 0)
H = TINY.n_embd
SEED = 3
ROWS = torch.tensor([0, 1])
NO_STOPS = torch.zeros(0, dtype=torch.long)


@pytest.fixture(autouse=True)
def _no_grad():
    with torch.no_grad():  # as the samplers run a tick
        yield


def _knobs(**kw) -> dict:
    return dict(dict(exit=FixedDepth(2), inner=2, init_scale=1.0, seed=SEED, ema=0.0, noise=NO_NOISE, vp=False,
                     kv=ShareLast(), sampling=GREEDY, min_depth=1, max_depth=8, hold_stale_drafts=True), **kw)


def _cache() -> KVCache:
    return KVCache(TINY, ShareLast(), 2, 16, 8, torch.float64, "cpu")


def _first_tick_inputs() -> dict:
    """No prefill: the prompts [1, 2, 3] and [4, 5] enter the wavefront at position 0, every entry fresh."""
    z = torch.zeros(2, 3, H, dtype=torch.float64)
    return dict(inputs=torch.tensor([[1, 2, 3], [4, 5, 0]]), counts=torch.zeros(2, 3, dtype=torch.long),
                draws=torch.zeros(2, 3, dtype=torch.long), fresh=torch.ones(2, 3, dtype=torch.bool), z=z,
                e_prev=torch.zeros_like(z), memory=(), carry=z[:, :1], heads=torch.tensor([0, 0]),
                widths=torch.tensor([3, 2]), budget=torch.tensor([5, 5]), rows=ROWS, lengths=torch.tensor([3, 2]),
                stops=NO_STOPS)


def test_a_first_tick_runs_the_stages_on_fresh_states_and_commits_by_the_rule():
    x, k, cache = _first_tick_inputs(), _knobs(), _cache()
    out = tick(MODEL, cache, k, x, kv_len=3, use_carry=False)

    # Written out: initial states, r' = 2 core steps over the embedded prompt, decode, greedy tokens.
    ref = _cache()
    pos, valid = torch.tensor([[0, 1, 2], [0, 1, 2]]), torch.tensor([[True, True, True], [True, True, False]])
    chunk = MODEL.chunk(pos, valid, 3)
    e = MODEL.embed(x["inputs"], chunk, ref)
    z = MODEL.initial_state(chunk, 1.0, SEED, ROWS)
    for _ in range(2):
        z = MODEL.core_step(z, e, chunk, ref, 1)
    logits = MODEL.decode(z, chunk, ref)
    # The same operations in the same order: equal bit for bit.
    assert torch.equal(out["z"], z) and torch.equal(out["e"], e) and torch.equal(out["top"], top_ranks(logits))
    assert torch.equal(out["predicted"], logits.argmax(-1))
    assert torch.equal(cache.k, ref.k) and torch.equal(cache.v, ref.v)  # the same keys were written

    assert out["pos"].tolist() == pos.tolist()
    assert out["counts"].tolist() == [[2, 2, 2], [2, 2, 0]]  # padding keeps its count
    assert out["draws"].tolist() == [[1, 1, 1], [1, 1, 1]] and out["memory"] == ()
    # FixedDepth(2) after two recurrences: every valid entry has converged; the prompt positions leave.
    assert out["exits"].tolist() == [3, 2]
    predicted = out["predicted"].tolist()
    assert out["packed"].tolist() == [[3, 0, 0, 0, 0, *predicted[0], 0, 0, 0],
                                      [2, 0, 0, 0, 0, *predicted[1], 0, 0, 0]]


def _later_tick_inputs() -> tuple[dict, KVCache]:
    """Heads at positions 3 and 2 (all entries drafts), the first row's head and the second row's second entry
    carried over from earlier ticks; the cache holds the positions before the heads."""
    gen = torch.Generator().manual_seed(11)
    x = _first_tick_inputs()
    cache = _cache()
    tick(MODEL, cache, _knobs(), x, kv_len=3, use_carry=False)  # fill positions 0..2
    z = torch.randn(2, 3, H, dtype=torch.float64, generator=gen)
    x.update(inputs=torch.tensor([[7, 8, 9], [10, 11, 0]]), counts=torch.tensor([[2, 0, 0], [0, 2, 2]]),
             draws=torch.tensor([[1, 0, 0], [0, 1, 1]]),
             fresh=torch.tensor([[False, True, True], [True, False, False]]), z=z,
             e_prev=torch.randn(2, 3, H, dtype=torch.float64, generator=gen),
             memory=(torch.randn(2, 3, H, dtype=torch.float64, generator=gen),), heads=torch.tensor([3, 2]))
    return x, cache


# The two entries at min_depth move by 1.257 (row 0's head) and 1.289 (row 1's second entry) relative to the states
# of their previous checks: eps picks none, one or both. Row 1 cannot exit (its head is not due); in row 0 only the
# head can, as the draft its neighbour consumed (8) is not the token the head commits.
@pytest.mark.parametrize("eps,converged,exits", [
    (0.3, [[False, False, False], [False, False, False]], [0, 0]),
    (1.27, [[True, False, False], [False, False, False]], [1, 0]),
    (1e9, [[True, False, False], [False, True, False]], [1, 0]),
])
def test_a_later_tick_mixes_ema_and_noise_and_checks_the_rule_from_min_depth(eps, converged, exits):
    x, cache = _later_tick_inputs()
    ref = copy.deepcopy(cache)
    k = _knobs(exit=LatentDiff(eps), ema=0.25, noise=Constant(0.5), min_depth=4, max_depth=6)
    out = tick(MODEL, cache, k, x, kv_len=6, use_carry=False)

    pos, valid = torch.tensor([[3, 4, 5], [2, 3, 4]]), torch.tensor([[True, True, True], [True, True, False]])
    fresh = x["fresh"][..., None]
    chunk = MODEL.chunk(pos, valid, 6)
    p = MODEL.embed(x["inputs"], chunk, ref)
    z = torch.where(fresh, MODEL.initial_state(chunk, 1.0, SEED, ROWS), x["z"])
    memory = torch.where(fresh, z, x["memory"][0])  # a fresh entry's rule starts from its initial state
    e = torch.where(fresh, p, 0.25 * x["e_prev"] + 0.75 * p)  # Eq. 1, eta = 0.25
    noise = MODEL.initial_state(chunk, 1.0, SEED, ROWS, draw=x["draws"] + 1)
    z = 0.5 * z + 0.5 * noise  # Eq. 2, constant beta = 0.5
    for _ in range(2):
        z = MODEL.core_step(z, e, chunk, ref, 1)
    predicted = MODEL.decode(z, chunk, ref).argmax(-1)

    assert torch.allclose(out["e"], e, rtol=0, atol=1e-12) and torch.allclose(out["z"], z, rtol=0, atol=1e-12)
    assert torch.equal(out["predicted"], predicted)
    counts = [[4, 2, 2], [2, 4, 2]]
    assert out["counts"].tolist() == counts and out["draws"].tolist() == [[2, 1, 1], [1, 2, 2]]
    # The rule is consulted from min_depth = 4 on: only there does its memory move to the new state.
    due = torch.tensor(counts) >= 4
    (got_memory,) = out["memory"]
    assert torch.equal(got_memory[due], out["z"][due])
    assert torch.allclose(got_memory[~due], memory[~due], rtol=0, atol=1e-12)
    assert ((relative_change(out["z"], memory) < eps) & due).tolist() == converged
    assert out["exits"].tolist() == exits
    assert out["packed"][:, :2].tolist() == [[exits[0], 0], [exits[1], 0]]
    assert out["packed"][:, 2:5].tolist() == x["counts"].tolist()  # the counts before the tick
    assert out["packed"][:, 5:8].tolist() == out["predicted"].tolist()


def test_variance_preserving_noise_mixes_square_roots():
    x, cache = _later_tick_inputs()
    ref = copy.deepcopy(cache)
    out = tick(MODEL, cache, _knobs(exit=FixedDepth(4), inner=1, noise=Constant(0.36), vp=True), x, kv_len=6,
               use_carry=False)
    chunk = MODEL.chunk(torch.tensor([[3, 4, 5], [2, 3, 4]]), torch.tensor([[True] * 3, [True, True, False]]), 6)
    p = MODEL.embed(x["inputs"], chunk, ref)
    z = torch.where(x["fresh"][..., None], MODEL.initial_state(chunk, 1.0, SEED, ROWS), x["z"])
    z = 0.8 * z + 0.6 * MODEL.initial_state(chunk, 1.0, SEED, ROWS, draw=x["draws"] + 1)  # sqrt(0.64), sqrt(0.36)
    assert torch.allclose(out["z"], MODEL.core_step(z, p, chunk, ref, 1), rtol=0, atol=1e-12)


@pytest.mark.parametrize("rule,min_depth,max_depth,exits", [
    (LatentDiff(0.0), 1, 2, [3, 2]),  # never converges by the rule, but is forced out at max_depth
    (LatentDiff(1e9), 3, 8, [0, 0]),  # converges by the rule, but is not consulted below min_depth
    (LatentDiff(1e9), 2, 8, [3, 2]),
    (FixedDepth(3), 1, 8, [0, 0]),
])
def test_min_depth_and_max_depth_bound_the_rule(rule, min_depth, max_depth, exits):
    k = _knobs(exit=rule, min_depth=min_depth, max_depth=max_depth)
    x = _first_tick_inputs()
    x["memory"] = rule.start(x["z"], TINY.vocab_size)
    out = tick(MODEL, _cache(), k, x, kv_len=3, use_carry=False)
    assert out["exits"].tolist() == exits


def test_continuous_compute_starts_fresh_entries_from_the_carried_state():
    x = _first_tick_inputs()
    x["carry"] = torch.arange(2 * H, dtype=torch.float64).reshape(2, 1, H) / H
    out = tick(MODEL, _cache(), _knobs(inner=1), x, kv_len=3, use_carry=True)
    ref = _cache()
    chunk = MODEL.chunk(torch.tensor([[0, 1, 2], [0, 1, 2]]), torch.tensor([[True] * 3, [True, True, False]]), 3)
    e = MODEL.embed(x["inputs"], chunk, ref)
    assert torch.equal(out["z"], MODEL.core_step(x["carry"].expand(2, 3, H), e, chunk, ref, 1))


# ------------------------------------------------------------------------------------------------ move


def _move_inputs() -> tuple[dict, dict]:
    """Row 0: prompt of 2, head at position 2, entries at 2, 3, 4 consumed drafts 5, 6, 7 and predicted 10, 11, 12;
    one exits, two stay, one is appended (new head 3). Row 1: prompt [20, 21, 22, 23] without prefill, entries at
    0, 1, 2 predicted 30, 31, 32; two prompt positions leave, one stays, prompt position 3 and a filler enter
    (new head 2)."""
    h = 2
    z = torch.arange(2 * 3 * h, dtype=torch.float64).reshape(2, 3, h)
    out = dict(exits=torch.tensor([1, 2]), predicted=torch.tensor([[10, 11, 12], [30, 31, 32]]),
               pos=torch.tensor([[2, 3, 4], [0, 1, 2]]), counts=torch.tensor([[4, 2, 1], [6, 4, 2]]),
               draws=torch.tensor([[3, 2, 1], [5, 4, 3]]), z=z, e=-z, memory=(z[..., 0] + 100,))
    x = dict(out=out, plan=(torch.tensor([2, 1]), torch.tensor([3, 2]), torch.tensor([2, 2])),
             inputs=torch.tensor([[5, 6, 7], [20, 21, 22]]), rows=ROWS, lengths=torch.tensor([2, 4]),
             ids=torch.tensor([[1, 2, 0, 0], [20, 21, 22, 23]]))
    return x, out


def test_move_shifts_rows_to_their_new_heads_and_lays_out_the_new_positions():
    x, out = _move_inputs()
    moved = move(MODEL, dict(headway=1, seed=SEED), x, 3)
    # Row 0: entries 1, 2 stay, their drafts replaced by the tokens now committed to their left (10, 11); the new
    # entry at position 5 gets the last prediction (12). Row 1: entry 2 stays with its prompt token 22; position 3
    # takes the prompt's 23; the last entry is padding (a filler).
    assert moved["inputs"].tolist() == [[10, 11, 12], [22, 23, 32]]
    assert moved["fresh"].tolist() == [[False, False, True], [False, True, True]]
    assert moved["counts"].tolist() == [[2, 1, 0], [2, 0, 0]]
    assert moved["draws"].tolist() == [[2, 1, 0], [3, 0, 0]]
    z = out["z"]
    assert moved["z"].tolist() == [[z[0, 1].tolist(), z[0, 2].tolist(), z[0, 2].tolist()],
                                   [z[1, 2].tolist(), z[1, 2].tolist(), z[1, 2].tolist()]]
    assert torch.equal(moved["e_prev"], -moved["z"]) and torch.equal(moved["memory"][0], moved["z"][..., 0] + 100)
    assert moved["carry"].tolist() == [[z[0, 2].tolist()], [z[1, 2].tolist()]]  # the last entry's state


def test_move_fills_wider_headways_with_keyed_random_tokens():
    x, _ = _move_inputs()
    one = move(MODEL, dict(headway=3, seed=SEED), x, 5)["inputs"]
    assert one[0, :3].tolist() == [10, 11, 12] and one[1, :2].tolist() == [22, 23]
    fillers = [one[0, 3:].tolist(), one[1, 2:].tolist()]
    assert all(0 <= t < TINY.vocab_size for row in fillers for t in row)
    assert torch.equal(move(MODEL, dict(headway=3, seed=SEED), x, 5)["inputs"], one)  # keyed, not drawn
    others = [move(MODEL, dict(headway=3, seed=s), x, 5)["inputs"] for s in range(SEED + 1, SEED + 4)]
    assert any(not torch.equal(o, one) for o in others)


def test_gather_takes_each_rows_indices_and_pads_an_empty_wavefront():
    t = torch.tensor([[1, 2, 3], [4, 5, 6]])
    assert gather_rows(t, torch.tensor([[2, 0], [1, 1]])).tolist() == [[3, 1], [5, 5]]
    empty = torch.zeros(2, 0, 4)
    assert gather_rows(empty, torch.zeros(2, 3, dtype=torch.long)).shape == (2, 3, 4)
