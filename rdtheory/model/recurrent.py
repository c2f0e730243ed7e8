"""RecurrentDepthLM: the only place where prelude, recurrent core and coda meet.

The stages are separate methods so that samplers can drive them: `embed` (scaled embedding and prelude),
`core_step` (one recurrence: adapter on [state; embeds], then the core blocks), `decode` (ln_f, coda, ln_f, head)
and `initial_state`. `forward` is the plain uncached composition at a fixed depth. The module tree reproduces
Huginn's state-dict names (`transformer.wte`, `transformer.prelude.{i}`, `transformer.adapter`,
`transformer.core_block.{j}`, `transformer.coda.{i}`, `transformer.ln_f`, `lm_head`).
"""

from collections.abc import Callable

import torch
from torch import Tensor, nn

from rdtheory.config import ModelConfig
from rdtheory.model.cache import KVCache
from rdtheory.model.layers import (
    Chunk,
    KVAccess,
    RMSNorm,
    SandwichBlock,
    check_rotary_table,
    compute_dtype,
    init_huginn_weights,
    make_chunk,
    rotary_table,
)
from rdtheory.model.noise import initial_states

SUPPORTED_DTYPES = (torch.float32, torch.float64, torch.bfloat16)


class RecurrentDepthLM(nn.Module):
    """A Huginn-style recurrent-depth language model."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),
                prelude=nn.ModuleList(SandwichBlock(config) for _ in range(config.n_layers_in_prelude)),
                adapter=nn.Linear(2 * config.n_embd, config.n_embd, bias=False),
                core_block=nn.ModuleList(SandwichBlock(config) for _ in range(config.n_layers_in_recurrent_block)),
                coda=nn.ModuleList(SandwichBlock(config) for _ in range(config.n_layers_in_coda)),
                ln_f=RMSNorm(config.n_embd, config.norm_eps),
            )
        )
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.lm_head.weight = self.transformer.wte.weight
        # A plain float32 CPU attribute, not a buffer: model.to(torch.bfloat16) must not quantise it.
        self._freqs_cis: Tensor | None = None
        self._rotary: dict[tuple[torch.device, torch.dtype], Tensor] = {}
        self._block = _run_block
        if self.lm_head.weight.device.type != "meta":
            self.reset_parameters()

    def compile_blocks(self, enabled: bool = True) -> "RecurrentDepthLM":
        """Run every sandwich block through one `torch.compile`d function, which fuses each block's elementwise
        work (norms, rotary, bias, gating, residuals) into few kernels; shapes it has seen reuse its code. Numerics
        change only by rounding. Pass False to return to eager blocks."""
        self._block = _compiled_block() if enabled else _run_block
        return self

    def reset_parameters(self) -> None:
        init_huginn_weights(self, self.config)

    @property
    def dtype(self) -> torch.dtype:
        return self.transformer.adapter.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.transformer.adapter.weight.device

    def num_parameters(self) -> int:
        """Unique parameters (a tied embedding counts once)."""
        return sum(p.numel() for p in self.parameters())

    # --------------------------------------------------------------------------------------------------- chunks

    def chunk(self, pos: Tensor, valid: Tensor | None = None, kv_len: int | None = None) -> Chunk:
        """Describe a forward call over absolute positions pos [B, W]; padding entries have valid False.

        kv_len is how many cached positions attention reads (default: one past the largest position).
        """
        if valid is None:
            valid = torch.ones_like(pos, dtype=torch.bool)
        if kv_len is None:
            kv_len = int(torch.where(valid, pos, 0).max()) + 1
        return make_chunk(pos, valid, self.rotations(pos.device), kv_len)

    def rotations(self, device: torch.device) -> Tensor:
        """Rotary cos and sin for every position, [block_size, head_dim/2, 2], in the compute precision.

        float32 and bfloat16 models use `freqs_cis()` (the checkpoint's table, else Huginn's float32 computation);
        float64 models use the exact float64 table, which the float64 exactness tests depend on."""
        key = (device, compute_dtype(self.dtype))
        if key not in self._rotary:
            table = rotary_table(self.config, torch.float64) if key[1] == torch.float64 else self.freqs_cis()
            self._rotary[key] = table[0, :, 0].to(device=device, dtype=key[1])
        return self._rotary[key]

    def freqs_cis(self) -> Tensor:
        """The float32 rotary table [1, block_size, 1, head_dim/2, 2] of this model: the one given to
        `use_rotary_table` (a checkpoint's stored table), else Huginn's float32 computation."""
        if self._freqs_cis is None:
            return rotary_table(self.config, torch.float32)
        return self._freqs_cis

    def use_rotary_table(self, table: Tensor) -> "RecurrentDepthLM":
        """Use `table` (a checkpoint's `freqs_cis`) for float32 and bfloat16 compute. It is validated against the
        config (`check_rotary_table`: shape, float32, finite, within tolerance of the float32 computation)."""
        check_rotary_table(table, self.config)
        self._freqs_cis = table.detach().to("cpu").clone()
        self._rotary.clear()
        return self

    # --------------------------------------------------------------------------------------------------- stages

    def embed(self, ids: Tensor, chunk: Chunk, cache: KVCache | None = None) -> Tensor:
        """Scaled token embedding followed by the prelude: ids [B, W] -> e [B, W, h]."""
        x = self.transformer.wte(ids) * self.config.embed_scale
        for i, block in enumerate(self.transformer.prelude):
            x = self._block(block, x, chunk, None if cache is None else cache.prelude(i))
        return x

    def core_step(
        self, state: Tensor, embeds: Tensor, chunk: Chunk, cache: KVCache | None = None, step: int | Tensor = 1
    ) -> Tensor:
        """One recurrence: adapter on [state; embeds], then the core blocks. `step` is the 1-based recurrence
        index this application produces (per entry as a [B, W] tensor, or one int); it addresses PerStep slots."""
        x = self.transformer.adapter(torch.cat([state, embeds], dim=-1))
        for j, block in enumerate(self.transformer.core_block):
            x = self._block(block, x, chunk, None if cache is None else cache.core(j, step))
        return x

    def decode(self, state: Tensor, chunk: Chunk, cache: KVCache | None = None) -> Tensor:
        """ln_f, coda, ln_f, head: state [B, W, h] -> logits [B, W, V] in float32 (float64 for float64 models)."""
        x = self.transformer.ln_f(state)
        for i, block in enumerate(self.transformer.coda):
            x = self._block(block, x, chunk, None if cache is None else cache.coda(i))
        x = self.transformer.ln_f(x)
        return self.lm_head(x).to(compute_dtype(self.dtype))

    def initial_state(
        self, chunk: Chunk, init_scale: float, seed: int, rows: Tensor, draw: Tensor | int = 0
    ) -> Tensor:
        """Position-keyed initial states (draw 0) or noise samples (draw >= 1): [B, W, h]."""
        return initial_states(self.config.n_embd, init_scale, seed, rows, chunk.pos, draw, self.dtype)

    # --------------------------------------------------------------------------------------------------- forward

    def forward(
        self, ids: Tensor, num_steps: int | None = None, init_scale: float = 0.0, seed: int = 0
    ) -> tuple[Tensor, Tensor]:
        """Uncached full forward at a fixed depth: ids [B, S] -> (logits [B, S, V], latents [B, S, h]).

        The latents are the raw core states after the last recurrence (before ln_f). Rows are keyed 0..B-1 for the
        initial state.
        """
        depth = self.config.mean_recurrence if num_steps is None else num_steps
        b, s = ids.shape
        pos = torch.arange(s, device=ids.device).expand(b, s)
        chunk = self.chunk(pos, kv_len=s)
        e = self.embed(ids, chunk)
        state = self.initial_state(chunk, init_scale, seed, torch.arange(b, device=ids.device))
        for k in range(1, depth + 1):
            state = self.core_step(state, e, chunk, step=k)
        return self.decode(state, chunk), state


def _run_block(block: SandwichBlock, x: Tensor, chunk: Chunk, kv: KVAccess | None) -> Tensor:
    return block(x, chunk, kv)


_COMPILED: list = []


def _compiled_block() -> Callable[..., Tensor]:
    if not _COMPILED:
        _COMPILED.append(torch.compile(_run_block))
    return _COMPILED[0]
