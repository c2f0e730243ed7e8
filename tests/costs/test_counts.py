"""Analytic FLOPs equal FlopCounterMode's count of the model's own calls, and analytic bytes equal the sizes of the
tensors those calls read and write."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils._python_dispatch import TorchDispatchMode

from rdtheory.config import HUGINN_0125, TINY
from rdtheory.costs import (
    Pass,
    Stage,
    attention_flops,
    attention_traffic,
    block_traffic,
    coda_flops,
    coda_traffic,
    core_step_flops,
    dtype_bytes,
    head_flops,
    head_traffic,
    pass_flops,
    pass_traffic,
    prelude_flops,
    stage_attention_flops,
    stage_flops,
    stage_matmul_flops,
    stage_params,
    stage_traffic,
    total_params,
)
from rdtheory.model.cache import KVCache, PerStep, ShareLast
from rdtheory.model.recurrent import RecurrentDepthLM

POLICIES = [ShareLast(), PerStep()]


def nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


class TrafficRecorder(TorchDispatchMode):
    """Bytes of the operands of the ops the cost model prices: matrix products (weight operand vs activation
    operand and output), attention (q and output vs keys and values), embedding gathers and cache writes."""

    def __init__(self, cache_dtype: torch.dtype) -> None:
        super().__init__()
        self.cache_dtype = cache_dtype
        self.mm_weight = self.activation = self.kv_read = self.kv_write = self.gathered = 0
        self.attention_calls = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        if name == "mm":
            self.activation += nbytes(args[0]) + nbytes(out)
            self.mm_weight += nbytes(args[1])
        elif name.startswith("_scaled_dot_product"):
            self.attention_calls += 1
            self.activation += nbytes(args[0]) + nbytes(out[0])
            self.kv_read += nbytes(args[1]) + nbytes(args[2])
        elif name == "embedding":
            self.gathered += nbytes(out)
            self.activation += nbytes(out)
        elif name == "index_put_" and args[2].dtype == self.cache_dtype:
            self.kv_write += nbytes(args[2])
        elif name in ("addmm", "bmm", "baddbmm", "matmul"):
            raise AssertionError(f"unexpected matrix op {name}: the recorder would miss its traffic")
        return out


def stage_call(model: RecurrentDepthLM, stage: Stage, width: int, context: int, batch: int, policy,
               per_query: bool):
    """A zero-argument function running one call of `stage` over the last `width` of `context` positions."""
    cfg, dev, dt = model.config, model.device, model.dtype
    cache = KVCache(cfg, policy, batch, context, width + 1, dt, dev)
    pos = (torch.arange(width, device=dev) + context - width).expand(batch, width)
    chunk = model.chunk(pos, kv_len=context)
    state = torch.zeros(batch, width, cfg.n_embd, dtype=dt, device=dev)
    if stage is Stage.EMBED:
        ids = torch.zeros(batch, width, dtype=torch.long, device=dev)
        return lambda: model.embed(ids, chunk, cache)
    if stage is Stage.CORE:
        # Distinct recurrence steps per position send PerStep attention down its per-query path.
        step = (torch.arange(width, device=dev) + 1).expand(batch, width) if per_query else 1
        return lambda: model.core_step(state, state, chunk, cache, step)
    return lambda: model.decode(state, chunk, cache)


shapes = st.tuples(st.integers(1, 4), st.integers(0, 5), st.integers(1, 3))  # width, context - width, batch


@settings(max_examples=12, deadline=None)
@given(shape=shapes, stage=st.sampled_from(Stage), policy=st.sampled_from(POLICIES), per_query=st.booleans())
def test_tiny_flops_equal_flop_counter(tiny, counted_flops, shape, stage, policy, per_query):
    width, extra, batch = shape
    call = stage_call(tiny, stage, width, width + extra, batch, policy, per_query)
    with sdpa_kernel(SDPBackend.MATH):  # the math kernel runs attention as matmuls FlopCounterMode sees
        counted = counted_flops(call)
    assert stage_attention_flops(TINY, stage, width, width + extra, batch) > 0
    assert counted == stage_flops(TINY, stage, width, width + extra, batch)


@pytest.mark.parametrize("stage", list(Stage))
def test_cpu_attention_kernel_counts_no_more_than_the_formula(tiny, counted_flops, stage):
    """FlopCounterMode has no formula for the fused CPU attention kernel, so on CPU it may count matmuls only;
    whichever it counts, the matmul part is exact and attention is never counted differently."""
    counted = counted_flops(stage_call(tiny, stage, 3, 7, 2, ShareLast(), False))
    assert counted in (stage_matmul_flops(TINY, stage, 3, 2), stage_flops(TINY, stage, 3, 7, 2))


@settings(max_examples=8, deadline=None)
@given(shape=shapes, policy=st.sampled_from(POLICIES), per_query=st.booleans())
def test_huginn_flops_equal_flop_counter_on_meta(huginn_meta, counted_flops, shape, policy, per_query):
    width, extra, batch = shape
    context = width + 100 * extra
    for stage in Stage:
        counted = counted_flops(stage_call(huginn_meta, stage, width, context, batch, policy, per_query))
        assert counted == stage_flops(HUGINN_0125, stage, width, context, batch), stage


@pytest.mark.parametrize("config_name", ["tiny", "huginn_meta"])
def test_forward_flops(config_name, request, counted_flops):
    model = request.getfixturevalue(config_name)
    cfg, b, s, r = model.config, 2, 5, 3
    ids = torch.zeros(b, s, dtype=torch.long, device=model.device)
    with sdpa_kernel(SDPBackend.MATH):
        counted = counted_flops(lambda: model(ids, num_steps=r))
    expected = prelude_flops(cfg, s, s, b) + r * core_step_flops(cfg, s, s, b) + coda_flops(cfg, s, s, b) \
        + head_flops(cfg, s, b)
    assert counted == expected
    assert counted == sum(pass_flops(cfg, Pass(st_, s, s, b, r if st_ is Stage.CORE else 1)) for st_ in Stage)


def test_attention_is_priced_over_every_key():
    assert attention_flops(HUGINN_0125, 3, 10, 2) == 4 * 2 * 3 * 10 * 5280
    assert stage_flops(HUGINN_0125, Stage.CORE, 1, 20, 1) - stage_flops(HUGINN_0125, Stage.CORE, 1, 10, 1) \
        == 4 * 10 * 5280 * 4


def test_huginn_flops_per_token_match_the_reference_formula():
    """2 (1.93e9 + 1.637e9 r) non-attention FLOPs per token: prelude + coda + head, and one core step."""
    fixed = stage_matmul_flops(HUGINN_0125, Stage.EMBED, 1, 1) + stage_matmul_flops(HUGINN_0125, Stage.DECODE, 1, 1)
    per_step = stage_matmul_flops(HUGINN_0125, Stage.CORE, 1, 1)
    assert fixed == 2 * 1_927_495_680 and per_step == 2 * 1_637_222_400
    assert round(fixed / 2 / 1e7) == 193 and round(per_step / 2 / 1e6) == 1637
    assert round((fixed + 32 * per_step) / 1e11, 2) == 1.09  # about 0.11 TFLOP per token at r = 32


@pytest.mark.parametrize("tied", [True, False])
def test_parameter_counts_match_the_modules(tied):
    cfg = TINY.replace(tie_embeddings=tied)
    model = RecurrentDepthLM(cfg)
    t = model.transformer
    numel = lambda *mods: sum(p.numel() for m in mods for p in m.parameters())  # noqa: E731
    assert stage_params(cfg, Stage.EMBED) == numel(t.prelude)
    assert stage_params(cfg, Stage.CORE) == numel(t.adapter, t.core_block)
    assert stage_params(cfg, Stage.DECODE) == numel(t.coda, t.ln_f, model.lm_head)
    assert total_params(cfg) == model.num_parameters()
    assert total_params(HUGINN_0125) == 3_564_976_800


@settings(max_examples=15, deadline=None)
@given(shape=shapes, stage=st.sampled_from(Stage), policy=st.sampled_from(POLICIES), per_query=st.booleans(),
       dtype=st.sampled_from([torch.float32, torch.bfloat16]))
def test_traffic_equals_tensor_sizes(shape, stage, policy, per_query, dtype):
    width, extra, batch = shape
    context = width + extra
    torch.manual_seed(0)
    model = RecurrentDepthLM(TINY).to(dtype)
    call = stage_call(model, stage, width, context, batch, policy, per_query)
    recorder = TrafficRecorder(dtype)
    with recorder, torch.no_grad():
        call()
    e = dtype_bytes(dtype)
    per_query_path = per_query and policy.per_step and stage is Stage.CORE
    traffic = stage_traffic(TINY, stage, width, context, batch, dtype, per_query_path)
    assert recorder.attention_calls == {Stage.EMBED: 1, Stage.CORE: 2, Stage.DECODE: 1}[stage]
    assert recorder.mm_weight == stage_matmul_flops(TINY, stage, 1, 1) // 2 * e
    assert traffic.weight_bytes == stage_params(TINY, stage) * e + recorder.gathered
    assert traffic.activation_bytes == recorder.activation
    assert traffic.kv_read_bytes == recorder.kv_read
    assert traffic.kv_write_bytes == recorder.kv_write


def test_per_query_keys_multiply_reads_by_width():
    shared = stage_traffic(HUGINN_0125, Stage.CORE, 8, 1000, 2, "bfloat16")
    per_query = stage_traffic(HUGINN_0125, Stage.CORE, 8, 1000, 2, "bfloat16", per_query_kv=True)
    assert per_query.kv_read_bytes == 8 * shared.kv_read_bytes == 8 * 4 * 2 * 1000 * 21_120
    assert per_query.weight_bytes == shared.weight_bytes and per_query.kv_write_bytes == shared.kv_write_bytes
    # Only the core stage has per-query reads: prelude and coda slots are shared by every recurrence.
    assert stage_traffic(HUGINN_0125, Stage.DECODE, 8, 1000, 2, "bfloat16", True) == \
        stage_traffic(HUGINN_0125, Stage.DECODE, 8, 1000, 2, "bfloat16")


def test_pass_repeat_scales_linearly():
    p = Pass(Stage.CORE, 3, 9, 2, repeat=5)
    single = Pass(Stage.CORE, 3, 9, 2)
    assert pass_flops(HUGINN_0125, p) == 5 * pass_flops(HUGINN_0125, single)
    assert pass_traffic(HUGINN_0125, p, "bfloat16") == pass_traffic(HUGINN_0125, single, "bfloat16").times(5)


def test_dtype_names_and_torch_dtypes():
    assert dtype_bytes("bfloat16") == dtype_bytes(torch.bfloat16) == 2
    assert dtype_bytes(torch.float64) == 8
    with pytest.raises(ValueError, match="dtype=.*int8.* is not supported"):
        dtype_bytes(torch.int8)


@pytest.mark.parametrize("kwargs, message", [
    (dict(width=0, context=1), "width=0 must be an int >= 1"),
    (dict(width=4, context=3), "context=3 must be an int >= width=4"),
    (dict(width=1, context=1, batch=0), "batch=0 must be an int >= 1"),
    (dict(width=1, context=1, repeat=1.5), "repeat=1.5 must be an int >= 1"),
])
def test_pass_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Pass(Stage.CORE, **kwargs)


def test_stage_parts_add_up():
    cfg, e = HUGINN_0125, 2
    head = head_traffic(cfg, 3, 2, "bfloat16")
    assert head.weight_bytes == (65_536 * 5280 + 5280) * e and head.activation_bytes == 2 * 3 * (5280 + 65_536) * e
    assert stage_traffic(cfg, Stage.DECODE, 3, 50, 2, "bfloat16") == coda_traffic(cfg, 3, 50, 2, "bfloat16") + head
    attention = attention_traffic(cfg, 3, 50, 2, "bfloat16")
    assert (attention.kv_read_bytes, attention.kv_write_bytes) == (2 * 50 * 21_120, 2 * 3 * 21_120)
    block = block_traffic(cfg, 3, 50, 2, "bfloat16")
    assert block.weight_bytes == 395_398_080 * e
    assert block.activation_bytes == 2 * 3 * (10 * 5280 + 3 * 17_920) * e
