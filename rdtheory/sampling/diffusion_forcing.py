"""The diffusion-forcing sampler: a wavefront of positions advanced together, a new token drafted every tick.

Each tick, for every row at once: embed the wavefront's input tokens (committed or drafts), smooth the injected
embeddings with an EMA, mix noise into the states, run `inner` (r') recurrences over all wavefront positions in one
batched step, decode every position, and decide which prefix of each wavefront leaves and what it commits. All of
that is tensor operations over [rows, wavefront]; the one host synchronisation per tick reads the decision back.
The wavefront's tokens, counts and states stay on the device; the host keeps a few integers per row (`RowFront`).
"""

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from rdtheory.model.cache import KVCache, KVPolicy, ShareLast
from rdtheory.model.recurrent import RecurrentDepthLM
from rdtheory.sampling.batch import (
    Generation,
    Prompts,
    PromptsLike,
    cat_rows,
    check_common,
    check_depth,
    check_model,
    check_stop_tokens,
    prepare_prompts,
)
from rdtheory.sampling.exits import ExitRule, LatentDiff
from rdtheory.sampling.finite import raise_nonfinite
from rdtheory.sampling.graphs import GraphCache, Stager, bucket_context, bucket_width, use_graphs
from rdtheory.sampling.prefill import prefill
from rdtheory.sampling.schedules import NO_NOISE, NoiseSchedule
from rdtheory.sampling.tokens import GREEDY, RANKS, Sampling, pick, top_ranks
from rdtheory.sampling.trace import Block, Commit, Tick, Trace
from rdtheory.sampling.wave import move, tick
from rdtheory.sampling.wavefront import RowFront
from rdtheory.sampling.workspace import Workspace


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
    hold_stale_drafts: bool = True,
    min_depth: int = 1,
    max_depth: int | None = None,
    sampling: Sampling = GREEDY,
    stop_tokens: Sequence[int] | None = None,
    seed: int = 0,
    row_ids: Sequence[int] | None = None,
    kv: KVPolicy = ShareLast(),
    graphs: bool | None = None,
    workspace: Workspace | None = None,
) -> Generation:
    """Diffusion-forcing generation.

    inner: recurrences per tick (r'). depth: r, the prefill depth (default the config's mean_recurrence).
    exit: when a wavefront position may leave (FixedDepth(r) is the paper's Algorithm 1, LatentDiff its
    Algorithm 2). max_wavefront: cap on active positions per row. headway: new positions appended per tick.
    ema: eta of the embedding EMA. noise: beta schedule of the state noise; variance_preserving mixes
    sqrt(1-beta) z + sqrt(beta) noise instead of (1-beta) z + beta noise. continuous_compute: new positions start
    from their left neighbour's state instead of a fresh one. full_prefill: run the prompt at depth r in parallel
    (otherwise the prompt enters the wavefront). max_depth (default 2r) forces a position out; min_depth is the
    first recurrence count at which the rule is consulted. max_ticks stops the run (finished "max_ticks") after
    that many diffusion-forcing ticks; the prefill pass (full_prefill) is not counted.
    hold_stale_drafts: a position after the head leaves only if the draft it consumed this tick equals the token
    its left neighbour commits, otherwise it is held for another tick on the committed token (even past
    max_depth), so every committed token was decoded from a state that saw the committed tokens to its left.
    False commits on the exit rule's verdict alone, as the paper's Algorithm 2 and the reference code do; with
    the fixed rule the run is then exactly `rdtheory.theory.df_schedule` for any headway. The two agree whenever
    no draft is stale at its exit, e.g. with headway 1 and the fixed rule.
    graphs: replay each tick as a CUDA graph (default: on CUDA devices); results are the same either way.
    workspace: reuse KV caches and graphs across calls (see `rdtheory.sampling.workspace`).

    Randomness: every random number (initial states when init_scale > 0, the state noise, the Gumbel noise of
    sampling when temperature > 0, the placeholder drafts of headway > 1) is a pure function of (seed, row id,
    position, draw index), never of call order or of the other rows. A row's id is its index in the batch unless
    `row_ids` gives one int >= 0 per prompt. So a batch row equals its prompt run alone only when both runs give
    it the same id: row b of ``generate_df(model, prompts, n, ...)`` is
    ``generate_df(model, [prompts[b]], n, ..., row_ids=[b])``. Equal ids in one batch give equal noise.
    """
    check_model(model)
    depth = model.config.mean_recurrence if depth is None else depth
    max_depth = 2 * depth if max_depth is None else max_depth
    for name, value in (("inner", inner), ("depth", depth), ("max_wavefront", max_wavefront),
                        ("headway", headway), ("min_depth", min_depth), ("max_depth", max_depth)):
        check_depth(name, value)
    if min_depth > max_depth:
        raise ValueError(f"min_depth={min_depth} must be <= max_depth={max_depth}")
    if max_ticks is not None:
        check_depth("max_ticks", max_ticks)
    if not 0 <= ema < 1:
        raise ValueError(f"ema={ema} must lie in [0, 1)")
    if not init_scale >= 0:
        raise ValueError(f"init_scale={init_scale} must be >= 0")
    if not isinstance(exit, ExitRule):
        raise TypeError(f"exit={exit!r} must be an ExitRule (FixedDepth, LatentDiff, KLDiff, TokenStability)")
    if not isinstance(hold_stale_drafts, bool):
        raise TypeError(f"hold_stale_drafts={hold_stale_drafts!r} must be a bool")
    if not isinstance(noise, NoiseSchedule):
        raise TypeError(f"noise={noise!r} must be a NoiseSchedule (Constant, Dampened, Linear)")
    seed = check_common(model, seed, sampling, kv, workspace)
    batch = prepare_prompts(model, prompts, max_new_tokens, row_ids)
    knobs = dict(inner=inner, depth=depth, exit=exit, cap=max_wavefront, headway=headway, ema=ema, noise=noise,
                 vp=variance_preserving, init_scale=init_scale, continuous=continuous_compute,
                 full_prefill=full_prefill, max_ticks=max_ticks, hold_stale_drafts=hold_stale_drafts,
                 min_depth=min_depth, max_depth=max_depth,
                 sampling=sampling, seed=seed, kv=kv, stops=check_stop_tokens(model, stop_tokens),
                 graphs=use_graphs(model, graphs))
    return _DFRun(model, batch, max_new_tokens, knobs, workspace).generate()


