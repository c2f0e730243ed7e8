"""Randomness keyed by position: every random number is a pure function of (seed, row, position, draw, stream).

A sampler never consumes a random stream in call order. The initial state of position p in row b, the n-th noise
draw mixed into it, and the random numbers used to sample the token at p are functions of those coordinates only,
so two samplers that touch the same position see the same numbers, on any device, in any batch layout.

The generator is a counter-based hash (murmur3's 32-bit finaliser, chained over the key) evaluated with int64
tensor arithmetic that never overflows, so CPU and GPU give the same bits. Uniforms carry 53 bits and are turned
into float64 normals; the caller casts.
"""

import math
from enum import IntEnum

import torch
from torch import Tensor

_MASK32 = 0xFFFFFFFF


class Stream(IntEnum):
    """Independent random streams; each has its own key space."""

    STATE = 1  # initial latent states and the noise mixed into them
    TOKEN = 2  # token sampling
    PLACEHOLDER = 3  # filler tokens for headway > 1


def _mul32(x: Tensor, c: int) -> Tensor:
    """(x * c) mod 2^32 for 0 <= x < 2^32, split into 16-bit halves so int64 never overflows."""
    lo, hi = c & 0xFFFF, c >> 16
    return (x * lo + (((x * hi) & 0xFFFF) << 16)) & _MASK32


def _fmix32(h: Tensor) -> Tensor:
    h = h ^ (h >> 16)
    h = _mul32(h, 0x85EBCA6B)
    h = h ^ (h >> 13)
    h = _mul32(h, 0xC2B2AE35)
    return h ^ (h >> 16)


def _key(seed: int, stream: Stream, rows: Tensor, pos: Tensor, draw: Tensor) -> Tensor:
    """Hash of the key (seed, stream, row, pos, draw): rows [B, 1], pos and draw [B, W] -> [B, W] int64."""
    h = torch.full_like(pos, ((seed & _MASK32) ^ 0x9E3779B9) & _MASK32)
    for part in (seed >> 32, int(stream)):
        h = _fmix32(h ^ (part & _MASK32))
    for part in (rows, pos, draw):
        h = _fmix32(h ^ (part & _MASK32))
    return h


def keyed_uniform(seed: int, stream: Stream, rows: Tensor, pos: Tensor, draw: Tensor | int, n: int) -> Tensor:
    """Uniform float64 numbers in (0, 1), shape [B, W, n]; element [b, w, i] depends only on
    (seed, stream, rows[b], pos[b, w], draw[b, w], i).

    rows: [B] long; pos: [B, W] long; draw: [B, W] long or an int.
    """
    if isinstance(draw, int):
        draw = torch.full_like(pos, draw)
    key = _key(seed, stream, rows[:, None].to(pos), pos, draw)[..., None]
    index = torch.arange(n, device=pos.device, dtype=torch.int64)
    h = _fmix32(key ^ _fmix32(index))
    high = _fmix32(h ^ 0x68E31DA4) >> 5  # 27 bits
    low = _fmix32(h ^ 0xB5297A4D) >> 6  # 26 bits
    return ((high << 26) + low + 0.5).to(torch.float64) / 2.0**53


# Phi(3) - Phi(-3) and Phi(-3): the mass and the lower edge of a standard normal truncated at +-3.
_PHI_LOW = 0.5 * math.erfc(3 / math.sqrt(2))
_PHI_MASS = 1.0 - 2.0 * _PHI_LOW


def truncated_normal(u: Tensor) -> Tensor:
    """Map uniforms in (0, 1) to a standard normal truncated at +-3 by the inverse CDF."""
    p = _PHI_LOW + u * _PHI_MASS
    return math.sqrt(2.0) * torch.special.erfinv(2.0 * p - 1.0)


def initial_states(
    n_embd: int, init_scale: float, seed: int, rows: Tensor, pos: Tensor, draw: Tensor | int, dtype: torch.dtype
) -> Tensor:
    """Huginn's state initialisation, keyed: a normal of std sqrt(2/(5h)) * init_scale truncated at 3 std, times
    sqrt(h), i.e. std sqrt(2/5) * init_scale. Zero when init_scale is 0. Returns [B, W, n_embd] in dtype.

    Draw 0 is a position's initial state; draw n >= 1 is the n-th noise sample mixed into it.
    """
    if init_scale == 0:
        return torch.zeros(*pos.shape, n_embd, dtype=dtype, device=pos.device)
    z = truncated_normal(keyed_uniform(seed, Stream.STATE, rows, pos, draw, n_embd))
    return (z * (init_scale * math.sqrt(2.0 / 5.0))).to(dtype)
