"""A deliberately plain diffusion-forcing reference: one row, Python loops over ticks and wavefront positions.

It has every knob of `rdtheory.sampling.diffusion_forcing.generate_df` (same names, same defaults; `row` is the
row id that keys the noise, as `row_ids` does there; graphs and workspaces change no result) and returns what a run
of that row must produce. Keys and values live in dictionaries, as in the AR oracle (`KeyStore` of
`rdtheory.testing.plain_stages`: PerStep reads min(step, deepest stored), otherwise the latest), and every position
goes through the oracle's plain per-position prelude, core step and coda, left to right (the model is causal, so a
position sees its left neighbours' keys of the same pass exactly as a batched pass would show them). Shared with the
package: the model's weights, the position-keyed random functions of `rdtheory.model.noise`, the exit-rule
objects (`start`/`check` called per position on [1, 1] tensors) and the schedules' scalar `beta(n)`. Nothing of
the sampler's code: token picking, the commit rule and the appends are written out in
`rdtheory.testing.df_reference_rules`. Use it only on tiny models.

The wavefront's head is the position of the last committed token (its input), whose state predicts the next one:
the released code's "last frozen token stays active", the l = 1 of Algorithm 2's line 15. A position's keys are
those of its latest pass: a committed position keeps the prelude, core and coda keys of the tick it left in.

One tick, against the paper's Algorithm 2 (spec/paper.md §2.4; Algorithm 1 is the case FixedDepth(r)):
  line 5   e <- P(y_current): the prelude embeds each wavefront position's input token (the head's is
           committed, or a prompt token; the others hold drafts).
  Eq. 1    e = eta * e_prev + (1 - eta) * P(y) for a position that was in the wavefront last tick, e_prev its
           smoothed embedding then.
  line 6-7 / Eq. 2  z <- (1 - beta) z + beta z_noise, with beta = schedule.beta(n) at the n recurrences the
           position had before this tick, z_noise the position's draw-th InitState (draw = the ticks it has been
           in the wavefront, 1 on its first), of scale alpha = init_scale; or sqrt(1 - beta) z + sqrt(beta) z_noise
           (variance_preserving).
  line 8   r' (inner) core steps; the k-th recurrence of a position writes (PerStep) or overwrites (ShareLast) its
           keys, and reads recurrence min(k, deepest stored) (PerStep) or the latest keys of every earlier position.
  line 9   p <- C(z); y^ <- Sample(p): every position is decoded; the token for pos + 1 is drawn with the Gumbel
           noise keyed by (seed, row, pos).
  line 11-16 / Eq. 3  the exit rule is checked per position at the end of the tick (from min_depth on; LatentDiff's
           delta compares with the state at the previous check, the start state at the first); positions
           leave from the head: the converged prefix (Eq. 3), or up to the rightmost converged position
           (`rightmost`, Algorithm 2); leaving position p commits its draft for p + 1.
  line 17  stop once N tokens are committed (or a stop token is).
  line 18  append `headway` positions: the first holds the rightmost position's new draft, the others
           placeholder tokens; their state is a fresh InitState(alpha) (or, continuous_compute, the rightmost
           position's state). Drafts of positions that stay are replaced by their left neighbour's new draft.
  full_prefill: the prompt runs at depth r in one pass and the first token is drawn from it (the released code's
           default); otherwise the prompt enters the wavefront, at most max_wavefront positions at a time.

Where the sampler deliberately differs from the paper or from the released code (§2.5), reproduced here:
* a new position's EMA input is P(y) itself; the code shrinks it to (1 - eta) P(y). e_prev is aligned by
  absolute position after exits.
* beta is read at the count before the tick; the schedules are Constant, Dampened (the code's beta0 / (1 + n))
  and Linear (the paper's text); the noise is InitState(alpha) keyed by position, so zero when init_scale = 0.
* exits happen before appends, so a cap of 1 admits a new position as soon as the head leaves (the code appends,
  truncates to the cap, then freezes, and can stall).
* every position is forced out at max_depth (default 2r); the paper has no such bound. With hold_stale_drafts
  (default) a position after the head leaves only if the draft it consumed equals the token its left neighbour
  commits, and is held otherwise, even past max_depth; off, positions leave on the rule alone (Algorithm 2 and
  the code), and a committed token may have been decoded from a state (and keys) that saw another token to its
  left.
* never more than N tokens are committed, and a stop token ends the row at once (the code checks stop tokens
  only after r sampler steps).
* delta is checked every r' recurrences, at tick ends, from min_depth on; a new position is compared with its
  start state at its first check (the code does not compare newly appended positions).
* continuous_compute starts every appended position from the rightmost position's state (the prefill's last
  state for the first tick; none before the first tick without prefill); the code copies the last `headway`
  states.
* without full_prefill the prompt enters in chunks of max_wavefront (the code refuses a longer prompt).
* all randomness is keyed by (seed, row, position, draw), never by call order; placeholders are keyed ids in
  [0, V).
* max_ticks counts diffusion-forcing ticks, not the prefill (the code's max_diffusion_steps).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from rdtheory.model.cache import KVPolicy, ShareLast
from rdtheory.model.noise import initial_states
from rdtheory.model.recurrent import RecurrentDepthLM
from rdtheory.paper import DF_DEFAULTS
from rdtheory.sampling.exits import ExitRule, LatentDiff
from rdtheory.sampling.schedules import NO_NOISE, NoiseSchedule
from rdtheory.sampling.tokens import GREEDY, Sampling
from rdtheory.testing.df_reference_rules import Entry, filler_token, leaving, pick_token
from rdtheory.testing.plain_stages import KeyStore, core, decode, embed


@dataclass
class DFReferenceResult:
    """tokens: the new tokens (a stop token that ended the row included); latents [n, h]: the state each was
    decoded from; finished: "stop", "length" or "max_ticks"; recurrences: total recurrences per position (the
    prefill's included); commits[t]: the positions committed in tick t, the prefill first when `prefill`;
    standing[t]: the front could not advance in tick t because the wavefront was at its cap."""

    tokens: list[int]
    latents: Tensor
    finished: str
    recurrences: dict[int, int]
    commits: list[list[int]] = field(default_factory=list)
    prefill: bool = False
    standing: list[bool] = field(default_factory=list)


@torch.no_grad()
def df_reference(
    model: RecurrentDepthLM,
    prompt: Sequence[int],
    max_new_tokens: int,
    *,
    row: int = 0,
    inner: int = DF_DEFAULTS.inner,
    depth: int | None = None,
    exit: ExitRule = LatentDiff(DF_DEFAULTS.eps),
    max_wavefront: int = DF_DEFAULTS.max_wavefront,
    headway: int = DF_DEFAULTS.headway,
    ema: float = DF_DEFAULTS.ema,
    noise: NoiseSchedule = NO_NOISE,
    variance_preserving: bool = False,
    init_scale: float = DF_DEFAULTS.init_scale,
    continuous_compute: bool = False,
    full_prefill: bool = True,
    max_ticks: int | None = None,
    hold_stale_drafts: bool = True,
    min_depth: int = 1,
    max_depth: int | None = None,
    sampling: Sampling = GREEDY,
    stop_tokens: Sequence[int] | None = None,
    seed: int = 0,
    kv: KVPolicy = ShareLast(),
) -> DFReferenceResult:
    """Diffusion forcing of one prompt as row `row` (the noise key), with generate_df's knobs and defaults."""
    depth = model.config.mean_recurrence if depth is None else depth
    max_depth = 2 * depth if max_depth is None else max_depth
    if min_depth > max_depth:
        raise ValueError(f"min_depth={min_depth} must be <= max_depth={max_depth}")
    stops = frozenset(model.config.eos_token_ids if stop_tokens is None else stop_tokens)
    run = _Row(model, list(prompt), max_new_tokens, row, seed, init_scale, kv, sampling, stops)
    if max_new_tokens == 0:
        return run.result()
    if full_prefill:
        run.prefill(depth)
    else:  # the prompt enters the wavefront, as much of it as the cap allows
        run.front = [Entry(p, run.prompt[p]) for p in range(min(len(prompt), max_wavefront))]
        run.head, run.admitted = 0, len(run.front)
    ticks = 0
    while run.finished is None:
        if max_ticks is not None and ticks >= max_ticks:
            run.finished = "max_ticks"
            break
        run.tick(inner, exit, min_depth, max_depth, ema, noise, variance_preserving, continuous_compute,
                 hold_stale_drafts)
        if run.finished is None:
            run.append(max_wavefront, headway)
        else:
            run.standing.append(False)
        ticks += 1
    return run.result()


class _Row:
    """One row's generation: the committed tokens, the wavefront (index 0 is the head), the keys."""

    def __init__(self, model: RecurrentDepthLM, prompt: list[int], n_new: int, row: int, seed: int,
                 init_scale: float, kv: KVPolicy, sampling: Sampling, stops: frozenset[int]) -> None:
        self.model, self.prompt, self.n_new, self.row, self.seed = model, prompt, n_new, row, seed
        self.init_scale, self.sampling, self.stops = init_scale, sampling, stops
        self.keys = KeyStore(kv.per_step)
        self.tokens: list[int] = []
        self.latents: list[Tensor] = []
        self.recurrences: dict[int, int] = {}
        self.commits: list[list[int]] = []
        self.standing: list[bool] = []
        self.had_prefill = False
        self.finished: str | None = None
        self.front: list[Entry] = []
        self.head = len(prompt)  # position of the wavefront's head (or of the next position while it is empty)
        self.admitted = len(prompt)  # prompt positions that have entered the wavefront
        self.carry: Tensor | None = None  # the state a new position starts from under continuous compute
        self.last_draft = -1  # the rightmost position's latest draft, the input of the next position appended

    def noise_state(self, pos: int, draw: int) -> Tensor:
        """InitState(alpha) of `pos`: draw 0 is its initial state, draw n its n-th noise sample. [h]"""
        m = self.model
        return initial_states(m.config.n_embd, self.init_scale, self.seed, torch.tensor([self.row]),
                              torch.tensor([[pos]]), draw, m.dtype)[0, 0]

    def count(self, pos: int, recurrences: int) -> None:
        self.recurrences[pos] = self.recurrences.get(pos, 0) + recurrences

    def commit(self, token: int, state: Tensor) -> None:
        self.tokens.append(token)
        self.latents.append(state)
        if token in self.stops:
            self.finished = "stop"
        elif len(self.tokens) == self.n_new:
            self.finished = "length"

    def prefill(self, depth: int) -> None:
        """The whole prompt at depth r in one pass (every position from its initial state), then the first token
        from the last position's state."""
        m, n = self.model, len(self.prompt)
        positions = list(range(n))
        e = embed(m, self.prompt, positions, self.keys)
        s = torch.stack([self.noise_state(p, 0) for p in positions])
        for k in range(1, depth + 1):
            s = core(m, s, e, positions, k, self.keys)
        logits = decode(m, s, positions, self.keys)
        for p in positions:
            self.count(p, depth)
        self.had_prefill = True
        self.commits.append([n])
        self.standing.append(False)
        self.commit(pick_token(logits[-1], self.sampling, self.seed, self.row, n - 1), s[-1])
        self.carry = s[-1]
        self.front = [Entry(n, self.tokens[-1])]

    def tick(self, inner: int, rule: ExitRule, min_depth: int, max_depth: int, ema: float, noise: NoiseSchedule,
             vp: bool, continuous: bool, hold_stale_drafts: bool) -> None:
        m, front = self.model, self.front
        vocab = m.config.vocab_size
        # Algorithm 2, line 5: P(y_current), position by position (the prelude is causal).
        p_y = [embed(m, [x.token], [x.pos], self.keys)[0] for x in front]
        e = []
        for x, p in zip(front, p_y):
            if x.new:  # line 18's fresh state, or the carried one; the exit rule's memory starts from it
                x.z = self.carry if continuous and self.carry is not None else self.noise_state(x.pos, 0)
                x.memory = rule.start(x.z[None, None], vocab)
            # Eq. 1, with a new position's input unshrunk.
            e.append(p if x.e_prev is None else ema * x.e_prev + (1 - ema) * p)
            # Eq. 2 at the count before this tick, with this position's next noise draw.
            x.draws += 1
            beta = noise.beta(x.count)
            if beta > 0:
                z_noise = self.noise_state(x.pos, x.draws)
                x.z = math.sqrt(1 - beta) * x.z + math.sqrt(beta) * z_noise if vp else (1 - beta) * x.z + beta * z_noise
        # Line 8: r' recurrences; recurrence k of a position is its count + k.
        for i in range(1, inner + 1):
            for x, e_x in zip(front, e):
                x.z = core(m, x.z[None], e_x[None], [x.pos], x.count + i, self.keys)[0]
        # Line 9: decode every position and draw its token for pos + 1.
        logits = [decode(m, x.z[None], [x.pos], self.keys)[0] for x in front]
        predicted = [pick_token(lg, self.sampling, self.seed, self.row, x.pos) for x, lg in zip(front, logits)]
        # Lines 11-13 / Eq. 3: each position's verdict, forced at max_depth.
        converged = []
        for x, lg, token in zip(front, logits, predicted):
            x.count += inner
            self.count(x.pos, inner)
            verdict = False
            if x.count >= min_depth:
                needs = rule.needs_logits
                verdict_t, x.memory = rule.check(x.memory, x.z[None, None], lg[None, None] if needs else None,
                                                 torch.tensor([[token]]) if needs else None,
                                                 torch.tensor([[x.count]]))
                verdict = bool(verdict_t[0, 0])
            converged.append(verdict or x.count >= max_depth)
        # Lines 14-17: what leaves, and what it commits.
        out = leaving(front, converged, predicted, len(self.prompt), self.n_new - len(self.tokens), self.stops,
                      rule.rightmost, hold_stale_drafts)
        self.commits.append([front[i].pos + 1 for i in out.sources])
        for token, i in zip(out.tokens, out.sources):
            self.commit(token, front[i].z)
        # The drafts that stay take their left neighbour's new draft; the EMA remembers this tick's e.
        for i in range(out.n, len(front)):
            if i > 0 and front[i].pos >= len(self.prompt):
                front[i].token = predicted[i - 1]
            front[i].e_prev = e[i]
        self.carry = front[-1].z
        self.last_draft = predicted[-1]  # the rightmost position's draft for the next position
        self.front = front[out.n:]
        self.head += out.n

    def append(self, cap: int, headway: int) -> None:
        """Line 18: admit prompt positions first (as many as the cap allows), then drafts up to position P + N - 2
        (the last one whose state decodes a wanted token)."""
        room = cap - len(self.front)
        nxt = self.head + len(self.front)
        if self.admitted < len(self.prompt):
            k = min(room, len(self.prompt) - self.admitted)
            self.front += [Entry(p, self.prompt[p]) for p in range(nxt, nxt + k)]
            self.admitted += k
            self.standing.append(k == 0)
            return
        want = len(self.prompt) + self.n_new - 2 - nxt + 1
        k = max(0, min(headway, room, want))
        vocab = self.model.config.vocab_size
        self.front += [Entry(p, self.last_draft if p == nxt else filler_token(self.seed, self.row, p, vocab))
                       for p in range(nxt, nxt + k)]
        self.standing.append(k == 0 and want > 0)

    def result(self) -> DFReferenceResult:
        h = self.model.config.n_embd
        latents = torch.stack(self.latents) if self.latents else torch.zeros(0, h, dtype=self.model.dtype)
        return DFReferenceResult(self.tokens, latents, self.finished or "length",
                                 dict(sorted(self.recurrences.items())), self.commits, self.had_prefill, self.standing)
