"""The transformer layers of a Huginn-style model: RMSNorm, rotary embedding, attention, gated MLP, sandwich block.

These modules know nothing about recurrence, caching policy or sampling. Attention receives a `Chunk` (which
absolute positions the rows hold) and, when a cache is in use, a `KVAccess` that stores this chunk's keys and
returns the keys it may attend to. Module and parameter names reproduce Huginn's state-dict keys.
"""

import math
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rdtheory.config import ModelConfig

# Any position value at or above this is "not a real position": padding queries see every key, and padding keys
# are seen by nobody, because visibility is the single rule key_pos <= query_pos.
NO_POSITION = 2**40


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """Norms and rotary run in float32 for low-precision models and in float64 for float64 models."""
    return torch.float64 if dtype == torch.float64 else torch.float32


class RMSNorm(nn.Module):
    """x * rsqrt(mean(x^2) + eps), computed in float32 (float64 for float64 inputs), cast back, then scaled."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        normed = F.rms_norm(x.to(compute_dtype(x.dtype)), (x.shape[-1],), eps=self.eps)
        return normed.to(x.dtype) * self.weight


def rotary_table(config: ModelConfig, dtype: torch.dtype = torch.float32) -> Tensor:
    """cos and sin of pos * base^(-2i/head_dim) for every position: [1, block_size, 1, head_dim/2, 2].

    This is the layout of Huginn's persistent `freqs_cis` buffer. For float64 the angles are computed in float64
    (the exact table, which float64 models use). For any other dtype the table is computed as Huginn computes it,
    every step in float32 (inverse frequencies, positions, their outer product, cos and sin), then cast: the
    float32 table differs from the exact one by up to ~4e-4 at position 4095, and Huginn's weights were trained
    with the float32 one.
    """
    work = torch.float64 if dtype == torch.float64 else torch.float32
    inv_freq = 1.0 / (config.rope_base ** (torch.arange(0, config.head_dim, 2, dtype=work) / config.head_dim))
    angles = torch.outer(torch.arange(config.block_size, dtype=work), inv_freq)
    table = torch.stack([angles.cos(), angles.sin()], dim=-1)
    return table[None, :, None].to(dtype)


# A stored table may differ from our float32 computation by a few float32 ulps of the angle, because pow, cos and
# sin round differently across platforms and libraries: at position 4095 an angle of ~4095 carries an ulp of 2.4e-4
# and a one-ulp change of an inverse frequency moves it by as much again, so cos and sin can move by ~5e-4. The
# float64 table cast to float32 is 3.6e-4 away (head_dim 96). A table for another rope_base, or in another layout
# (sin before cos, rotate-half order), is O(1) away at late positions, so 1e-3 separates the two cases.
ROTARY_TOLERANCE = 1e-3


def check_rotary_table(table: Tensor, config: ModelConfig) -> None:
    """Raise ValueError unless `table` is a float32 `freqs_cis` for `config`: shape [1, block_size, 1,
    head_dim/2, 2], finite, within ROTARY_TOLERANCE of Huginn's float32 computation for config.rope_base."""
    shape = (1, config.block_size, 1, config.head_dim // 2, 2)
    if tuple(table.shape) != shape:
        raise ValueError(f"freqs_cis has shape {list(table.shape)}; the config needs {list(shape)}")
    if table.dtype != torch.float32:
        raise ValueError(f"freqs_cis has dtype {table.dtype}; Huginn's table is float32")
    if not bool(torch.isfinite(table).all()):
        raise ValueError("freqs_cis holds non-finite values")
    err = (table.detach().cpu().double() - rotary_table(config, torch.float32).double()).abs().max().item()
    if err > ROTARY_TOLERANCE:
        raise ValueError(f"freqs_cis differs from the rotary table for rope_base={config.rope_base} by {err:.3g} "
                         f"(tolerance {ROTARY_TOLERANCE}); the config does not describe this table")


def apply_rotary(x: Tensor, rot: Tensor) -> Tensor:
    """Rotate interleaved pairs (x[2i], x[2i+1]) as complex numbers: (a, b) -> (a cos - b sin, b cos + a sin).

    x: [..., D]; rot: [..., D/2, 2] (cos, sin) broadcastable to x's pairs, in the compute dtype. Eager code
    multiplies complex views (fewer kernels); compiled code spells the product out, which the compiler fuses.
    """
    pairs = x.to(rot.dtype).unflatten(-1, (-1, 2))
    if torch.compiler.is_compiling():
        a, b, cos, sin = pairs[..., 0], pairs[..., 1], rot[..., 0], rot[..., 1]
        rotated = torch.stack([a * cos - b * sin, b * cos + a * sin], dim=-1)
    else:
        rotated = torch.view_as_real(torch.view_as_complex(pairs.contiguous()) * torch.view_as_complex(rot))
    return rotated.flatten(-2).to(x.dtype)


@dataclass
class Chunk:
    """The positions one forward call processes: row b, column w holds absolute position pos[b, w].

    pos: [B, W] long, valid: [B, W] bool; query_pos equals pos where valid and NO_POSITION elsewhere;
    rot: [B, W, 1, head_dim/2, 2] rotary cos and sin at pos; kv_len: how many cached positions attention reads.
    The masks are computed once per chunk and shared by every layer: self_mask [B, 1, W, W] for attention within
    the chunk, cache_mask [B, 1, W, kv_len] for attention over cached positions (key l visible iff l <= pos).
    """

    pos: Tensor
    valid: Tensor
    query_pos: Tensor
    rot: Tensor
    kv_len: int
    self_mask: Tensor
    cache_mask: Tensor

    @property
    def width(self) -> int:
        return self.pos.shape[1]


class KVAccess(Protocol):
    """Stores this chunk's keys and values for one layer, and returns what the chunk may attend to."""

    def exchange(self, k: Tensor, v: Tensor, chunk: Chunk) -> tuple[Tensor, Tensor, Tensor]:
        """k, v: [B, H, W, D]. Returns keys, values [B, H, L, D] and a boolean mask [B, 1, W, L], or per-query
        keys, values [B, W, H, L, D] and a mask [B, W, 1, L]."""
        ...


def make_chunk(pos: Tensor, valid: Tensor, rot_table: Tensor, kv_len: int) -> Chunk:
    """A chunk at positions pos [B, W] (rot_table: cos and sin by position, [block_size, D/2, 2]).

    Padding sits at NO_POSITION: it sees every key (so no softmax row is empty) and no real query sees it."""
    safe = torch.where(valid, pos, 0)
    query_pos = torch.where(valid, pos, NO_POSITION)
    return Chunk(
        pos=safe,
        valid=valid,
        query_pos=query_pos,
        rot=rot_table[safe][:, :, None],
        kv_len=kv_len,
        self_mask=query_pos[:, None, None, :] <= query_pos[:, None, :, None],
        cache_mask=torch.arange(kv_len, device=pos.device) <= query_pos[:, None, :, None],
    )


def chunk_self_kv(k: Tensor, v: Tensor, chunk: Chunk) -> tuple[Tensor, Tensor, Tensor]:
    """Attention within the chunk only (no cache): key w' is visible to query w iff pos[w'] <= pos[w]."""
    return k, v, chunk.self_mask


class Attention(nn.Module):
    """Multi-head attention with a learned additive q/k bias applied before interleaved rotary embedding."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.n_heads, self.head_dim = config.n_heads, config.head_dim
        self.Wqkv = nn.Linear(config.n_embd, 3 * config.n_embd, bias=False)
        if config.qk_bias:
            self.qk_bias = nn.Parameter(torch.zeros(2, 1, config.n_heads, config.head_dim))
        else:
            self.qk_bias = None
        self.proj = nn.Linear(config.n_embd, config.n_embd, bias=False)

    def qkv(self, x: Tensor, chunk: Chunk) -> tuple[Tensor, Tensor, Tensor]:
        """[B, W, h] -> q, k, v as [B, H, W, D], with bias and rotary applied to q and k (together)."""
        qkv = self.Wqkv(x).unflatten(-1, (3, self.n_heads, self.head_dim))
        qk = qkv[:, :, :2]
        if self.qk_bias is not None:
            qk = qk + self.qk_bias[:, 0]
        q, k = apply_rotary(qk, chunk.rot[:, :, None]).unbind(dim=2)
        return q.transpose(1, 2), k.transpose(1, 2), qkv[:, :, 2].transpose(1, 2)

    def forward(self, x: Tensor, chunk: Chunk, kv: KVAccess | None) -> Tensor:
        q, k, v = self.qkv(x, chunk)
        keys, values, mask = chunk_self_kv(k, v, chunk) if kv is None else kv.exchange(k, v, chunk)
        out = attend(q, keys, values, mask)
        return self.proj(out.transpose(1, 2).flatten(-2))


def attend(q: Tensor, keys: Tensor, values: Tensor, mask: Tensor) -> Tensor:
    """Scaled dot-product attention with scale 1/sqrt(D); q: [B, H, W, D]. Returns [B, H, W, D].

    Keys shared by all queries come as [B, H, L, D]; per-query keys (a different cache slot for each query)
    come as [B, W, H, L, D] with a mask [B, W, 1, L].
    """
    if keys.dim() == 4:
        return F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
    b, h, w, d = q.shape
    per_query = q.permute(0, 2, 1, 3).reshape(b * w, h, 1, d)
    out = F.scaled_dot_product_attention(
        per_query, keys.flatten(0, 1), values.flatten(0, 1), attn_mask=mask.flatten(0, 1)[:, :, None, :]
    )
    return out.reshape(b, w, h, d).permute(0, 2, 1, 3)


class GatedMLP(nn.Module):
    """proj(SiLU(gate) * up), with gate and up the two halves of one fc projection."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.fc = nn.Linear(config.n_embd, 2 * config.intermediate_size, bias=False)
        self.proj = nn.Linear(config.intermediate_size, config.n_embd, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        gate, up = self.fc(x).chunk(2, dim=-1)
        return self.proj(F.silu(gate) * up)


class SandwichBlock(nn.Module):
    """x <- norm_2(x + attn(norm_1 x)); x <- norm_4(x + mlp(norm_3 x)): pre- and post-norm on the residual."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.norm_1 = RMSNorm(config.n_embd, config.norm_eps)
        self.attn = Attention(config)
        self.norm_2 = RMSNorm(config.n_embd, config.norm_eps)
        self.norm_3 = RMSNorm(config.n_embd, config.norm_eps)
        self.mlp = GatedMLP(config)
        self.norm_4 = RMSNorm(config.n_embd, config.norm_eps)

    def forward(self, x: Tensor, chunk: Chunk, kv: KVAccess | None) -> Tensor:
        x = self.norm_2(x + self.attn(self.norm_1(x), chunk, kv))
        return self.norm_4(x + self.mlp(self.norm_3(x)))


def init_huginn_weights(module: nn.Module, config: ModelConfig) -> None:
    """Huginn's "takase" initialisation: truncated normals of std sqrt(2/(5h)) (cut at 3 std), output projections
    of attention and MLP divided by sqrt(2 * effective depth), norms at one, q/k bias at zero."""
    std = config.init_std
    out_std = std / math.sqrt(2 * config.effective_expected_depth)
    outputs = {id(m.proj) for m in module.modules() if isinstance(m, (Attention, GatedMLP))}
    for m in module.modules():
        if isinstance(m, RMSNorm):
            nn.init.ones_(m.weight)
        elif isinstance(m, Attention) and m.qk_bias is not None:
            nn.init.zeros_(m.qk_bias)
        elif isinstance(m, (nn.Linear, nn.Embedding)):
            s = out_std if id(m) in outputs else std
            nn.init.trunc_normal_(m.weight, std=s, a=-3 * s, b=3 * s)
