"""Autoregressive sampling: one position per row at a time, each run through its recurrences, then committed.

`generate_ar` runs every token to a fixed depth r; `generate_adaptive` stops each token's recurrence on an exit
rule (between min and max depth, checked every `check_every` steps). Both prefill the prompt in one parallel pass
at a fixed depth, batch prompts of different lengths (each row at its own positions; a row that has exited stops
writing the cache, so rows never see each other's deeper keys), and stop a row at a stop token or after
`max_new_tokens`.
"""

from collections.abc import Sequence

import torch
from torch import Tensor

from rdtheory.model.cache import KVCache, KVPolicy, ShareLast
from rdtheory.model.layers import Chunk
from rdtheory.model.recurrent import RecurrentDepthLM
from rdtheory.sampling.batch import (
    Generation,
    Prompts,
    PromptsLike,
    check_common,
    check_depth,
    check_model,
    check_stop_tokens,
    prepare_prompts,
    stack_rows,
)
from rdtheory.sampling.exits import ExitRule, FixedDepth
from rdtheory.sampling.finite import nonfinite_codes, raise_nonfinite
from rdtheory.sampling.graphs import GraphCache, Stager, bucket_context, use_graphs
from rdtheory.sampling.prefill import prefill
from rdtheory.sampling.tokens import GREEDY, RANKS, Sampling, pick, top_ranks
from rdtheory.sampling.trace import Block, Commit, Tick, Trace
from rdtheory.sampling.workspace import Workspace


def generate_ar(
    model: RecurrentDepthLM,
    prompts: PromptsLike,
    max_new_tokens: int,
    depth: int | None = None,
    *,
    sampling: Sampling = GREEDY,
    stop_tokens: Sequence[int] | None = None,
    seed: int = 0,
    row_ids: Sequence[int] | None = None,
    init_scale: float = 1.0,
    kv: KVPolicy = ShareLast(),
    continuous_compute: bool = False,
    graphs: bool | None = None,
    workspace: Workspace | None = None,
) -> Generation:
    """Static-depth AR: prefill at depth r, then each new token with exactly r recurrences (r defaults to the
    config's mean_recurrence).

    seed and row_ids key the randomness (initial states and token sampling), see `generate_adaptive`: row b of a
    batch equals its prompt run alone only when the single run is given the same noise key,
    ``generate_ar(model, [prompts[b]], n, r, ..., row_ids=[b])``."""
    check_model(model)
    depth = model.config.mean_recurrence if depth is None else depth
    check_depth("depth", depth)
    return generate_adaptive(
        model, prompts, max_new_tokens, FixedDepth(depth), max_depth=depth, sampling=sampling,
        stop_tokens=stop_tokens, seed=seed, row_ids=row_ids, init_scale=init_scale, kv=kv,
        continuous_compute=continuous_compute, graphs=graphs, workspace=workspace,
    )


