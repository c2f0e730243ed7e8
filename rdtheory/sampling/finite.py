"""Non-finite numbers in a run: detected on the device with the step's results, raised on the host.

A NaN or inf in a latent state or in the logits decoded from it would otherwise turn into token 0 (argmax of NaN)
and a run that reports `finished="length"` as if nothing happened. The samplers compute `nonfinite_codes` inside
the work they already do and read the codes back with the decision they already synchronise on, so the check
costs no extra host round trip; `raise_nonfinite` names the first bad entry.
"""

import torch
from torch import Tensor

LATENT, LOGITS = 1, 2
"""Bits of a non-finite code: the latent state holds NaN/inf, the logits do."""


class NonFiniteError(FloatingPointError):
    """A latent state or logits vector held NaN or inf during generation."""


def nonfinite_codes(state: Tensor, logits: Tensor) -> Tensor:
    """state [..., h], logits [..., V] -> [...] long: LATENT | LOGITS bits of what is not finite (0: all finite)."""
    bad_state = ~torch.isfinite(state).all(dim=-1)
    bad_logits = ~torch.isfinite(logits).all(dim=-1)
    return bad_state.long() * LATENT + bad_logits.long() * LOGITS


def raise_nonfinite(code: int, row: int, position: int, recurrence: int) -> None:
    """Raise NonFiniteError for a non-zero code of row `row` at `position` after `recurrence` core recurrences."""
    if not code:
        return
    what = " and ".join(name for bit, name in ((LATENT, "latent state"), (LOGITS, "logits")) if code & bit)
    raise NonFiniteError(
        f"non-finite {what} (NaN or inf) in row {row} at position {position} after recurrence {recurrence}; the "
        "model's weights or inputs produce it (load_pretrained refuses non-finite weights; check weights edited "
        "in memory, the dtype's range, or the noise and init scales)")
