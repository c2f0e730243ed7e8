"""Exit rules: when has a position's latent recurrence done enough work to decode and commit?

Each rule is a frozen dataclass with two methods over a block of positions [B, W]: `start` gives the memory a
position begins with (from its initial state), and `check` returns which positions have converged plus the updated
memory. Memory is a tuple of tensors whose leading dims are [B, W], so a sampler can move it with its positions.
The rules are shared by the adaptive AR sampler (one position per row) and the diffusion-forcing sampler (a
wavefront); how per-position exits turn into commits (contiguous prefix or up to the rightmost converged position)
is the `rightmost` field, used only where there is more than one position.
"""

import math
import numbers
from dataclasses import dataclass

import torch
from torch import Tensor

Memory = tuple[Tensor, ...]


def is_int(value: object) -> bool:
    """An integer that is not a bool: Python ints and numpy integer scalars (both are `numbers.Integral`)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(name: str, value: object, low: int) -> None:
    """The samplers' count check: `value` is an int (not a bool) >= low, else a ValueError naming it."""
    if not is_int(value) or value < low:
        raise ValueError(f"{name}={value!r} must be an int >= {low}")


def _check_eps(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"eps={value!r} must be a number >= 0")
    if not value >= 0:
        raise ValueError(f"eps={value!r} must be >= 0")


def _check_rightmost(value: object) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"rightmost={value!r} must be a bool")


@dataclass(frozen=True)
class ExitRule:
    """Base of all exit rules. `rightmost`: commit everything up to the rightmost converged position (Huginn's
    code and the paper's Algorithm 2) instead of the contiguous converged prefix (the paper's Eq. 3)."""

    needs_logits = False

    def start(self, state: Tensor, vocab_size: int) -> Memory:
        return ()

    def check(self, memory: Memory, state: Tensor, logits: Tensor | None, tokens: Tensor | None,
              depth: Tensor) -> tuple[Tensor, Memory]:
        """state [B, W, h]; logits [B, W, V] and tokens [B, W] where `needs_logits`; depth [B, W] recurrences done.
        Returns converged [B, W] bool and the new memory."""
        raise NotImplementedError


@dataclass(frozen=True)
class FixedDepth(ExitRule):
    """Converged once a position has had `depth` recurrences (the paper's fixed rule, Algorithm 1)."""

    depth: int
    rightmost: bool = False

    def __post_init__(self) -> None:
        check_int("depth", self.depth, 1)
        _check_rightmost(self.rightmost)

    def check(self, memory: Memory, state: Tensor, logits: Tensor | None, tokens: Tensor | None,
              depth: Tensor) -> tuple[Tensor, Memory]:
        return depth >= self.depth, memory


@dataclass(frozen=True)
class LatentDiff(ExitRule):
    """Converged when ||z - z_prev|| / ||z|| < eps, z_prev the state at the previous check (the initial state at
    the first). Per position, over the hidden dimension."""

    eps: float
    rightmost: bool = False

    def __post_init__(self) -> None:
        _check_eps(self.eps)
        _check_rightmost(self.rightmost)

    def start(self, state: Tensor, vocab_size: int) -> Memory:
        return (state,)

    def check(self, memory: Memory, state: Tensor, logits: Tensor | None, tokens: Tensor | None,
              depth: Tensor) -> tuple[Tensor, Memory]:
        (prev,) = memory
        return relative_change(state, prev) < self.eps, (state,)


def relative_change(state: Tensor, prev: Tensor) -> Tensor:
    """||state - prev|| / ||state|| over the last dim, in at least float32."""
    s = state.float() if state.dtype != torch.float64 else state
    return (s - prev.to(s.dtype)).norm(dim=-1) / s.norm(dim=-1)


@dataclass(frozen=True)
class KLDiff(ExitRule):
    """Converged when KL(p_prev || p) < eps between the decoded distributions of successive checks (p_prev is
    uniform before the first check)."""

    eps: float
    rightmost: bool = False
    needs_logits = True

    def __post_init__(self) -> None:
        _check_eps(self.eps)
        _check_rightmost(self.rightmost)

    def start(self, state: Tensor, vocab_size: int) -> Memory:
        uniform = torch.full((*state.shape[:-1], vocab_size), -math.log(vocab_size),
                             dtype=torch.float64 if state.dtype == torch.float64 else torch.float32,
                             device=state.device)
        return (uniform,)

    def check(self, memory: Memory, state: Tensor, logits: Tensor | None, tokens: Tensor | None,
              depth: Tensor) -> tuple[Tensor, Memory]:
        assert logits is not None, "KLDiff needs logits"
        (prev,) = memory
        logp = logits.log_softmax(dim=-1)
        kl = (prev.exp() * (prev - logp)).sum(dim=-1)
        return kl < self.eps, (logp,)


@dataclass(frozen=True)
class TokenStability(ExitRule):
    """Converged when the decoded token has stayed the same over `k` consecutive checks after the one that first
    produced it (k = 0: at the first check). A change resets the count."""

    k: int
    rightmost: bool = False
    needs_logits = True

    def __post_init__(self) -> None:
        check_int("k", self.k, 0)
        _check_rightmost(self.rightmost)

    def start(self, state: Tensor, vocab_size: int) -> Memory:
        shape = state.shape[:-1]
        return (torch.full(shape, -1, dtype=torch.long, device=state.device),
                torch.zeros(shape, dtype=torch.long, device=state.device))

    def check(self, memory: Memory, state: Tensor, logits: Tensor | None, tokens: Tensor | None,
              depth: Tensor) -> tuple[Tensor, Memory]:
        assert tokens is not None, "TokenStability needs tokens"
        prev, count = memory
        count = torch.where(tokens == prev, count + 1, 0)
        return count >= self.k, (tokens, count)
