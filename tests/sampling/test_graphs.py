"""The graphed code paths (padded widths, padded attention spans, every tensor passed as an input) give the same
results as the eager ones. On the CPU the graph cache is replaced by one that calls the function on its static
buffers, which exercises everything but the capture itself (tests/gpu runs the real graphs)."""

import pytest
import torch

from rdtheory import TINY, PerStep, ShareLast
from rdtheory.sampling import autoregressive, diffusion_forcing
from rdtheory.sampling.exits import FixedDepth, LatentDiff, TokenStability
from rdtheory.sampling.graphs import bucket_context, bucket_width
from rdtheory.sampling.workspace import Workspace
from rdtheory.testing.equivalence import assert_same_latents, assert_same_tokens
from rdtheory.testing.models import random_model


class CallingCache:
    """Keeps static copies of the inputs per key, like a graph cache, but calls the function instead of replaying."""

    def __init__(self) -> None:
        self.static: dict = {}

    def __len__(self) -> int:
        return len(self.static)

    def run(self, key, fn, inputs):
        if key not in self.static:
            self.static[key] = torch.utils._pytree.tree_map(lambda t: t.clone() if isinstance(t, torch.Tensor) else t,
                                                            inputs)
        static = self.static[key]
        torch.utils._pytree.tree_map(lambda d, s: d.copy_(s) if isinstance(d, torch.Tensor) else None, static, inputs)
        return fn(static)


@pytest.fixture
def fake_graphs(monkeypatch):
    monkeypatch.setattr(diffusion_forcing, "GraphCache", CallingCache)
    monkeypatch.setattr(autoregressive, "GraphCache", CallingCache)
    monkeypatch.setattr(diffusion_forcing, "use_graphs", lambda model, requested: bool(requested))
    monkeypatch.setattr(autoregressive, "use_graphs", lambda model, requested: bool(requested))
    monkeypatch.setattr("rdtheory.sampling.workspace.GraphCache", CallingCache)


@pytest.mark.parametrize("kv", [ShareLast(), PerStep()], ids=["share-last", "per-step"])
@pytest.mark.parametrize("rule", [FixedDepth(4), LatentDiff(0.4), TokenStability(1)], ids=str)
def test_graphed_paths_equal_eager(fake_graphs, kv, rule):
    model = random_model(TINY, 2)
    prompts = [[1, 2, 3, 4, 5], [6, 7], [8, 9, 10]]
    knobs = dict(inner=2, depth=4, exit=rule, max_wavefront=5, headway=2, kv=kv, stop_tokens=(), init_scale=1.0)
    eager = diffusion_forcing.generate_df(model, prompts, 9, graphs=False, **knobs)
    workspace = Workspace(model)
    for _ in range(2):  # the second call reuses the workspace's cache and "graphs"
        graphed = diffusion_forcing.generate_df(model, prompts, 9, graphs=True, workspace=workspace, **knobs)
        assert_same_tokens(graphed.tokens, eager.tokens, "graphed DF")
        assert_same_latents(graphed.latents, eager.latents, 1e-9, "graphed DF")
        assert graphed.trace.ticks == eager.trace.ticks
    ar_eager = autoregressive.generate_ar(model, prompts, 9, 4, kv=kv, graphs=False, stop_tokens=())
    ar_graphed = autoregressive.generate_ar(model, prompts, 9, 4, kv=kv, graphs=True, workspace=workspace,
                                            stop_tokens=())
    assert_same_tokens(ar_graphed.tokens, ar_eager.tokens, "graphed AR")
    assert_same_latents(ar_graphed.latents, ar_eager.latents, 1e-9, "graphed AR")


def test_graph_keys_separate_knobs(fake_graphs):
    """A workspace shared by runs with different knobs must not reuse one run's graph for another."""
    model = random_model(TINY, 3)
    workspace = Workspace(model)
    first = diffusion_forcing.generate_df(model, [[1, 2, 3]], 6, inner=2, depth=4, exit=FixedDepth(4), graphs=True,
                                          workspace=workspace, stop_tokens=(), ema=0.0)
    second = diffusion_forcing.generate_df(model, [[1, 2, 3]], 6, inner=2, depth=4, exit=FixedDepth(4), graphs=True,
                                           workspace=workspace, stop_tokens=(), ema=0.5, seed=3)
    alone = diffusion_forcing.generate_df(model, [[1, 2, 3]], 6, inner=2, depth=4, exit=FixedDepth(4),
                                          stop_tokens=(), ema=0.5, seed=3)
    assert second.tokens == alone.tokens and first.tokens is not None
    assert_same_latents(second.latents, alone.latents, 1e-9)


def test_buckets():
    assert [bucket_width(n) for n in (1, 2, 3, 5, 8, 9)] == [1, 2, 4, 8, 8, 16]
    assert [bucket_context(n, 1000) for n in (1, 256, 257, 999)] == [256, 256, 512, 1000]


def test_pipelined_ar_drops_the_step_after_a_stop(fake_graphs):
    model = random_model(TINY, 4)
    prompts = [[1, 2, 3], [4, 5, 6, 7]]
    free = autoregressive.generate_ar(model, prompts, 10, 3, graphs=False, stop_tokens=())
    stop = free.tokens[0][2]
    eager = autoregressive.generate_ar(model, prompts, 10, 3, graphs=False, stop_tokens=[stop])
    graphed = autoregressive.generate_ar(model, prompts, 10, 3, graphs=True, stop_tokens=[stop])
    assert graphed.tokens == eager.tokens and graphed.finished == eager.finished
    assert graphed.trace.ticks == eager.trace.ticks
    assert_same_latents(graphed.latents, eager.latents, 1e-9)
