"""Logits to tokens: greedy, or sampling with temperature, top-k, top-p and min-p, keyed by position.

`Sampling` is a frozen settings object; `pick` turns logits [B, W, V] into tokens [B, W]. Sampling uses the
Gumbel-max trick with Gumbel noise keyed by (seed, row, position): the token sampled from position p's logits is a
deterministic function of those logits and the key, so a sampler that re-decodes p sees the same noise, and two
samplers that decode p from equal logits pick the same token. No host synchronisation.
"""

from dataclasses import dataclass

import torch
from torch import Tensor

from rdtheory.model.noise import Stream, keyed_uniform
from rdtheory.sampling.exits import is_int

RANKS = 5  # ranks kept per committed token, for tolerance rules that compare samplers in low precision


@dataclass(frozen=True)
class Sampling:
    """temperature 0 means greedy (argmax; the filters are then irrelevant and must be left unset).

    Filters apply in the order top_k, top_p, min_p. top_p keeps the smallest set of most likely tokens whose
    probability reaches top_p (the token that crosses top_p is kept). min_p drops tokens below min_p times the
    largest probability.
    """

    temperature: float = 0.0
    top_k: int | None = None
    top_p: float | None = None
    min_p: float | None = None

    def __post_init__(self) -> None:
        for name in ("temperature", "top_p", "min_p"):
            value = getattr(self, name)
            if (value is not None or name == "temperature") and (isinstance(value, bool)
                                                                 or not isinstance(value, (int, float))):
                raise TypeError(f"{name}={value!r} must be a number" + ("" if name == "temperature" else " or None"))
        if self.top_k is not None and not is_int(self.top_k):
            raise TypeError(f"top_k={self.top_k!r} must be an int >= 1 or None")
        if not self.temperature >= 0:
            raise ValueError(f"temperature={self.temperature} must be >= 0 (0 is greedy)")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"top_k={self.top_k} must be >= 1 or None")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ValueError(f"top_p={self.top_p} must lie in (0, 1] or be None")
        if self.min_p is not None and not 0 <= self.min_p <= 1:
            raise ValueError(f"min_p={self.min_p} must lie in [0, 1] or be None")
        if self.greedy and (self.top_k, self.top_p, self.min_p) != (None, None, None):
            raise ValueError("top_k, top_p and min_p have no effect with temperature=0 (greedy); leave them unset")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


GREEDY = Sampling()


def filtered_logits(logits: Tensor, sampling: Sampling) -> Tensor:
    """Temperature-scaled logits with filtered-out tokens at -inf (float32 or float64, same shape)."""
    x = logits / sampling.temperature
    if sampling.top_k is not None and sampling.top_k < x.shape[-1]:
        kth = x.topk(sampling.top_k, dim=-1).values[..., -1:]
        x = x.masked_fill(x < kth, float("-inf"))
    if sampling.top_p is not None:
        sorted_x, order = x.sort(dim=-1, descending=True)
        probs = sorted_x.softmax(dim=-1)
        before = probs.cumsum(dim=-1) - probs  # mass strictly above each token
        drop_sorted = before >= sampling.top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        x = x.masked_fill(drop, float("-inf"))
    if sampling.min_p is not None:
        probs = x.softmax(dim=-1)
        x = x.masked_fill(probs < sampling.min_p * probs.max(dim=-1, keepdim=True).values, float("-inf"))
    return x


def pick(logits: Tensor, sampling: Sampling, seed: int, rows: Tensor, pos: Tensor) -> Tensor:
    """Tokens [B, W] from logits [B, W, V]; pos [B, W] are the positions whose states are decoded (the noise key)."""
    if sampling.greedy:
        return logits.argmax(dim=-1)
    x = filtered_logits(logits, sampling)
    u = keyed_uniform(seed, Stream.TOKEN, rows, pos, 0, logits.shape[-1])  # float64, strictly inside (0, 1)
    gumbel = -torch.log(-torch.log(u))
    return (x + gumbel.to(x.dtype)).argmax(dim=-1)


def top_ranks(logits: Tensor) -> Tensor:
    """The RANKS most likely ids at every position."""
    return logits.topk(min(RANKS, logits.shape[-1]), dim=-1).indices