def tick_bound(prompt_len: int, n_new: int, inner: int, max_depth: int, full_prefill: bool) -> int:
    """Most ticks a row can take: the head always leaves within ceil(max_depth / inner) ticks of becoming the
    head, so positions leave at least that often; the positions to run are P..P+N-2 after a prefill tick, or
    0..P+N-2 without one."""
    if n_new == 0:
        return 0
    per_position = math.ceil(max_depth / inner)
    if full_prefill:
        return 1 + (n_new - 1) * per_position
    return (prompt_len + n_new - 1) * per_position


def deepest_count(inner: int, max_depth: int, cap: int, hold_stale_drafts: bool = True) -> int:
    """Most recurrences a position can accumulate: it is forced out once its count reaches max_depth (a whole
    number of ticks), and every position to its left entered earlier, so has been forced out by then too. Only
    with `hold_stale_drafts` can a position that is not the head be held past that, by a draft that disagrees with
    the committed token; the head leaves every tick once forced, so it waits at most (its index in the wavefront)
    < cap more ticks."""
    return inner * (math.ceil(max_depth / inner) + (cap - 1 if hold_stale_drafts else 0))


class _DFRun:
    """One generation. Device tensors are [B, W]-aligned with each row's wavefront (index 0 is its head)."""

    def __init__(self, model: RecurrentDepthLM, batch: Prompts, n_new: int, knobs: dict,
                 workspace: Workspace | None) -> None:
        self.model, self.batch, self.n_new, self.k = model, batch, n_new, knobs
        self.rule: ExitRule = knobs["exit"]
        dev, b = model.device, batch.batch_size
        self.trace = Trace(prompt_lengths=list(batch.lengths))
        self.trace.tick_bound = max(tick_bound(n, n_new, knobs["inner"], knobs["max_depth"], knobs["full_prefill"])
                                    for n in batch.lengths)
        self.latents: list[list[Tensor]] = [[] for _ in range(b)]  # per row, [n, h] blocks of committed latents
        self.top: list[list[Tensor]] = [[] for _ in range(b)]
        self.lengths = batch.lengths_t
        self.stops = torch.tensor(sorted(knobs["stops"]), dtype=torch.long, device=dev)
        # Everything a captured tick depends on besides its tensor inputs: part of every graph's key.
        self.signature = (tuple(sorted(knobs.items())), b)
        self.graphs: GraphCache | None = None
        self.stage = Stager(dev)
        if n_new > 0:
            slots = max(knobs["depth"], deepest_count(knobs["inner"], knobs["max_depth"], knobs["cap"],
                                                      knobs["hold_stale_drafts"]))
            max_len = max(n + n_new - 1 for n in batch.lengths)
            if workspace is not None:
                self.cache, self.graphs = workspace.get(knobs["kv"], b, max_len, slots, knobs["graphs"])
            else:
                self.cache = KVCache(model.config, knobs["kv"], b, max_len, slots, model.dtype, dev)
                self.graphs = GraphCache() if knobs["graphs"] else None

    @torch.no_grad()
    def generate(self) -> Generation:
        self._start()
        while not all(f.done for f in self.fronts):
            if self.k["max_ticks"] is not None and self._wave_ticks() >= self.k["max_ticks"]:
                self.trace.max_ticks_reached = True
                for f in self.fronts:
                    if not f.done:
                        f.finished = "max_ticks"
                break
            self._tick()
        latents = cat_rows(self.latents, self.model.config.n_embd, self.model.dtype)
        return Generation([f.committed for f in self.fronts], latents, cat_rows(self.top, RANKS, torch.long),
                          [f.finished for f in self.fronts], self.trace)

    def _wave_ticks(self) -> int:
        """Diffusion-forcing ticks run so far: the prompt's prefill pass is not one."""
        return sum(not t.prefill for t in self.trace.ticks)

    def _start(self) -> None:
        m, k, batch, dev = self.model, self.k, self.batch, self.model.device
        b, h = batch.batch_size, m.config.n_embd
        self.carry: Tensor | None = None
        if self.n_new == 0:
            self.fronts = [RowFront(n, 0, 0, 0, n, done=True) for n in batch.lengths]
            width, first_tokens = 0, torch.zeros(b, 0, dtype=torch.long, device=dev)
        elif k["full_prefill"]:
            state, logits, pos = prefill(m, batch, self.cache, k["depth"], k["init_scale"], k["seed"], self.trace,
                                         self.graphs, self.signature)
            first = pick(logits, k["sampling"], k["seed"], batch.rows, pos)
            top = top_ranks(logits)[:, 0]
            self.fronts = [RowFront(n, self.n_new, n, 1, n, committed=[t]) for n, t in
                           zip(batch.lengths, first[:, 0].tolist())]
            for i, f in enumerate(self.fronts):
                stopped = f.committed[0] in k["stops"]
                f.done, f.finished = stopped or f.budget == 0, "stop" if stopped else "length"
                self.latents[i].append(state[i, :1])
                self.top[i].append(top[i: i + 1])
                self.trace.ticks[-1].commits.append(Commit(i, f.prompt_len, f.committed[0]))
            self.carry = state
            width, first_tokens = 1, first
        else:
            cap = k["cap"]
            self.fronts = [RowFront(n, self.n_new, 0, min(n, cap), min(n, cap)) for n in batch.lengths]
            width = max(f.width for f in self.fronts)
            first_tokens = batch.ids[:, :width]
        self.inputs = first_tokens
        self.counts = torch.zeros(b, width, dtype=torch.long, device=dev)
        self.draws = torch.zeros_like(self.counts)
        self.fresh = torch.ones(b, width, dtype=torch.bool, device=dev)
        self.z = torch.zeros(b, width, h, dtype=m.dtype, device=dev)
        self.e_prev = torch.zeros_like(self.z)
        self.memory = self.rule.start(self.z, m.config.vocab_size)

    # ------------------------------------------------------------------------------------------------ one tick

    def _tick(self) -> None:
        k = self.k
        live = [f for f in self.fronts if not f.done]
        kv_len = max(f.head + f.width for f in live)
        if self.graphs is not None:
            kv_len = bucket_context(kv_len, self.cache.max_len)
        heads, widths, budget = self.stage("tick", [[f.head for f in self.fronts],
                                                    [0 if f.done else f.width for f in self.fronts],
                                                    [f.budget for f in self.fronts]])
        inputs = dict(
            inputs=self.inputs, counts=self.counts, draws=self.draws, fresh=self.fresh, z=self.z, e_prev=self.e_prev,
            memory=self.memory, carry=self.z[:, :1] if self.carry is None else self.carry, heads=heads,
            widths=widths, budget=budget, rows=self.batch.rows, lengths=self.lengths, stops=self.stops,
        )
        use_carry = k["continuous"] and self.carry is not None

        def compute(x: dict) -> dict:
            return tick(self.model, self.cache, self.k, x, kv_len, use_carry)

        if self.graphs is None:
            out = compute(inputs)
        else:
            out = self.graphs.run((self.signature, self.inputs.shape[1], kv_len, use_carry), compute, inputs)
        packed = out["packed"].tolist()  # the tick's one synchronisation
        self._record(packed, out["z"], out["top"], self.inputs.shape[1])
        self._advance(out)

    def _record(self, packed: list[list[int]], z: Tensor, top: Tensor, w: int) -> None:
        """Apply the decision on the host: commits, latents and the trace."""
        tick = Tick(passes=self.k["inner"], blocks=[])
        self.old_widths = [0 if f.done else f.width for f in self.fronts]
        for b, f in enumerate(self.fronts):
            if f.done:
                continue
            exits, stop, before = packed[b][0], bool(packed[b][1]), packed[b][2: 2 + w]
            predicted, codes = packed[b][2 + w: 2 + 2 * w], packed[b][2 + 2 * w:]
            for i in range(f.width):
                raise_nonfinite(codes[i], b, f.head + i, before[i] + self.k["inner"])
            tick.blocks.append(Block(b, f.head, tuple(n + 1 for n in before[: f.width]), self.k["inner"]))
            lo = max(f.head, f.prompt_len - 1) - f.head  # positions before P-1 leave without committing
            if exits > lo:  # wavefront entries lo..exits-1 commit, one slice per row
                tick.commits += [Commit(b, f.head + i + 1, predicted[i]) for i in range(lo, exits)]
                self.latents[b].append(z[b, lo:exits].clone())
                self.top[b].append(top[b, lo:exits].clone())
            f.commit(exits, stop, predicted)
        self.trace.ticks.append(tick)

    def _advance(self, out: dict) -> None:
        """Plan what enters each row (host integers), then move the state on the device."""
        k, w = self.k, self.inputs.shape[1]
        kept = [f.width for f in self.fronts]
        for row, f in enumerate(self.fronts):
            if f.plan_append(k["cap"], k["headway"])[2]:
                self.trace.ticks[-1].standing.append(row)
        new_w = max([f.width for f in self.fronts if not f.done], default=0)
        if self.graphs is not None:
            new_w = bucket_width(new_w)
        plan = self.stage("advance", [kept, [f.head for f in self.fronts], [max(x - 1, 0) for x in self.old_widths]])
        x = dict(out=out, plan=plan, inputs=self.inputs, rows=self.batch.rows, lengths=self.lengths,
                 ids=self.batch.ids)

        def moved_state(x: dict) -> dict:
            return move(self.model, self.k, x, new_w)

        if self.graphs is None:
            moved = moved_state(x)
        else:
            moved = self.graphs.run((self.signature, "advance", w, new_w, self.batch.ids.shape[1]), moved_state, x)
        self.inputs, self.counts, self.draws, self.fresh = moved["inputs"], moved["counts"], moved["draws"], \
            moved["fresh"]
        self.z, self.e_prev, self.memory, self.carry = moved["z"], moved["e_prev"], moved["memory"], moved["carry"]
