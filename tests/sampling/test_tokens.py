"""Token picking: greedy, keyed Gumbel sampling with the right distribution, and the filters."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from rdtheory.sampling.tokens import Sampling, filtered_logits, pick

LOGITS = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0, -3.0], dtype=torch.float64)


def draws(sampling: Sampling, n: int = 20_000) -> np.ndarray:
    pos = torch.arange(n)[None]
    logits = LOGITS.expand(1, n, -1)
    return pick(logits, sampling, seed=1, rows=torch.tensor([0]), pos=pos)[0].numpy()


def test_greedy_is_argmax():
    logits = torch.randn(2, 3, 9)
    assert torch.equal(pick(logits, Sampling(), 0, torch.arange(2), torch.zeros(2, 3, dtype=torch.long)),
                       logits.argmax(-1))


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_sampling_follows_the_tempered_softmax(temperature):
    counts = np.bincount(draws(Sampling(temperature=temperature)), minlength=6)
    expected = (LOGITS / temperature).softmax(-1).numpy() * counts.sum()
    # Chi-square needs expected counts of at least 5: pool the tail (the logits are sorted) until it has them.
    keep = len(expected)
    while expected[keep - 1:].sum() < 5:
        keep -= 1
    counts = np.append(counts[: keep - 1], counts[keep - 1:].sum())
    expected = np.append(expected[: keep - 1], expected[keep - 1:].sum())
    assert stats.chisquare(counts, expected).pvalue > 1e-4


def test_top_k_top_p_min_p_restrict_the_support():
    assert set(draws(Sampling(1.0, top_k=2), 3000)) == {0, 1}
    probs = LOGITS.softmax(-1)  # 0.56, 0.21, 0.13, 0.08, ...
    assert set(draws(Sampling(1.0, top_p=0.7), 3000)) == {0, 1}  # 0.56 < 0.7: the crossing token is kept
    assert set(draws(Sampling(1.0, top_p=0.5), 3000)) == {0}
    kept = {i for i, p in enumerate(probs.tolist()) if p >= 0.2 * probs.max()}
    assert set(draws(Sampling(1.0, min_p=0.2), 3000)) == kept


def test_filtered_distribution_is_renormalised():
    counts = np.bincount(draws(Sampling(1.0, top_k=3)), minlength=6)[:3]
    expected = LOGITS[:3].softmax(-1).numpy() * counts.sum()
    assert stats.chisquare(counts, expected).pvalue > 1e-4


@given(seed=st.integers(0, 1000), pos=st.integers(0, 4000))
def test_the_same_key_picks_the_same_token(seed, pos):
    logits = torch.randn(1, 1, 50, generator=torch.Generator().manual_seed(seed))
    s = Sampling(temperature=1.0)
    a = pick(logits, s, seed, torch.tensor([3]), torch.tensor([[pos]]))
    b = pick(torch.cat([torch.randn(1, 1, 50), logits], 1), s, seed, torch.tensor([3]), torch.tensor([[pos + 1, pos]]))
    assert a.item() == b[0, 1].item()


def test_different_seeds_give_different_samples():
    a, b = draws(Sampling(1.0), 500), None
    pos = torch.arange(500)[None]
    b = pick(LOGITS.expand(1, 500, -1), Sampling(1.0), seed=2, rows=torch.tensor([0]), pos=pos)[0].numpy()
    assert (a != b).mean() > 0.3


@pytest.mark.parametrize("kwargs,match", [
    (dict(temperature=-1.0), "temperature=-1.0 must be >= 0"),
    (dict(temperature=1.0, top_k=0), "top_k=0 must be >= 1"),
    (dict(temperature=1.0, top_p=0.0), "top_p=0.0 must lie in"),
    (dict(temperature=1.0, min_p=1.5), "min_p=1.5 must lie in"),
    (dict(top_k=5), "no effect with temperature=0"),
])
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Sampling(**kwargs)


def test_filters_keep_the_best_token():
    x = filtered_logits(torch.tensor([[0.1, 5.0, 0.2]]), Sampling(1.0, top_p=1e-9, top_k=1, min_p=1.0))
    assert torch.isfinite(x).tolist() == [[False, True, False]]