def generate_adaptive(
    model: RecurrentDepthLM,
    prompts: PromptsLike,
    max_new_tokens: int,
    exit: ExitRule,
    *,
    max_depth: int | None = None,
    min_depth: int = 1,
    check_every: int = 1,
    prefill_depth: int | None = None,
    sampling: Sampling = GREEDY,
    stop_tokens: Sequence[int] | None = None,
    seed: int = 0,
    row_ids: Sequence[int] | None = None,
    init_scale: float = 1.0,
    kv: KVPolicy = ShareLast(),
    continuous_compute: bool = False,
    graphs: bool | None = None,
    workspace: Workspace | None = None,
) -> Generation:
    """Adaptive-depth AR: each token recurs until `exit` fires at a check (steps k >= min_depth with
    k % check_every == 0) or max_depth is reached. The prompt is prefilled at prefill_depth (default max_depth).
    max_depth defaults to the config's mean_recurrence. graphs: replay fixed-depth token steps as CUDA graphs
    (default: on CUDA devices). workspace: reuse KV caches and graphs across calls.

    Randomness: every random number (a position's initial state when init_scale > 0, the Gumbel noise of
    sampling when temperature > 0) is a pure function of (seed, row id, position), never of call order. A row's
    id is its index in the batch unless `row_ids` gives one int >= 0 per prompt. So a batch row equals its prompt
    run alone only when both runs give it the same id: row b of ``generate_adaptive(model, prompts, ...)`` is
    ``generate_adaptive(model, [prompts[b]], ..., row_ids=[b])``; run alone without row_ids it gets id 0 and,
    with random initial states or sampling, in general other tokens. Equal ids in one batch give equal noise."""
    check_model(model)
    max_depth = model.config.mean_recurrence if max_depth is None else max_depth
    prefill_depth = max_depth if prefill_depth is None else prefill_depth
    for name, value in (("max_depth", max_depth), ("min_depth", min_depth), ("check_every", check_every),
                        ("prefill_depth", prefill_depth)):
        check_depth(name, value)
    if min_depth > max_depth:
        raise ValueError(f"min_depth={min_depth} must be <= max_depth={max_depth}")
    if not isinstance(exit, ExitRule):
        raise TypeError(f"exit={exit!r} must be an ExitRule (FixedDepth, LatentDiff, KLDiff, TokenStability)")
    if not init_scale >= 0:
        raise ValueError(f"init_scale={init_scale} must be >= 0")
    seed = check_common(model, seed, sampling, kv, workspace)
    batch = prepare_prompts(model, prompts, max_new_tokens, row_ids)
    stops = check_stop_tokens(model, stop_tokens)
    run = _ARRun(model, batch, max_new_tokens, exit, max_depth, min_depth, check_every, sampling, stops, seed,
                 init_scale, kv, continuous_compute, use_graphs(model, graphs), workspace)
    return run.generate(prefill_depth)


