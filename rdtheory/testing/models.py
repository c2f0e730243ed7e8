"""Tiny random models for testing samplers: depth-sensitive but numerically stable.

A random Huginn-shaped model with Huginn's initialisation is nearly depth-independent: its recurrence barely moves
the tokens. Scaling the weights up makes depth matter but, past a point, makes the recurrence chaotic, and a chaotic
map amplifies float64 rounding differences (a different batch layout, a different kernel) into different tokens,
which would make every equivalence test flaky for reasons that have nothing to do with the sampler. The models here
scale all matrices by `gain` but fix the spectral norm of the adapter's state half to `state_gain`: the core step
then depends on depth for a good many steps (the tests measure how often) while rounding differences stay at the
1e-13 level.
"""

import torch

from rdtheory.config import ModelConfig
from rdtheory.model.recurrent import RecurrentDepthLM


@torch.no_grad()
def random_model(
    config: ModelConfig, seed: int, gain: float = 2.5, state_gain: float = 1.5, dtype: torch.dtype = torch.float64,
    device: torch.device | str = "cpu",
) -> RecurrentDepthLM:
    """Huginn-initialised weights from `seed`, every matrix times `gain`, the adapter's state half rescaled to
    spectral norm `state_gain`, norms perturbed around one and q/k biases drawn (so that they matter). The weights
    are drawn on `device` (a model of Huginn-0125's shape is drawn on the GPU in seconds), so the same seed gives
    other weights on another device type."""
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[] if torch.device(device).type == "cpu" else [torch.device(device)]):
        torch.manual_seed(seed)
        with torch.device(device):
            model = RecurrentDepthLM(config)
        model = model.to(dtype)
    for name, p in model.named_parameters():
        if p.dim() > 1:
            p.mul_(gain)
        elif name.endswith("qk_bias"):
            p.copy_(0.5 * torch.randn(p.shape, generator=gen, dtype=torch.float64))
        else:
            p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen, dtype=torch.float64))
    set_state_gain(model, state_gain)
    return model.eval()


@torch.no_grad()
def set_state_gain(model: RecurrentDepthLM, state_gain: float) -> None:
    """Rescale the adapter's state half (its first n_embd input columns) to the given spectral norm."""
    h = model.config.n_embd
    a = model.transformer.adapter.weight
    a[:, :h] *= state_gain / torch.linalg.matrix_norm(a[:, :h].double(), ord=2).to(a.dtype)
