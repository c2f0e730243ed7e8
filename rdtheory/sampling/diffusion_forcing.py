"""The diffusion-forcing sampler: a wavefront of positions advanced together, a new token drafted every tick.

Each tick, for every row at once: embed the wavefront's input tokens (committed or drafts), smooth the injected
embeddings with an EMA, mix noise into the states, run `inner` (r') recurrences over all wavefront positions in one
batched step, decode every position, and let the exit rule decide which prefix of the wavefront leaves and which
tokens are committed. The only host synchronisation per tick is that decision. Row bookkeeping (which positions
exit, what is appended) is integer logic in `rdtheory.sampling.wavefront`.
"""

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from rdtheory.model.cache import KVCache, KVPolicy, ShareLast
from rdtheory.model.noise import Stream, keyed_uniform
from rdtheory.model.recurrent import RecurrentDepthLM
from rdtheory.sampling.autoregressive import prefill
from rdtheory.sampling.batch import (
    Generation,
    Prompts,
    PromptsLike,
    check_depth,
    check_model,
    check_stop_tokens,
    prepare_prompts,
)
from rdtheory.sampling.exits import ExitRule, FixedDepth, LatentDiff
from rdtheory.sampling.schedules import NO_NOISE, NoiseSchedule
from rdtheory.sampling.tokens import GREEDY, Sampling, pick
from rdtheory.sampling.trace import Commit, Run, Tick, Trace
from rdtheory.sampling.wavefront import RowFront


def generate_df(
    model: RecurrentDepthLM,
    prompts: PromptsLike,
    max_new_tokens: int,
    *,
    inner: int = 4,
    depth: int | None = None,
    exit: ExitRule = LatentDiff(0.03),
    max_wavefront: int = 128,
    headway: int = 1,
    ema: float = 0.1,
    noise: NoiseSchedule = NO_NOISE,
    variance_preserving: bool = False,
    init_scale: float = 1.0,
    continuous_compute: bool = False,
    full_prefill: bool = True,
    max_ticks: int | None = None,
    min_depth: int = 1,
    max_depth: int | None = None,
    sampling: Sampling = GREEDY,
    stop_tokens: Sequence[int] | None = None,
    seed: int = 0,
    row_ids: Sequence[int] | None = None,
    kv: KVPolicy = ShareLast(),
) -> Generation:
    """Diffusion-forcing generation.

    inner: recurrences per tick (r'). depth: r, the prefill depth (default the config's mean_recurrence).
    exit: when a wavefront position may leave (FixedDepth(r) is the paper's Algorithm 1, LatentDiff its
    Algorithm 2). max_wavefront: cap on active positions per row. headway: new positions appended per tick.
    ema: eta of the embedding EMA. noise: beta schedule of the state noise; variance_preserving mixes
    sqrt(1-beta) z + sqrt(beta) noise instead of (1-beta) z + beta noise. continuous_compute: new positions start
    from their left neighbour's state instead of a fresh one. full_prefill: run the prompt at depth r in parallel
    (otherwise the prompt enters the wavefront). max_depth (default 2r) forces a position out; min_depth is the
    first recurrence count at which the rule is consulted. max_ticks stops the run (finished "max_ticks").
    """
    check_model(model)
    depth = model.config.mean_recurrence if depth is None else depth
    max_depth = 2 * depth if max_depth is None else max_depth
    for name, value in (("inner", inner), ("depth", depth), ("max_wavefront", max_wavefront),
                        ("headway", headway), ("min_depth", min_depth), ("max_depth", max_depth)):
        check_depth(name, value)
    if max_ticks is not None:
        check_depth("max_ticks", max_ticks)
    if not 0 <= ema < 1:
        raise ValueError(f"ema={ema} must lie in [0, 1)")
    if not init_scale >= 0:
        raise ValueError(f"init_scale={init_scale} must be >= 0")
    if not isinstance(exit, ExitRule):
        raise TypeError(f"exit={exit!r} must be an ExitRule (FixedDepth, LatentDiff, KLDiff, TokenStability)")
    if not isinstance(noise, NoiseSchedule):
        raise TypeError(f"noise={noise!r} must be a NoiseSchedule (Constant, Dampened, Linear)")
    batch = prepare_prompts(model, prompts, max_new_tokens, row_ids)
    run = _DFRun(model, batch, max_new_tokens, locals())
    return run.generate()


def tick_bound(prompt_len: int, n_new: int, inner: int, max_depth: int, full_prefill: bool) -> int:
    """Most ticks a row can take: the head always leaves within ceil(max_depth / inner) ticks, one position at a
    time at worst, and the positions to run are P..P+N-2 (with prefill, plus the prefill tick) or 0..P+N-2."""
    if n_new == 0:
        return 0
    per_position = math.ceil(max_depth / inner)
    if full_prefill:
        return 1 + (n_new - 1) * per_position
    return (prompt_len + n_new - 1) * per_position