class _ARRun:
    """State of one AR generation; `generate` drives it."""

    def __init__(self, model: RecurrentDepthLM, batch: Prompts, n_new: int, rule: ExitRule, max_depth: int,
                 min_depth: int, check_every: int, sampling: Sampling, stops: frozenset[int], seed: int,
                 init_scale: float, kv: KVPolicy, continuous: bool, graphs: bool,
                 workspace: Workspace | None) -> None:
        self.model, self.batch, self.n_new, self.rule = model, batch, n_new, rule
        self.max_depth, self.min_depth, self.check_every = max_depth, min_depth, check_every
        self.sampling, self.stops, self.seed, self.init_scale = sampling, stops, seed, init_scale
        self.kv, self.continuous = kv, continuous
        b = batch.batch_size
        self.trace = Trace(prompt_lengths=list(batch.lengths))
        self.tokens: list[list[int]] = [[] for _ in range(b)]
        self.latents: list[list[Tensor]] = [[] for _ in range(b)]
        self.top: list[list[Tensor]] = [[] for _ in range(b)]
        self.finished = ["length"] * b
        self.done = [n_new == 0] * b
        self.use_graphs, self.workspace = graphs, workspace
        self.stage = Stager(model.device)
        self.graphs: GraphCache | None = None
        # Everything a captured step depends on besides its tensor inputs: part of every graph's key.
        self.signature = (rule, max_depth, min_depth, check_every, sampling, seed, init_scale, kv, continuous, b)

    @torch.no_grad()
    def generate(self, prefill_depth: int) -> Generation:
        if self.n_new > 0:
            args = (self.kv, self.batch.batch_size, max(n + self.n_new - 1 for n in self.batch.lengths),
                    max(self.max_depth, prefill_depth))
            if self.workspace is not None:
                self.cache, self.graphs = self.workspace.get(*args, self.use_graphs)
            else:
                self.cache = KVCache(self.model.config, *args, self.model.dtype, self.model.device)
                self.graphs = GraphCache() if self.use_graphs else None
            state, token = self._prefill(prefill_depth)
            if self.graphs is not None and isinstance(self.rule, FixedDepth):
                self._pipelined(state, token)
            else:
                for step in range(1, self.n_new):
                    if all(self.done):
                        break
                    state, token = self._token(step, state, token)
        latents = stack_rows(self.latents, self.model.config.n_embd, self.model.dtype)
        return Generation(self.tokens, latents, stack_rows(self.top, RANKS, torch.long), self.finished, self.trace)

    def _prefill(self, depth: int) -> tuple[Tensor, Tensor]:
        state, logits, last = prefill(self.model, self.batch, self.cache, depth, self.init_scale, self.seed, self.trace,
                                      self.graphs, self.signature)
        token = pick(logits, self.sampling, self.seed, self.batch.rows, last)
        self._commit(state, token, top_ranks(logits[:, 0]), [n - 1 for n in self.batch.lengths])
        return state, token

    def _token(self, step: int, prev_state: Tensor, token: Tensor) -> tuple[Tensor, Tensor]:
        """Generate new token `step` (0 is the prefill's) for every unfinished row."""
        m, batch = self.model, self.batch
        host_pos = [n + step - 1 for n in batch.lengths]
        staged = self.stage("token", [host_pos, [int(not d) for d in self.done]])
        pos, live = staged[0][:, None], staged[1][:, None].bool()
        kv_len = max(p + 1 for p, d in zip(host_pos, self.done) if not d)
        if isinstance(self.rule, FixedDepth):
            # A depth rule needs no device check: it fires at the first scheduled check at or after its depth.
            # (With graphs, fixed depth runs `_pipelined`; this path is eager.)
            depth = self._fixed_exit(self.rule.depth)
            x = dict(token=token, pos=pos, live=live, prev=prev_state, rows=batch.rows)
            out = self._fixed_token(x, kv_len, depth)
            state, new_token, top, codes = out["state"], out["token"], out["top"], out["nonfinite"]
            depths = [0 if d else depth for d in self.done]
        else:
            chunk = m.chunk(pos, live, kv_len)
            e = m.embed(token, chunk, self.cache)
            start = prev_state if self.continuous else m.initial_state(chunk, self.init_scale, self.seed, batch.rows)
            state, depths = self._recur(start, e, chunk, pos, live, kv_len)
            logits = m.decode(state, chunk, self.cache)
            new_token = pick(logits, self.sampling, self.seed, batch.rows, pos)
            top, codes = top_ranks(logits[:, 0]), nonfinite_codes(state[:, 0], logits[:, 0])
        blocks = [Block(b, host_pos[b], (1,), depths[b]) for b in range(batch.batch_size) if depths[b] > 0]
        self.trace.ticks.append(Tick(passes=max(depths), blocks=blocks))
        self.cache.truncate([p + 1 if not d else self.cache.lengths[b]
                             for b, (p, d) in enumerate(zip(host_pos, self.done))])
        self._commit(state, new_token, top, host_pos, codes, depths)
        return torch.where(live[..., None], state, prev_state), new_token

    def _pipelined(self, state: Tensor, token: Tensor) -> None:
        """Fixed depth with graphs: launch token t + 1 (its input token never leaves the device) before reading
        token t back, so the host's bookkeeping overlaps the device's work. A row that ends at token t has already
        been launched for t + 1; that step's results are dropped and it is not in the trace."""
        pending = None
        for step in range(1, self.n_new):
            if all(self.done):
                break
            launched = self._launch(step, state, token)
            if pending is not None:
                self._land(pending)
            state, token, pending = launched["next_state"], launched["token"], launched
        if pending is not None:
            self._land(pending)

    def _launch(self, step: int, prev_state: Tensor, token: Tensor) -> dict:
        batch = self.batch
        host_pos = [n + step - 1 for n in batch.lengths]
        live_list = [not d for d in self.done]
        staged = self.stage("token", [host_pos, [int(v) for v in live_list]])
        pos, live = staged[0][:, None], staged[1][:, None].bool()
        depth = self._fixed_exit(self.rule.depth)
        kv_len = bucket_context(max(p + 1 for p, v in zip(host_pos, live_list) if v), self.cache.max_len)
        x = dict(token=token, pos=pos, live=live, prev=prev_state, rows=batch.rows)

        def compute(x: dict) -> dict:
            return self._fixed_token(x, kv_len, depth)

        out = self.graphs.run((self.signature, kv_len, depth), compute, x)
        state = out["state"].clone()  # the next replay of this graph overwrites its outputs
        return dict(host_pos=host_pos, live=live_list, depth=depth, state=state, token=out["token"].clone(),
                    top=out["top"].clone(), nonfinite=out["nonfinite"].clone(),
                    next_state=torch.where(live[..., None], state, prev_state))

    def _land(self, p: dict) -> None:
        ran = [p["live"][b] and not self.done[b] for b in range(self.batch.batch_size)]
        if not any(ran):
            return
        blocks = [Block(b, p["host_pos"][b], (1,), p["depth"]) for b in range(self.batch.batch_size) if ran[b]]
        self.trace.ticks.append(Tick(passes=p["depth"], blocks=blocks))
        self.cache.truncate([q + 1 if r else self.cache.lengths[b] for b, (q, r) in enumerate(zip(p["host_pos"], ran))])
        self._commit(p["state"], p["token"], p["top"], p["host_pos"], p["nonfinite"], [p["depth"]] * len(ran))

    def _fixed_token(self, x: dict, kv_len: int, depth: int) -> dict:
        """One token at a fixed depth for every live row, as a function of tensors (capturable as a CUDA graph)."""
        m = self.model
        chunk = m.chunk(x["pos"], x["live"], kv_len)
        e = m.embed(x["token"], chunk, self.cache)
        state = x["prev"] if self.continuous else m.initial_state(chunk, self.init_scale, self.seed, x["rows"])
        for k in range(1, depth + 1):
            state = torch.where(x["live"][..., None], m.core_step(state, e, chunk, self.cache, k), state)
        logits = m.decode(state, chunk, self.cache)
        token = pick(logits, self.sampling, self.seed, x["rows"], x["pos"])
        return dict(state=state, token=token, top=top_ranks(logits[:, 0]),
                    nonfinite=nonfinite_codes(state[:, 0], logits[:, 0]))

    def _recur(self, state: Tensor, e: Tensor, chunk: Chunk, pos: Tensor, live: Tensor, kv_len: int
               ) -> tuple[Tensor, list[int]]:
        """Recur until each live row's exit rule fires; returns the states and each row's depth (0 for finished
        rows). One host synchronisation per check."""
        m, rule = self.model, self.rule
        running = live.clone()
        depths = [0] * self.batch.batch_size
        memory = rule.start(state, m.config.vocab_size)
        step_chunk = chunk
        for k in range(1, self.max_depth + 1):
            state = torch.where(running[..., None], m.core_step(state, e, step_chunk, self.cache, k), state)
            if (k >= self.min_depth and k % self.check_every == 0) or k == self.max_depth:
                logits = tokens = None
                if rule.needs_logits:
                    logits = m.decode(state, step_chunk, self.cache)
                    tokens = pick(logits, self.sampling, self.seed, self.batch.rows, pos)
                converged, memory = rule.check(memory, state, logits, tokens, torch.full_like(pos, k))
                exits = running & (converged | (k == self.max_depth))
            else:
                continue
            for b in torch.nonzero(exits[:, 0]).flatten().tolist():
                depths[b] = k
            running = running & ~exits
            if not bool(running.any()):
                break
            if bool(exits.any()):  # exited rows stop writing the cache
                step_chunk = m.chunk(pos, running, kv_len)
        return state, depths

    def _fixed_exit(self, depth: int) -> int:
        first = max(depth, self.min_depth)
        return min(self.max_depth, -(-first // self.check_every) * self.check_every)

    def _commit(self, state: Tensor, token: Tensor, top: Tensor, pos: list[int], codes: Tensor | None = None,
                depths: list[int] | None = None) -> None:
        """Record each live row's token (decoded from position pos[b] after depths[b] recurrences), its latent and
        its ranks, and stops; codes [B] flags non-finite states or logits (the prefill checks its own)."""
        tick = self.trace.ticks[-1]
        codes = torch.zeros_like(token[:, 0]) if codes is None else codes
        tokens, flags = torch.stack([token[:, 0], codes]).tolist()  # the step's one synchronisation
        for b, t in enumerate(tokens):
            if self.done[b]:
                continue
            raise_nonfinite(flags[b], b, pos[b], 0 if depths is None else depths[b])
            self.tokens[b].append(t)
            self.latents[b].append(state[b, 0].clone())
            self.top[b].append(top[b].clone())
            tick.commits.append(Commit(b, pos[b] + 1, t))
            if t in self.stops:
                self.done[b], self.finished[b] = True, "stop"
            elif len(self.tokens[b]) == self.n_new:
                self.done[b] = True
