"""The matrix-free constants of the converged-limit check agree with the dense ones on tiny models."""

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rdtheory import TINY
from rdtheory.testing import contraction
from rdtheory.testing.contraction import dense_constants, matrix_free_constants, step_constants
from rdtheory.testing.models import random_model
from rdtheory.testing.strategies import contractive_models, depth_sensitive_models


def dense_jacobians(model, ids, states):
    s_len, h = states.shape
    chunk = model.chunk(torch.arange(s_len)[None], kv_len=s_len)
    with torch.no_grad():
        e = model.embed(ids[None], chunk)
    flat = states.reshape(-1)
    jc = torch.autograd.functional.jacobian(lambda x: model.core_step(x.reshape(1, s_len, h), e, chunk)[0], flat)
    jd = torch.autograd.functional.jacobian(lambda x: model.decode(x.reshape(1, s_len, h), chunk)[0], flat)
    return jc.reshape(s_len, -1, s_len, h), jd.reshape(s_len, -1, s_len, h)


def norm2(m):
    return torch.linalg.matrix_norm(m, 2).item()


@settings(max_examples=10)
@given(model=st.one_of(contractive_models(), depth_sensitive_models()), n=st.integers(1, 5), data=st.data())
def test_matrix_free_constants_equal_their_dense_definitions(model, n, data):
    ids = torch.tensor(data.draw(st.lists(st.integers(0, model.config.vocab_size - 1), min_size=n, max_size=n)))
    states = torch.randn(n, model.config.n_embd, dtype=torch.float64,
                         generator=torch.Generator().manual_seed(data.draw(st.integers(0, 99))))
    free = matrix_free_constants(model, ids, states)
    dense = dense_constants(model, ids, states)
    jc, jd = dense_jacobians(model, ids, states)
    rel = 1e-7  # power iteration stops at a 1e-10 relative step; its distance to the norm is a few times that
    for i in range(n):
        assert math.isclose(free.lam[i], dense.lam[i], rel_tol=rel)
        assert math.isclose(free.dec_self[i], norm2(jd[i, :, i]), rel_tol=rel)
        assert free.dec_self[i] >= dense.dec_self[i] * (1 - rel)  # a spectral norm bounds the largest row norm
        if i:
            off = math.sqrt(i) * norm2(torch.cat([jc[i, :, j] for j in range(i)], dim=1))
            dec_off = math.sqrt(i) * norm2(torch.cat([jd[i, :, j] for j in range(i)], dim=1))
            assert math.isclose(free.cond[i], off, rel_tol=rel) and math.isclose(free.dec_cond[i], dec_off,
                                                                                 rel_tol=rel)
        else:
            assert free.cond[0] == free.dec_cond[0] == 0.0


def test_step_constants_goes_matrix_free_above_the_dense_limit(monkeypatch):
    model = random_model(TINY, 1)
    ids, states = torch.tensor([1, 2]), torch.randn(2, TINY.n_embd, dtype=torch.float64)
    calls = []
    monkeypatch.setattr(contraction, "matrix_free_constants", lambda *a: calls.append("free") or "free")
    monkeypatch.setattr(contraction, "dense_constants", lambda *a: calls.append("dense") or "dense")
    monkeypatch.setattr(contraction, "DENSE_LIMIT", states.numel())
    assert step_constants(model, ids, states) == "dense"
    monkeypatch.setattr(contraction, "DENSE_LIMIT", states.numel() - 1)
    assert step_constants(model, ids, states) == "free"
    assert step_constants(model, ids, states, method="dense") == "dense"