class _DFRun:
    def __init__(self, model: RecurrentDepthLM, batch: Prompts, n_new: int, knobs: dict) -> None:
        self.model, self.batch, self.n_new = model, batch, n_new
        self.k = knobs
        self.rule: ExitRule = knobs["exit"]
        self.stops = check_stop_tokens(model, knobs["stop_tokens"])
        b = batch.batch_size
        self.trace = Trace(prompt_lengths=list(batch.lengths))
        self.trace.tick_bound = max(tick_bound(n, n_new, knobs["inner"], knobs["max_depth"], knobs["full_prefill"])
                                    for n in batch.lengths)
        self.latents: list[list[Tensor]] = [[] for _ in range(b)]
        self.fronts: list[RowFront] = []
        inner = knobs["inner"]
        # A forced position may be held one more tick when its draft disagrees with the committed token.
        slots = max(knobs["depth"], (math.ceil(knobs["max_depth"] / inner) + 1) * inner)
        if n_new > 0:
            self.cache = KVCache(model.config, knobs["kv"], b, max(n + n_new - 1 for n in batch.lengths), slots,
                                 model.dtype, model.device)
        self.memory: tuple[Tensor, ...] = ()
        self.carry: Tensor | None = None  # each row's latest state, for continuous compute
        self.moves: list[tuple[int, int]] = []  # per row this tick: (positions exited, wavefront width)

    @torch.no_grad()
    def generate(self) -> Generation:
        k, batch = self.k, self.batch
        if self.n_new == 0:
            self.fronts = [RowFront.without_prefill(p, 0, 1) for p in self._prompt_lists()]
        elif k["full_prefill"]:
            state, logits, pos = prefill(self.model, batch, self.cache, k["depth"], k["init_scale"], k["seed"],
                                         self.trace)
            first = pick(logits, k["sampling"], k["seed"], batch.rows, pos)[:, 0].tolist()
            for b, prompt in enumerate(self._prompt_lists()):
                front = RowFront.after_prefill(prompt, self.n_new, first[b])
                if first[b] in self.stops:
                    front.done, front.finished = True, "stop"
                self.fronts.append(front)
                self.latents[b].append(state[b, 0])
                self.trace.ticks[-1].commits.append(Commit(b, len(prompt), first[b]))
            self.carry = state
        else:
            self.fronts = [RowFront.without_prefill(p, self.n_new, k["max_wavefront"]) for p in self._prompt_lists()]
            self.carry = None
        width = max([f.width for f in self.fronts if not f.done], default=0)
        self.z = torch.zeros(batch.batch_size, width, self.model.config.n_embd, dtype=self.model.dtype,
                             device=self.model.device)
        self.e_prev = torch.zeros_like(self.z)
        while not all(f.done for f in self.fronts):
            if k["max_ticks"] is not None and self.trace.n_ticks >= k["max_ticks"]:
                self.trace.max_ticks_reached = True
                for f in self.fronts:
                    if not f.done:
                        f.finished = "max_ticks"
                break
            self._tick()
        h = self.model.config.n_embd
        latents = [torch.stack(x) if x else torch.zeros(0, h) for x in self.latents]
        return Generation([f.committed for f in self.fronts], latents, [f.finished for f in self.fronts], self.trace)

    def _prompt_lists(self) -> list[list[int]]:
        return [self.batch.ids[b, :n].tolist() for b, n in enumerate(self.batch.lengths)]

    # ------------------------------------------------------------------------------------------------ one tick

    def _layout(self) -> dict[str, Tensor]:
        """Host-built [B, W] tensors describing every row's wavefront for this tick."""
        width = max(f.width for f in self.fronts if not f.done)
        cols: dict[str, list[list]] = {n: [] for n in ("pos", "valid", "tokens", "counts", "draws", "fresh", "beta")}
        for f in self.fronts:
            w = 0 if f.done else f.width
            pad = width - w
            cols["pos"].append([f.head + i for i in range(w)] + [0] * pad)
            cols["valid"].append([True] * w + [False] * pad)
            cols["tokens"].append((f.inputs if w else []) + [0] * pad)
            cols["counts"].append((f.counts if w else []) + [0] * pad)
            cols["draws"].append([t + 1 for t in f.ticks][:w] + [0] * pad)
            cols["fresh"].append((f.fresh if w else []) + [False] * pad)
            cols["beta"].append([self.k["noise"].beta(n) for n in f.counts][:w] + [0.0] * pad)
        dev = self.model.device
        out = {n: torch.tensor(v, device=dev) for n, v in cols.items() if n != "beta"}
        out["beta"] = torch.tensor(cols["beta"], device=dev, dtype=self.model.dtype)[..., None]
        return out

    def _tick(self) -> None:
        m, k, rule = self.model, self.k, self.rule
        lay = self._layout()
        live = [not f.done for f in self.fronts]
        kv_len = max(f.head + f.width for f, a in zip(self.fronts, live) if a)
        inner = k["inner"]
        assert not k["kv"].per_step or max(n for f in self.fronts for n in f.counts) + inner <= self.cache.max_depth, \
            "a position outgrew the PerStep cache; its depth capacity was computed wrongly"
        chunk = m.chunk(lay["pos"], lay["valid"], kv_len)
        p = m.embed(lay["tokens"], chunk, self.cache)
        fresh = lay["fresh"][..., None]
        if k["continuous_compute"] and self.carry is not None:
            start = self.carry.expand_as(p)
        else:
            start = m.initial_state(chunk, k["init_scale"], k["seed"], self.batch.rows)
        z = torch.where(fresh, start, self.z)
        started = rule.start(z, m.config.vocab_size)
        memory = tuple(torch.where(_expand(lay["fresh"], s), s, old) for s, old in zip(started, self.memory)) \
            if self.memory else started
        e = p if k["ema"] == 0 else torch.where(fresh, p, p + k["ema"] * (self.e_prev - p))
        if k["noise"].active:
            eps = m.initial_state(chunk, k["init_scale"], k["seed"], self.batch.rows, draw=lay["draws"])
            beta = lay["beta"]
            if k["variance_preserving"]:
                z = torch.sqrt(1 - beta) * z + torch.sqrt(beta) * eps
            else:
                z = (1 - beta) * z + beta * eps
        for i in range(inner):
            z = m.core_step(z, e, chunk, self.cache, lay["counts"] + (i + 1) if k["kv"].per_step else 1)
        logits = m.decode(z, chunk, self.cache)
        tokens = pick(logits, k["sampling"], k["seed"], self.batch.rows, lay["pos"])
        if isinstance(rule, FixedDepth):
            verdict = tokens[..., None]
        else:
            needs = rule.needs_logits
            conv, memory = rule.check(memory, z, logits if needs else None, tokens if needs else None,
                                      lay["counts"] + inner)
            verdict = torch.stack([tokens, conv.long()], dim=-1)
        host = verdict.tolist()  # the tick's one synchronisation
        self._decide(host, z, lay)
        self._realign(z, e, memory)

    def _decide(self, host: list, z: Tensor, lay: dict[str, Tensor]) -> None:
        k, inner = self.k, self.k["inner"]
        runs, commits, standing = [], [], []
        self.moves = []
        for b, f in enumerate(self.fronts):
            if f.done:
                self.moves.append((0, 0))
                continue
            runs += [Run(b, f.head + i, f.counts[i] + 1, inner) for i in range(f.width)]
            f.record_tick(inner)
            predicted = [row[0] for row in host[b][: f.width]]
            converged = [self._converged(f.counts[i], host[b][i]) for i in range(f.width)]
            decision = f.decide(predicted, converged, self.rule.rightmost, self.stops)
            for pos, tok in decision.commits:
                commits.append(Commit(b, pos, tok))
                self.latents[b].append(z[b, pos - 1 - f.head])
            old_width = f.width
            end = f.head + f.width
            placeholder = self._placeholders(b, end + 1, k["headway"] - 1)
            appended, stood = f.advance(decision, predicted, k["max_wavefront"], k["headway"], placeholder)
            if stood:
                standing.append(b)
            self.moves.append((decision.exits, old_width))
        self.trace.ticks.append(Tick(passes=inner, runs=runs, commits=commits, standing=standing))

    def _converged(self, count: int, verdict: list[int]) -> bool:
        if count >= self.k["max_depth"]:
            return True
        if count < self.k["min_depth"]:
            return False
        if isinstance(self.rule, FixedDepth):
            return count >= self.rule.depth
        return bool(verdict[1])

    def _placeholders(self, row: int, first: int, n: int) -> list[int]:
        """Filler tokens for positions first..first+n-1, keyed like all randomness (computed on the host)."""
        if n <= 0:
            return []
        pos = torch.arange(first, first + n)[None]
        rows = self.batch.rows[row: row + 1].cpu()
        u = keyed_uniform(self.k["seed"], Stream.PLACEHOLDER, rows, pos, 0, 1)[0, :, 0]
        return (u * self.model.config.vocab_size).long().tolist()

    def _realign(self, z: Tensor, e: Tensor, memory: tuple[Tensor, ...]) -> None:
        """Shift each row's tensors so that index 0 is its new head; new positions get filled next tick."""
        b = self.batch.batch_size
        width = max([f.width for f in self.fronts if not f.done], default=0)
        shift = torch.tensor([s for s, _ in self.moves], device=z.device)
        last = torch.tensor([max(w - 1, 0) for _, w in self.moves], device=z.device)
        self.carry = z[torch.arange(b, device=z.device), last][:, None]
        old = z.shape[1]
        idx = (torch.arange(width, device=z.device)[None, :] + shift[:, None]).clamp(max=max(old - 1, 0))
        self.z = _gather(z, idx)
        self.e_prev = _gather(e, idx)
        self.memory = tuple(_gather(t, idx) for t in memory)


def _gather(t: Tensor, idx: Tensor) -> Tensor:
    """t [B, W, ...] -> [B, W', ...] taking t[b, idx[b, w]]."""
    return t[torch.arange(t.shape[0], device=t.device)[:, None], idx]


def _expand(mask: Tensor, like: Tensor) -> Tensor:
    return mask.reshape(*mask.shape, *([1] * (like.dim() - mask.dim())))
