"""The decisions of the plain diffusion-forcing reference (`rdtheory.testing.df_reference`), one row at a time.

A wavefront entry as a plain record, token picking for one decoded position, the commit rule (which entries leave
after a tick, and what they commit), and what enters the wavefront next. Written from the documented semantics of
the sampler's knobs (`rdtheory.sampling.tokens`, `rdtheory.sampling.wavefront`), not from its tensor code: every
function here handles one row with Python loops and ints, so it shares no code with the sampler.
"""

from dataclasses import dataclass

import torch
from torch import Tensor

from rdtheory.model.noise import Stream, keyed_uniform
from rdtheory.sampling.exits import Memory
from rdtheory.sampling.tokens import Sampling


@dataclass
class Entry:
    """One wavefront position: its input token (prompt, committed or draft), the recurrences it has had, the noise
    draws mixed into it, its state, the embedding the EMA remembers, and the exit rule's memory."""

    pos: int
    token: int
    count: int = 0
    draws: int = 0
    z: Tensor | None = None  # [h]; None until its first tick gives it a start state
    e_prev: Tensor | None = None  # [h]; the smoothed embedding of its previous tick, None while new
    memory: Memory = ()

    @property
    def new(self) -> bool:
        return self.z is None


def _one(seed: int, stream: Stream, row: int, pos: int, n: int) -> Tensor:
    """The n keyed uniforms of (seed, stream, row, pos, draw 0), as a [n] float64 vector."""
    return keyed_uniform(seed, stream, torch.tensor([row]), torch.tensor([[pos]]), 0, n)[0, 0]


def pick_token(logits: Tensor, sampling: Sampling, seed: int, row: int, pos: int) -> int:
    """The token drawn from the logits [V] decoded at position `pos` of row `row`.

    Greedy is the first largest logit. Otherwise: divide by the temperature; top_k keeps the k largest (and ties
    with the k-th); top_p keeps, in descending order, each token whose predecessors' probability is still below
    top_p; min_p drops tokens whose probability is below min_p times the largest; each filter sees the previous
    one's survivors. Then Gumbel-max with the uniforms keyed by (seed, TOKEN stream, row, pos, draw 0), one per
    vocabulary entry: argmax(x - log(-log u))."""
    if sampling.greedy:
        return int(torch.argmax(logits))
    x = logits / sampling.temperature
    vocab = x.shape[0]
    if sampling.top_k is not None and sampling.top_k < vocab:
        kth = torch.sort(x, descending=True).values[sampling.top_k - 1]
        x = torch.where(x < kth, float("-inf"), x)
    if sampling.top_p is not None:
        order = torch.argsort(x, descending=True)
        probs = torch.softmax(x[order], dim=0)
        mass_before = 0.0
        keep = torch.ones(vocab, dtype=torch.bool)
        for rank, token in enumerate(order.tolist()):
            # A running sum differs from the sampler's cumsum by rounding only: a token whose mass above lies
            # within rounding of top_p has a probability of being drawn near machine epsilon.
            keep[token] = mass_before < sampling.top_p
            mass_before += float(probs[rank])
        x = torch.where(keep, x, float("-inf"))
    if sampling.min_p is not None:
        probs = torch.softmax(x, dim=0)
        x = torch.where(probs < sampling.min_p * probs.max(), float("-inf"), x)
    u = _one(seed, Stream.TOKEN, row, pos, vocab)
    return int(torch.argmax(x + (-torch.log(-torch.log(u))).to(x.dtype)))


def filler_token(seed: int, row: int, pos: int, vocab: int) -> int:
    """The placeholder input of a position appended beyond the first draft (headway > 1): a keyed uniform id."""
    return int(_one(seed, Stream.PLACEHOLDER, row, pos, 1)[0] * vocab)


@dataclass
class Leaving:
    """What a tick's commit rule decided for one row: how many entries leave from the head, the tokens they
    commit with the index of the entry each was decoded from, and whether a stop token was committed."""

    n: int
    tokens: list[int]
    sources: list[int]
    stop: bool


def leaving(front: list[Entry], converged: list[bool], predicted: list[int], prompt_len: int, budget: int,
            stops: frozenset[int], rightmost: bool, hold_stale_drafts: bool) -> Leaving:
    """Which entries leave after a tick. The exit rule offers a prefix: up to the rightmost converged entry
    (`rightmost`, Algorithm 2) or the converged entries before the first unconverged one (Eq. 3). Walking that
    prefix from the head, an entry does not leave (nor anything to its right) when
    * hold_stale_drafts is on, it is not the head, its input is a draft, and that draft differs from the token
      its left neighbour commits now (predicted[i - 1]);
    * it would commit a token (its position is P - 1 or later) and the budget is already used up.
    An entry that commits a stop token leaves, and nothing after it."""
    if rightmost:
        offered = max((i + 1 for i, c in enumerate(converged) if c), default=0)
    else:
        offered = next((i for i, c in enumerate(converged) if not c), len(converged))
    out = Leaving(0, [], [], False)
    for i in range(offered):
        entry = front[i]
        if hold_stale_drafts and i > 0 and entry.pos >= prompt_len and entry.token != predicted[i - 1]:
            break
        commits = entry.pos >= prompt_len - 1  # its state predicts position pos + 1, a new token
        if commits and len(out.tokens) == budget:
            break
        out.n += 1
        if commits:
            out.tokens.append(predicted[i])
            out.sources.append(i)
            if predicted[i] in stops:
                out.stop = True
                break
    return out
