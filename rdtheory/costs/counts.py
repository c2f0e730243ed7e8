"""FLOPs and bytes moved by one call of a stage of a recurrent-depth model, as pure functions of shapes.

Owns the vocabulary of work: a `Stage` is one model call (embed, one core step, decode) and a `Pass` is one such
call over W positions per row, reading a context of L cached positions per row, for B rows. Knows nothing about
hardware, time, samplers or torch.

Counting conventions (h = n_embd, I = intermediate_size, V = vocab_size):

* FLOPs follow `torch.utils.flop_counter.FlopCounterMode`: a multiply-add is 2 FLOPs, only matrix products and
  attention are counted (norms, rotary, SiLU, softmax, the embedding lookup and dtype casts are 0), and attention
  is priced over every one of its L keys: a mask does not reduce the count. This is what FlopCounterMode reports
  for the model's calls on the meta device, on CUDA and with the math attention backend; on CPU, torch's fused
  attention kernel has no FlopCounterMode formula and counts 0.
* Bytes are what an implementation with fused elementwise operations must move between device memory and the chip:
  every weight of the stage once per call (independent of W and B), the keys and values attention reads and the
  ones the call writes, and the inputs and outputs of every matrix product and attention call. Intermediate
  elementwise results (norms, rotary, the gate product) are assumed fused and not counted, and so is the copy of
  keys that the `PerStep` cache gathers before attention; calibration absorbs what the implementation adds.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from rdtheory.config import ModelConfig
from rdtheory.knobs.kv import KVPolicy

DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "float32": 4, "float64": 8}


def dtype_bytes(dtype: object) -> int:
    """Bytes per element of a dtype given by name ("bfloat16") or as a torch dtype (str() is "torch.bfloat16")."""
    name = str(dtype).removeprefix("torch.")
    if name not in DTYPE_BYTES:
        raise ValueError(f"dtype={dtype!r} is not supported; use one of {sorted(DTYPE_BYTES)}")
    return DTYPE_BYTES[name]


class Stage(Enum):
    """One model call: EMBED = embedding x sqrt(h) and prelude blocks; CORE = adapter Linear(2h -> h) on
    [state; embeds] and the core blocks (one recurrence); DECODE = ln_f, coda blocks, ln_f, lm_head."""

    EMBED = "embed"
    CORE = "core"
    DECODE = "decode"


KVSharing = KVPolicy
"""The KV-sharing policies the costs price (`rdtheory.knobs.kv`: `ShareLast()`, `PerStep()`); the earlier name."""


@dataclass(frozen=True)
class Pass:
    """`repeat` identical calls of `stage` over `width` positions per row, each reading `context` cached positions
    per row (the model's kv_len), for `batch` rows. `per_query_kv`: every query reads its own L keys, as attention
    does under `PerStep` when the positions of one call sit at different recurrence steps (a wavefront)."""

    stage: Stage
    width: int
    context: int
    batch: int = 1
    repeat: int = 1
    per_query_kv: bool = False

    def __post_init__(self) -> None:
        for name in ("width", "batch", "repeat"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} must be an int >= 1")
        if not isinstance(self.context, int) or self.context < self.width:
            raise ValueError(f"context={self.context!r} must be an int >= width={self.width}: the W positions of a "
                             "call are among the L positions its attention reads")


# ------------------------------------------------------------------------------------------------- parameters

def block_matmul_params(config: ModelConfig) -> int:
    """Weights of one sandwich block that multiply activations: Wqkv 3h^2 + proj h^2 + fc 2hI + proj hI."""
    h, i = config.n_embd, config.intermediate_size
    return 4 * h * h + 3 * h * i


def block_params(config: ModelConfig) -> int:
    """All parameters of one sandwich block: matmul weights + 4 norm weights (4h) + q/k bias (2h if used)."""
    h = config.n_embd
    return block_matmul_params(config) + 4 * h + (2 * h if config.qk_bias else 0)


def stage_params(config: ModelConfig, stage: Stage) -> int:
    """Parameters a call of `stage` reads in full. EMBED: prelude blocks (the embedding rows it gathers are counted
    per position, see `stage_traffic`); CORE: adapter 2h^2 + core blocks; DECODE: coda blocks + ln_f h + head Vh."""
    h = config.n_embd
    if stage is Stage.EMBED:
        return config.n_layers_in_prelude * block_params(config)
    if stage is Stage.CORE:
        return 2 * h * h + config.n_layers_in_recurrent_block * block_params(config)
    return config.n_layers_in_coda * block_params(config) + h + config.vocab_size * h


def total_params(config: ModelConfig) -> int:
    """Unique parameters: the three stages, plus the embedding Vh unless it is tied to (is) the head."""
    embedding = 0 if config.tie_embeddings else config.vocab_size * config.n_embd
    return sum(stage_params(config, s) for s in Stage) + embedding


def attention_layers(config: ModelConfig, stage: Stage) -> int:
    """Attention layers (equivalently KV-cache slots) one call of `stage` uses."""
    return {Stage.EMBED: config.n_layers_in_prelude, Stage.CORE: config.n_layers_in_recurrent_block,
            Stage.DECODE: config.n_layers_in_coda}[stage]


# ------------------------------------------------------------------------------------------------------ FLOPs

def linear_flops(tokens: int, d_in: int, d_out: int) -> int:
    """A bias-free linear layer over `tokens` rows: 2 * tokens * d_in * d_out."""
    return 2 * tokens * d_in * d_out


def attention_flops(config: ModelConfig, width: int, context: int, batch: int) -> int:
    """One attention layer: QK^T and AV over all L keys, 2 * 2 * B * W * L * h (= 4 B H W L D)."""
    return 4 * batch * width * context * config.n_embd


def stage_matmul_flops(config: ModelConfig, stage: Stage, width: int, batch: int) -> int:
    """Matrix products of one call, 2 * B * W * (its matmul weights):
    EMBED  2BW * n_prelude (4h^2 + 3hI);   CORE  2BW * (2h^2 + n_core (4h^2 + 3hI));
    DECODE 2BW * (n_coda (4h^2 + 3hI) + hV)."""
    h = config.n_embd
    weights = attention_layers(config, stage) * block_matmul_params(config)
    if stage is Stage.CORE:
        weights += 2 * h * h
    elif stage is Stage.DECODE:
        weights += h * config.vocab_size
    return 2 * batch * width * weights


def stage_attention_flops(config: ModelConfig, stage: Stage, width: int, context: int, batch: int) -> int:
    """Attention of one call: (attention layers of the stage) * 4 B W L h."""
    return attention_layers(config, stage) * attention_flops(config, width, context, batch)


def stage_flops(config: ModelConfig, stage: Stage, width: int, context: int, batch: int) -> int:
    """FLOPs of one call of `stage`: matmuls + attention (what FlopCounterMode counts for that model call)."""
    return (stage_matmul_flops(config, stage, width, batch)
            + stage_attention_flops(config, stage, width, context, batch))


def prelude_flops(config: ModelConfig, width: int, context: int, batch: int = 1) -> int:
    """`RecurrentDepthLM.embed`: the prelude blocks (the scaled lookup is free)."""
    return stage_flops(config, Stage.EMBED, width, context, batch)


def core_step_flops(config: ModelConfig, width: int, context: int, batch: int = 1) -> int:
    """`RecurrentDepthLM.core_step`: adapter + core blocks."""
    return stage_flops(config, Stage.CORE, width, context, batch)


def coda_flops(config: ModelConfig, width: int, context: int, batch: int = 1) -> int:
    """The coda blocks of `RecurrentDepthLM.decode`: n_coda * (2BW(4h^2 + 3hI) + 4BWLh)."""
    per_block = 2 * batch * width * block_matmul_params(config) + attention_flops(config, width, context, batch)
    return config.n_layers_in_coda * per_block


def head_flops(config: ModelConfig, width: int, batch: int = 1) -> int:
    """The lm_head of `RecurrentDepthLM.decode`: 2 B W h V."""
    return linear_flops(batch * width, config.n_embd, config.vocab_size)


def pass_flops(config: ModelConfig, p: Pass) -> int:
    """repeat * stage_flops(stage, W, L, B)."""
    return p.repeat * stage_flops(config, p.stage, p.width, p.context, p.batch)


# ------------------------------------------------------------------------------------------------------ bytes

@dataclass(frozen=True)
class Traffic:
    """Bytes one or more calls move, by kind. `total_bytes` is what the memory roofline prices."""

    weight_bytes: int
    kv_read_bytes: int
    kv_write_bytes: int
    activation_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.weight_bytes + self.kv_read_bytes + self.kv_write_bytes + self.activation_bytes

    def __add__(self, other: "Traffic") -> "Traffic":
        return Traffic(self.weight_bytes + other.weight_bytes, self.kv_read_bytes + other.kv_read_bytes,
                       self.kv_write_bytes + other.kv_write_bytes, self.activation_bytes + other.activation_bytes)

    def times(self, n: int) -> "Traffic":
        return Traffic(n * self.weight_bytes, n * self.kv_read_bytes, n * self.kv_write_bytes,
                       n * self.activation_bytes)


def kv_bytes_per_position(config: ModelConfig, dtype: object) -> int:
    """One position's key and value in one layer slot: 2 * h * bytes (21,120 for Huginn-0125 in bf16)."""
    return 2 * config.n_embd * dtype_bytes(dtype)


def attention_traffic(config: ModelConfig, width: int, context: int, batch: int, dtype: object,
                      per_query_kv: bool = False) -> Traffic:
    """One attention layer, c = kv_bytes_per_position, e = element bytes: reads B L c of keys and values (B W L c
    with per-query keys), writes B W c, reads q and writes its output, 2 B W h e."""
    c, e = kv_bytes_per_position(config, dtype), dtype_bytes(dtype)
    readers = width if per_query_kv else 1
    return Traffic(0, batch * readers * context * c, batch * width * c, 2 * batch * width * config.n_embd * e)


def linear_traffic(tokens: int, d_in: int, d_out: int, dtype: object) -> Traffic:
    """A bias-free linear layer: its weight d_in d_out e once, input tokens d_in e, output tokens d_out e."""
    e = dtype_bytes(dtype)
    return Traffic(d_in * d_out * e, 0, 0, tokens * (d_in + d_out) * e)


def block_traffic(config: ModelConfig, width: int, context: int, batch: int, dtype: object,
                  per_query_kv: bool = False) -> Traffic:
    """One sandwich block: Wqkv (h -> 3h), attention, proj (h -> h), fc (h -> 2I), mlp proj (I -> h), and its
    norm weights and q/k bias (block_params - matmul weights); activations 10h + 3I per position."""
    h, i, n = config.n_embd, config.intermediate_size, batch * width
    small = (block_params(config) - block_matmul_params(config)) * dtype_bytes(dtype)
    return (linear_traffic(n, h, 3 * h, dtype) + attention_traffic(config, width, context, batch, dtype, per_query_kv)
            + linear_traffic(n, h, h, dtype) + linear_traffic(n, h, 2 * i, dtype) + linear_traffic(n, i, h, dtype)
            + Traffic(small, 0, 0, 0))


def prelude_traffic(config: ModelConfig, width: int, context: int, batch: int, dtype: object) -> Traffic:
    """`embed`: the gathered embedding rows B W h e (weights) written out as B W h e, then the prelude blocks."""
    gathered = batch * width * config.n_embd * dtype_bytes(dtype)
    return Traffic(gathered, 0, 0, gathered) + block_traffic(config, width, context, batch, dtype).times(
        config.n_layers_in_prelude)


def core_step_traffic(config: ModelConfig, width: int, context: int, batch: int, dtype: object,
                      per_query_kv: bool = False) -> Traffic:
    """`core_step`: the adapter (2h -> h) and the core blocks."""
    adapter = linear_traffic(batch * width, 2 * config.n_embd, config.n_embd, dtype)
    return adapter + block_traffic(config, width, context, batch, dtype, per_query_kv).times(
        config.n_layers_in_recurrent_block)


def coda_traffic(config: ModelConfig, width: int, context: int, batch: int, dtype: object) -> Traffic:
    """The coda blocks of `decode`."""
    return block_traffic(config, width, context, batch, dtype).times(config.n_layers_in_coda)


def head_traffic(config: ModelConfig, width: int, batch: int, dtype: object) -> Traffic:
    """The end of `decode`: the ln_f weight h e and the lm_head (h -> V)."""
    return Traffic(config.n_embd * dtype_bytes(dtype), 0, 0, 0) + linear_traffic(
        batch * width, config.n_embd, config.vocab_size, dtype)


def stage_traffic(config: ModelConfig, stage: Stage, width: int, context: int, batch: int, dtype: object,
                  per_query_kv: bool = False) -> Traffic:
    """Bytes of one call: EMBED prelude_traffic; CORE core_step_traffic (per-query keys only here: prelude and
    coda slots are shared by every recurrence); DECODE coda_traffic + head_traffic. Weights come to
    stage_params * e (plus the gathered embedding rows), independent of W and B."""
    if stage is Stage.EMBED:
        return prelude_traffic(config, width, context, batch, dtype)
    if stage is Stage.CORE:
        return core_step_traffic(config, width, context, batch, dtype, per_query_kv)
    return coda_traffic(config, width, context, batch, dtype) + head_traffic(config, width, batch, dtype)


def stage_bytes(config: ModelConfig, stage: Stage, width: int, context: int, batch: int, dtype: object,
                per_query_kv: bool = False) -> int:
    """Total bytes of one call: `stage_traffic(...).total_bytes`."""
    return stage_traffic(config, stage, width, context, batch, dtype, per_query_kv).total_bytes


def pass_traffic(config: ModelConfig, p: Pass, dtype: object) -> Traffic:
    """repeat * stage_traffic(stage, W, L, B)."""
    return stage_traffic(config, p.stage, p.width, p.context, p.batch, dtype, p.per_query_kv).times(p.repeat)


def total_flops(config: ModelConfig, passes: Iterable[Pass]) -> int:
    """Sum of `pass_flops` over a sequence of passes."""
    return sum(pass_flops(config, p) for p in passes)


def total_traffic(config: ModelConfig, passes: Iterable[Pass], dtype: object) -> Traffic:
    """Sum of `pass_traffic` over a sequence of passes."""
    total = Traffic(0, 0, 0, 0)
    for p in passes:
        total = total + pass_traffic(config, p, dtype)
    return total
