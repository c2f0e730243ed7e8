"""Noise schedules for the state noise mixed in at the start of each diffusion-forcing tick.

The formulas are `rdtheory.theory.correspondence`'s; these objects evaluate them for one count (`beta`) or for a
tensor of counts on the device (`beta_tensor`, the same formula in tensor arithmetic, checked against `beta`).

A schedule maps a position's recurrence count n (recurrences it has already had) to a mixing weight beta in [0, 1].
`Constant` is the paper's constant baseline, `Dampened` is beta0 / (1 + n) as in Huginn's code, and `Linear` is the
paper's "linear in steps at each position": beta0 * max(0, 1 - n / depth).
"""

from dataclasses import dataclass

import torch
from torch import Tensor

from rdtheory.theory.correspondence import constant_beta, dampened_beta, linear_beta


@dataclass(frozen=True)
class NoiseSchedule:
    beta0: float

    def __post_init__(self) -> None:
        if not 0 <= self.beta0 <= 1:
            raise ValueError(f"beta0={self.beta0} must lie in [0, 1]")

    @property
    def active(self) -> bool:
        return self.beta0 > 0

    def beta(self, n: int) -> float:
        raise NotImplementedError

    def beta_tensor(self, n: Tensor) -> Tensor:
        """beta for a tensor of recurrence counts (float64, same shape)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Constant(NoiseSchedule):
    def beta(self, n: int) -> float:
        return constant_beta(self.beta0, n)

    def beta_tensor(self, n: Tensor) -> Tensor:
        return torch.full(n.shape, self.beta0, dtype=torch.float64, device=n.device)


@dataclass(frozen=True)
class Dampened(NoiseSchedule):
    def beta(self, n: int) -> float:
        return dampened_beta(self.beta0, n)

    def beta_tensor(self, n: Tensor) -> Tensor:
        return self.beta0 / (1 + n.to(torch.float64))


@dataclass(frozen=True)
class Linear(NoiseSchedule):
    depth: int = 32

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.depth < 1:
            raise ValueError(f"depth={self.depth} must be >= 1")

    def beta(self, n: int) -> float:
        return linear_beta(self.beta0, self.depth, n)

    def beta_tensor(self, n: Tensor) -> Tensor:
        return self.beta0 * (1.0 - n.to(torch.float64) / self.depth).clamp(min=0.0)


NO_NOISE = Constant(0.0)
