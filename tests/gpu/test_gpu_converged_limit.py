"""On the GPU, at Huginn-0125's exact shape: the converged limit (Remark 3.1) and the exact reductions, drawn by
Hypothesis.

The model is `rdtheory.testing.scale.contractive_model(HUGINN_0125, seed=0)` in float32 on the GPU: Huginn's
initialisation with every matrix times 2 and the adapter's state half rescaled to the first state gain whose
contraction constant, measured matrix-free at the fixed point of a probe prompt, is below 0.8 (the record keeps the
gain and the measured value). Each converged-limit example draws r', eps, headway, wavefront cap, eta, the noise
schedule, 1-2 batch rows and their prompts, runs diffusion forcing on the batch and checks every row against its
own AR fixed point (`rdtheory.testing.scale.converged_rows`): committed latents within the measured C * eps
(float32), tokens equal the fixed point's where the logit margin certifies them, a differing token recorded with its
margin. bfloat16 runs the same weights rounded to bfloat16 against the float32 upcast of those weights, with the
stated rule: every bound widened by twice the distance at which bfloat16 AR itself holds the fixed point. Each
example records whether AR at r = 1 gives other tokens than the fixed point (non-vacuity).

The reductions (a) and (b) are drawn too (prompts, r, KV policy), in bfloat16 and float32, compared with vLLM's
top-5 rule. With RDTHEORY_GPU_OUT set (a folder), everything is written there as gpu_converged_limit.json.
"""

import copy

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rdtheory import HUGINN_0125, PerStep, ShareLast
from rdtheory.sampling.autoregressive import generate_adaptive, generate_ar
from rdtheory.sampling.diffusion_forcing import generate_df
from rdtheory.sampling.exits import FixedDepth, LatentDiff
from rdtheory.sampling.schedules import Linear
from rdtheory.testing.equivalence import top_k_rule
from rdtheory.testing.scale import contractive_model, converged_rows, low_precision_copy

pytestmark = pytest.mark.gpu
RECORD: dict = {"converged": [], "reductions": []}
AT_SCALE = settings(max_examples=5, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))
VOCAB = 65_000


@pytest.fixture(scope="module", autouse=True)
def write_results(gpu_record):
    yield
    gpu_record("gpu_converged_limit", RECORD)


@pytest.fixture(scope="module")
def contractive():
    found = contractive_model(HUGINN_0125, seed=0, dtype=torch.float32, device="cuda")
    RECORD["model"] = {"shape": "HUGINN_0125", "seed": 0, "gain": 2.0, "state_gain": found.state_gain,
                       "measured_contraction": found.contraction, "probe": list(found.probe)}
    return found.model


prompt_lists = st.lists(st.lists(st.integers(0, VOCAB - 1), min_size=2, max_size=6), min_size=1, max_size=2)
knob_sets = st.fixed_dictionaries({
    "inner": st.sampled_from([1, 2, 4]), "eps": st.sampled_from([1e-2, 1e-3, 1e-4]),
    "headway": st.sampled_from([1, 2]), "cap": st.sampled_from([1, 4, 16]), "ema": st.sampled_from([0.0, 0.1]),
    "noise": st.sampled_from([None, Linear(0.2, 8)]), "init_scale": st.sampled_from([0.0, 1.0]),
})


def _converged(reference, run, dtype, prompts, knobs):
    noise = knobs.pop("noise")
    records = converged_rows(reference, run, prompts, new_tokens=4, **knobs,
                             **({} if noise is None else {"noise": noise}))
    knobs["noise"] = None if noise is None else repr(noise)
    RECORD["converged"].append({"dtype": str(dtype).removeprefix("torch."), "knobs": knobs, "rows": records})
    return records


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_converged_limit(contractive, dtype):
    run, reference = (contractive, contractive) if dtype == torch.float32 else low_precision_copy(contractive, dtype)

    @AT_SCALE
    @given(prompts=prompt_lists, knobs=knob_sets)
    def check(prompts, knobs):
        _converged(reference, run, dtype, prompts, dict(knobs))

    check()
    name = str(dtype).removeprefix("torch.")
    rows = [r for e in RECORD["converged"] if e["dtype"] == name for r in e["rows"] if r["applicable"]]
    assert rows and sum(b is not None for r in rows for b in r["bounds"]) >= 3
    assert all((r["floor"] > 0) == (dtype != torch.float32) for r in rows)
    assert any(r["shallow_ar_differs"] for r in rows), "AR at r = 1 never differed: the check could not fail"


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32], ids=["bf16", "fp32"])
def test_reductions_drawn_at_huginn_shape(contractive, dtype):
    model = copy.deepcopy(contractive).to(dtype)

    @AT_SCALE
    @given(prompts=prompt_lists, depth=st.sampled_from([8, 16, 32]), kv=st.sampled_from([ShareLast(), PerStep()]),
           new=st.integers(4, 12))
    def check(prompts, depth, kv, new):
        common = dict(init_scale=0.0, stop_tokens=(), kv=kv)
        ar = generate_ar(model, prompts, new, depth, **common)
        shallow = generate_ar(model, prompts, new, 1, **common)
        df_a = generate_df(model, prompts, new, inner=depth, depth=depth, exit=FixedDepth(depth), ema=0.0, **common)
        adaptive = generate_adaptive(model, prompts, new, LatentDiff(0.03), max_depth=depth, check_every=4,
                                     **common)
        df_b = generate_df(model, prompts, new, inner=4, depth=depth, exit=LatentDiff(0.03), max_wavefront=1,
                           max_depth=depth, ema=0.0, **common)
        for name, a, b in (("a", df_a, ar), ("b", df_b, adaptive)):
            for row in range(len(prompts)):
                verdict = top_k_rule(a, b, row)
                RECORD["reductions"].append({
                    "reduction": name, "dtype": str(dtype).removeprefix("torch."), "depth": depth, "kv": repr(kv),
                    "row": row, "prompt_length": len(prompts[row]), "tokens_compared": verdict.compared,
                    "first_divergence": verdict.first_divergence, "top5_rule": verdict.ok,
                    "depth_mattered": shallow.tokens[row] != ar.tokens[row]})
                assert verdict.ok, (name, row, a.tokens[row], b.tokens[row])

    check()
    mine = [r for r in RECORD["reductions"] if r["dtype"] == str(dtype).removeprefix("torch.")]
    assert any(r["depth_mattered"] for r in mine), "AR at r = 1 never differed: the reductions could not fail"
