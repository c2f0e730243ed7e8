"""On the GPU: graphs equal eager, and the exact AR reductions at Huginn-0125 shape in bf16 and fp32.

Both precisions are compared with vLLM's rule (at the first divergent token each side's token is in the other's
top-5); where the tokens agree throughout, the record says so. Eager blocks and compiled blocks (`compile_blocks`,
the benchmark's configuration) are both checked. Each record also says whether the comparison could have failed:
whether AR at r = 1 gives other tokens than AR at r = 32 (depth mattered) and at which recurrence counts adaptive AR
exited (the exit rule fired before r). With RDTHEORY_GPU_OUT set (a folder), the outcomes are written there as
gpu_reductions.json."""

import pytest
import torch

from rdtheory import HUGINN_0125, TINY, RecurrentDepthLM, ShareLast
from rdtheory.sampling.autoregressive import generate_adaptive, generate_ar
from rdtheory.sampling.diffusion_forcing import generate_df
from rdtheory.sampling.exits import FixedDepth, LatentDiff
from rdtheory.testing.equivalence import assert_same_latents, assert_same_tokens, top_k_rule
from rdtheory.testing.models import random_model

pytestmark = pytest.mark.gpu
RESULTS: list[dict] = []
PROMPTS = [[(97 * i + 13) % 65_000 for i in range(16)], [(31 * i + 7) % 65_000 for i in range(9)]]
N_NEW = 24


@pytest.fixture(scope="module", autouse=True)
def write_results(gpu_record):
    yield
    gpu_record("gpu_reductions", {"prompts": [len(p) for p in PROMPTS], "new_tokens": N_NEW, "results": RESULTS})


@pytest.mark.parametrize("kv", [ShareLast()], ids=["share-last"])
def test_graphs_equal_eager(kv):
    model = random_model(TINY, 1).cuda()
    prompts = [[1, 2, 3, 4], [5, 6]]
    for run in (lambda g: generate_ar(model, prompts, 12, 4, graphs=g, init_scale=1.0, stop_tokens=()),
                lambda g: generate_df(model, prompts, 12, inner=2, depth=4, exit=LatentDiff(0.3), graphs=g,
                                      stop_tokens=())):
        eager, graphed = run(False), run(True)
        assert_same_tokens(graphed.tokens, eager.tokens, "graphs vs eager")
        assert_same_latents(graphed.latents, eager.latents, 1e-9, "graphs vs eager")


@pytest.fixture(scope="module")
def huginn():
    with torch.device("cuda"):
        torch.manual_seed(0)
        model = RecurrentDepthLM(HUGINN_0125)
    return model.eval()


@pytest.mark.parametrize("dtype,compiled", [(torch.bfloat16, False), (torch.float32, False), (torch.bfloat16, True)],
                         ids=["bf16", "fp32", "bf16-compiled"])
def test_reductions_at_huginn_shape(huginn, dtype, compiled):
    model = huginn.to(dtype).compile_blocks(compiled)
    common = dict(init_scale=0.0, stop_tokens=(), kv=ShareLast())
    ar = generate_ar(model, PROMPTS, N_NEW, 32, **common)
    shallow = generate_ar(model, PROMPTS, N_NEW, 1, **common)
    df_a = generate_df(model, PROMPTS, N_NEW, inner=32, depth=32, exit=FixedDepth(32), ema=0.0, **common)
    adaptive = generate_adaptive(model, PROMPTS, N_NEW, LatentDiff(0.03), max_depth=32, check_every=4, **common)
    df_b = generate_df(model, PROMPTS, N_NEW, inner=4, depth=32, exit=LatentDiff(0.03), max_wavefront=1,
                       max_depth=32, ema=0.0, **common)
    for name, a, b in (("a: DF(r'=r=32, FixedDepth) vs AR(32)", df_a, ar),
                       ("b: DF(W=1, LatentDiff(0.03), r'=4) vs adaptive AR", df_b, adaptive)):
        for row in range(len(PROMPTS)):
            verdict = top_k_rule(a, b, row)
            generated = {pos: n for pos, n in adaptive.trace.recurrences(row).items() if pos >= len(PROMPTS[row])}
            exits = sorted(set(generated.values()))
            RESULTS.append({"reduction": name, "dtype": str(dtype).removeprefix("torch."), "compiled_blocks": compiled,
                            "row": row, "tokens_compared": verdict.compared,
                            "first_divergence": verdict.first_divergence, "top5_rule": verdict.ok,
                            "ar_r1_differs_from_r32": shallow.tokens[row] != ar.tokens[row],
                            "adaptive_exit_depths": exits})
            assert verdict.ok, (name, dtype, row, verdict)
    model.compile_blocks(False)
