"""The commit rule and the wavefront bookkeeping of the diffusion-forcing sampler.

A row's wavefront is the run of positions [head, head + width) whose states are being iterated. The head's input
token is committed (or given by the prompt); positions after it hold drafts. After each tick `exit_prefix` decides,
for all rows at once and with tensor operations only, how many positions leave from the head and which tokens that
commits; `RowFront` then keeps the few integers per row that the host needs (head, width, what was committed) and
plans what enters next. The integer semantics are those that `rdtheory.theory.df_schedule` simulates.

Rules (each fixes a fault of the reference implementation):
* exits happen before appending, so a cap of 1 admits a new position as soon as the head leaves (no stall);
* with `hold_stale_drafts` (the default), a position after the head exits only if the draft it consumed this tick
  equals the token its left neighbour now commits, so committed tokens and the cached keys always agree; such a
  position is held (it runs another tick on the committed token) even when it has converged or reached max_depth.
  Without it, positions leave on the rule's verdict alone, as in the paper's Algorithm 2 and the reference code:
  a committed token may then have been decoded from a state that saw a different token to its left;
* never more than the requested tokens are committed, and a stop token ends the row at once;
* a position is forced out at max_depth, so every position leaves within ceil(max_depth / inner) ticks of
  becoming the head.
"""

from dataclasses import dataclass, field

import torch
from torch import Tensor


def exit_prefix(
    converged: Tensor, valid: Tensor, inputs: Tensor, predicted: Tensor, draft: Tensor, commits: Tensor,
    budget: Tensor, stops: Tensor, rightmost: bool, hold_stale_drafts: bool = True,
) -> tuple[Tensor, Tensor]:
    """How many positions leave each row's wavefront, and whether a stop token was committed. All [B, W]:
    converged (the rule's verdict, already forced at max_depth), valid, inputs (tokens consumed this tick),
    predicted (tokens decoded this tick; entry i predicts position head+i+1), draft (the input is a draft),
    commits (leaving commits a token); budget [B]: tokens still wanted; stops [S]: stop ids; hold_stale_drafts:
    stop before the first position whose consumed draft differs from the token committed to its left.
    Returns exits [B] (long) and stop [B] (bool)."""
    b, w = converged.shape
    idx = torch.arange(w, device=converged.device)
    conv = converged & valid
    if rightmost:
        n = torch.where(conv, idx + 1, 0).amax(dim=-1)
    else:
        n = conv.long().cumprod(dim=-1).sum(dim=-1)
    if hold_stale_drafts:  # a draft consumed this tick must equal the token its left neighbour commits
        left = torch.cat([predicted[:, :1], predicted[:, :-1]], dim=-1)
        stale = draft & (idx > 0) & (inputs != left)
        n = torch.minimum(n, _first(stale, w))
    # Never commit more than the budget: stop before the (budget+1)-th committing position.
    n = torch.minimum(n, _first(commits.long().cumsum(dim=-1) > budget[:, None], w))
    hit = commits & torch.isin(predicted, stops) & (idx < n[:, None])
    first_stop = _first(hit, w)
    stop = first_stop < w
    return torch.where(stop, first_stop + 1, n), stop


def _first(mask: Tensor, w: int) -> Tensor:
    """Index of the first True in each row, w where there is none."""
    idx = torch.arange(w, device=mask.device)
    return torch.where(mask, idx, w).amin(dim=-1) if w else torch.zeros(mask.shape[0], dtype=torch.long)


@dataclass
class RowFront:
    """The host's view of one row: where its wavefront is and what it has committed."""

    prompt_len: int
    n_new: int
    head: int
    width: int
    admitted: int  # prompt positions that have entered the wavefront (all of them with full prefill)
    committed: list[int] = field(default_factory=list)
    done: bool = False
    finished: str = "length"

    @property
    def last_needed(self) -> int:
        """The last position that must run: token P+N-1 is decoded from position P+N-2."""
        return self.prompt_len + self.n_new - 2

    @property
    def budget(self) -> int:
        return self.n_new - len(self.committed)

    def commit(self, exits: int, stop: bool, predicted: list[int]) -> None:
        """Record the tokens committed by `exits` positions leaving from the head."""
        first = max(self.head, self.prompt_len - 1)  # positions before P-1 leave without committing
        self.committed += predicted[first - self.head: exits]
        self.head += exits
        self.width -= exits
        if stop or not self.budget:
            self.done, self.finished = True, "stop" if stop else "length"

    def plan_append(self, cap: int, headway: int) -> tuple[int, int, bool]:
        """Positions to append after this tick's exits: (prompt positions, draft positions, standing wave).

        Without full prefill, prompt positions are admitted first (as many as the cap allows); a draft position is
        appended only once its left neighbour was decoded, i.e. in a later tick."""
        if self.done:
            return 0, 0, False
        room = cap - self.width
        if self.admitted < self.prompt_len:
            k = min(room, self.prompt_len - self.admitted)
            self.admitted += k
            self.width += k
            return k, 0, k == 0
        want = self.last_needed - (self.head + self.width) + 1
        k = max(0, min(headway, room, want))
        self.width += k
        return 0, k, k == 0 and want > 0
