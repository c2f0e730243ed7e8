"""Equivalence checks between samplers: exact in float64, a stated tolerance rule in low precision.

Point them at your own sampler: any callable `sampler(model, prompts, max_new_tokens) -> Generation` (or one that
returns plain token lists) can be compared with the plain AR oracle or with another sampler. The paper's exact
reductions: (a) `check_against_oracle` with a DF sampler at r' = r, FixedDepth(r); (b)
`check_wavefront_one_limit`, DF with a wavefront of one against adaptive AR; (c) `ar_limit` states exactly when
the diffusion-forcing sampler must reproduce AR token for token. The converged limit is in
`rdtheory.testing.convergence`.
"""

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from rdtheory.model.cache import KVPolicy
from rdtheory.model.recurrent import RecurrentDepthLM
from rdtheory.sampling.autoregressive import generate_ar
from rdtheory.sampling.batch import Generation
from rdtheory.sampling.exits import ExitRule, FixedDepth
from rdtheory.sampling.schedules import NoiseSchedule
from rdtheory.testing.df_reference import DFReferenceResult, df_reference
from rdtheory.testing.oracle import oracle_generate

SamplerFn = Callable[[RecurrentDepthLM, list[list[int]], int], Generation]


def first_divergence(a: Sequence[int], b: Sequence[int]) -> int | None:
    """Index of the first differing token (or of the shorter end), None when equal."""
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def assert_same_tokens(got: Sequence[Sequence[int]], want: Sequence[Sequence[int]], what: str = "") -> None:
    for row, (g, w) in enumerate(zip(got, want, strict=True)):
        i = first_divergence(g, w)
        if i is not None:
            raise AssertionError(f"{what} row {row}: tokens diverge at new token {i}: got {list(g)[i:i + 5]}..., "
                                 f"want {list(w)[i:i + 5]}...")


def assert_same_latents(got: Sequence[Tensor], want: Sequence[Tensor], rtol: float = 1e-9, what: str = "") -> None:
    """Latents agree to rtol relative to their norm (0 asks for bitwise equality)."""
    for row, (g, w) in enumerate(zip(got, want, strict=True)):
        if g.shape != w.shape:
            raise AssertionError(f"{what} row {row}: latents of shape {list(g.shape)} vs {list(w.shape)}")
        if rtol == 0:
            if not torch.equal(g, w.to(g)):
                raise AssertionError(f"{what} row {row}: latents not bitwise equal")
            continue
        err = ((g.double() - w.double()).norm(dim=-1) / w.double().norm(dim=-1).clamp(min=1e-300)).max().item() \
            if len(g) else 0.0
        if err > rtol:
            raise AssertionError(f"{what} row {row}: latents differ by {err:.3g} (relative) > rtol={rtol}")


def check_against_oracle(sampler: SamplerFn, model: RecurrentDepthLM, prompts: list[list[int]], max_new_tokens: int,
                         kv: KVPolicy, depth: int, init_scale: float = 0.0, seed: int = 0,
                         rtol: float = 1e-9) -> Generation:
    """Your sampler, configured for greedy static-depth AR (or its AR limit), against the plain oracle, row by row.

    The oracle runs greedy AR at `depth` recurrences per token from the initial state `init_scale` (0.0: zeros, the
    only setting another implementation can match without rdtheory's position-keyed noise; rdtheory's samplers
    default to 1.0) with KV policy `kv`, no stop tokens; a mismatch message lists these settings."""
    got = sampler(model, prompts, max_new_tokens)
    want = [oracle_generate(model, p, max_new_tokens, kv, depth=depth, init_scale=init_scale, seed=seed, row=b)
            for b, p in enumerate(prompts)]
    try:
        assert_same_tokens(got.tokens, [w.tokens for w in want], "oracle")
        assert_same_latents(got.latents, [w.latents for w in want], rtol, "oracle")
    except AssertionError as mismatch:
        raise AssertionError(f"{mismatch}; {oracle_settings(kv, depth, init_scale, seed)}") from None
    return got


def oracle_settings(kv: KVPolicy, depth: int, init_scale: float, seed: int) -> str:
    """How the oracle ran, and where that differs from the defaults of rdtheory's samplers (a sampler left at
    those defaults disagrees with the oracle for that reason alone)."""
    ran = f"the oracle ran greedy, depth={depth}, kv={kv!r}, init_scale={init_scale}, seed={seed}, no stop tokens"
    differs = []
    if init_scale != SAMPLER_DEFAULTS["init_scale"]:
        differs.append(f"init_scale={init_scale} (the samplers' default is {SAMPLER_DEFAULTS['init_scale']}; "
                       f"pass init_scale={init_scale} to your sampler)")
    if kv != SAMPLER_DEFAULTS["kv"]:
        differs.append(f"kv={kv!r} (the samplers' default is {SAMPLER_DEFAULTS['kv']!r}; pass kv={kv!r})")
    if not differs:
        return ran
    return f"{ran}; it differs from the defaults of generate_ar and generate_df in " + " and ".join(differs)


SAMPLER_DEFAULTS = {
    "init_scale": inspect.signature(generate_ar).parameters["init_scale"].default,
    "kv": inspect.signature(generate_ar).parameters["kv"].default,
}
"""The defaults a sampler left unconfigured runs with (generate_ar's, which generate_df shares)."""


def assert_matches_df_reference(run: Generation, b: int, ref: DFReferenceResult, rtol: float = 1e-10) -> None:
    """Row b of a batched diffusion-forcing run against the plain reference run of its prompt as row b: tokens,
    latents (to rtol of their norm), how it finished and, when the run carries rdtheory's `Trace`, the recurrences
    per position, the ticks the row ran in (the prefill first), the positions each committed and its standing
    waves."""
    what = f"DF reference row {b}"
    i = first_divergence(run.tokens[b], ref.tokens)
    if i is not None:
        raise AssertionError(f"{what}: tokens diverge at new token {i}: got {list(run.tokens[b])[i:i + 5]}..., "
                             f"reference {ref.tokens[i:i + 5]}...")
    try:
        assert_same_latents([run.latents[b]], [ref.latents], rtol)
    except AssertionError as error:
        raise AssertionError(f"{what}: {str(error).removeprefix(' row 0: ')}") from None
    finished = getattr(run, "finished", None)
    if finished is not None and finished[b] != ref.finished:
        raise AssertionError(f"{what}: finished {finished[b]!r} vs reference {ref.finished!r}")
    trace = getattr(run, "trace", None)
    if trace is None:
        return
    if trace.recurrences(b) != ref.recurrences:
        raise AssertionError(f"{what}: recurrences per position {trace.recurrences(b)} vs {ref.recurrences}")
    # The row's own ticks: the prefill (shared by every row), then those in which it ran; later ticks of the batch
    # belong to rows still running and must neither run nor commit anything of row b.
    ticks = [t for t in trace.ticks if any(blk.row == b for blk in t.blocks)]
    got = dict(ticks=len(ticks), prefill=bool(ticks) and ticks[0].prefill,
               commits=[[c.pos for c in t.commits if c.row == b] for t in ticks],
               standing=[b in t.standing for t in ticks],
               committed=sum(c.row == b for t in trace.ticks for c in t.commits))
    want = dict(ticks=len(ref.commits), prefill=ref.prefill, commits=ref.commits, standing=ref.standing,
                committed=len(ref.tokens))
    for key in got:
        if got[key] != want[key]:
            raise AssertionError(f"{what}: {key} {got[key]} vs reference {want[key]}")


def check_against_df_reference(sampler: Callable[..., Generation], model: RecurrentDepthLM,
                               prompts: list[list[int]], max_new_tokens: int, *, rtol: float = 1e-10,
                               **knobs: object) -> Generation:
    """Your diffusion-forcing sampler, called as sampler(model, prompts, max_new_tokens, **knobs) with
    `generate_df`'s knob names, against `rdtheory.testing.df_reference` run on each prompt with the same knobs
    (row b keyed as row b), row by row (`assert_matches_df_reference`). Exact in float64: rtol 1e-10."""
    got = sampler(model, prompts, max_new_tokens, **knobs)
    for b, prompt in enumerate(prompts):
        assert_matches_df_reference(got, b, df_reference(model, prompt, max_new_tokens, row=b, **knobs), rtol)
    return got


@dataclass(frozen=True)
class ARLimit:
    """Whether diffusion forcing must equal AR for given knobs, and why (or why not)."""

    holds: bool
    reason: str


def ar_limit(inner: int, depth: int, exit: ExitRule, max_wavefront: int, headway: int, noise: NoiseSchedule,
             init_scale: float, df_continuous: bool, ar_continuous: bool, full_prefill: bool = True,
             min_depth: int = 1, max_depth: int | None = None, *, kv: KVPolicy | None = None,
             prompt_len: int | None = None) -> ARLimit:
    """When does DF with r' = inner reproduce static AR at depth r (greedy or keyed sampling, same seed)?

    Each position must run exactly r recurrences in one tick, from the same initial state, and commit at once:
    r' = r and a rule that is certain to fire after that tick (FixedDepth(d) with d, min_depth <= r, or any rule
    with max_depth <= r); one position per tick, so the wavefront cap is 1 or headway is 1. The prompt must be
    prefilled as AR prefills it, all positions r steps together: a full prefill at depth r does, and so does the
    wavefront when the whole prompt enters in its first tick (max_wavefront >= the longest prompt, `prompt_len`);
    a prompt entering in chunks gives the same keys only with PerStep keys (`kv`: a later chunk reads each step's
    keys) and without continuous compute (a later chunk would start from its left neighbour's state). The
    sampling settings and seed are the same on both sides (token noise is keyed by position). Then the EMA cannot
    act (no position sees a second tick), and the noise mixed at the start of a position's only tick acts on its
    initial state: it is a no-op iff beta = 0 at count 0, or the state and the noise are both zero (init_scale = 0
    and no continuous compute, whose initial state is the left neighbour's). Continuous compute must be the same
    on both sides. Nothing else matters. Without a full prefill, pass `kv` and `prompt_len` (else the verdict is
    that the limit is not certain).
    """
    if inner != depth:
        return ARLimit(False, f"inner={inner} != depth={depth}: a position spans several ticks")
    fixed = isinstance(exit, FixedDepth) and exit.depth <= depth and min_depth <= depth
    if not (fixed or (max_depth is not None and max_depth <= depth)):
        return ARLimit(False, f"exit={exit!r} with min_depth={min_depth}, max_depth={max_depth} is not certain to "
                              f"commit after one tick of {depth} recurrences")
    if max_wavefront > 1 and headway > 1:
        return ARLimit(False, f"headway={headway} with max_wavefront={max_wavefront} runs placeholders")
    if not full_prefill:
        if prompt_len is None or kv is None:
            return ARLimit(False, "without full prefill the prompt runs through the wavefront: whether it is "
                                  "prefilled as AR does depends on kv and prompt_len, which were not given")
        if max_wavefront < prompt_len and (df_continuous or not kv.per_step):
            why = "continuous compute starts a later chunk from its left neighbour" if df_continuous else \
                "ShareLast keys of an earlier chunk are its last step's, not each step's"
            return ARLimit(False, f"without full prefill a prompt of {prompt_len} tokens enters a wavefront capped "
                                  f"at {max_wavefront} in chunks, and {why}")
    if noise.beta(0) > 0 and (init_scale > 0 or df_continuous):
        return ARLimit(False, f"noise beta(0)={noise.beta(0)} acts on a non-zero initial state (init_scale="
                              f"{init_scale}, continuous compute {df_continuous})")
    if df_continuous != ar_continuous:
        return ARLimit(False, "continuous compute differs between the two samplers")
    return ARLimit(True, "one position per tick, r recurrences, committed at once; EMA and noise cannot act")


DFFn = Callable[..., Generation]
AdaptiveFn = Callable[..., Generation]


def check_wavefront_one_limit(df: DFFn, adaptive: AdaptiveFn, model: RecurrentDepthLM, prompts: list[list[int]],
                              max_new_tokens: int, *, exit: ExitRule, inner: int, depth: int, max_depth: int,
                              min_depth: int = 1, rtol: float = 1e-10) -> tuple[Generation, Generation]:
    """Reduction (b): diffusion forcing with a wavefront of one position and any exit rule (the paper's
    LatentDiff(eps) among them), r' = `inner` recurrences per tick, equals adaptive AR with the same rule checked
    every `inner` steps, token for token and latent for latent (to `rtol`), row by row.

    `df` is called as df(model, prompts, max_new_tokens, inner=, depth=, exit=, max_wavefront=1, min_depth=,
    max_depth=) and `adaptive` as adaptive(model, prompts, max_new_tokens, exit, check_every=inner,
    prefill_depth=depth, min_depth=, max_depth=); fix every other knob with functools.partial, the same on both
    sides (seed, init_scale, kv, continuous compute, sampling, stop tokens). The DF side may use any EMA (its one
    position's input token never changes) but no state noise. When both results carry a `trace`, each position's
    recurrences must agree too. Returns (df result, adaptive result)."""
    common = dict(min_depth=min_depth, max_depth=max_depth)
    got = df(model, prompts, max_new_tokens, inner=inner, depth=depth, exit=exit, max_wavefront=1, **common)
    want = adaptive(model, prompts, max_new_tokens, exit, check_every=inner, prefill_depth=depth, **common)
    what = f"DF(max_wavefront=1, inner={inner}, {exit!r}) vs adaptive AR (check_every={inner})"
    assert_same_tokens(got.tokens, want.tokens, what)
    assert_same_latents(got.latents, want.latents, rtol, what)
    got_trace, want_trace = getattr(got, "trace", None), getattr(want, "trace", None)
    if got_trace is not None and want_trace is not None:
        for row in range(len(prompts)):
            if got_trace.recurrences(row) != want_trace.recurrences(row):
                raise AssertionError(f"{what} row {row}: recurrences per position {got_trace.recurrences(row)} vs "
                                     f"{want_trace.recurrences(row)}")
    return got, want


@dataclass(frozen=True)
class TopKVerdict:
    """Low-precision comparison of two runs of one row: the first divergent token (None if none) and whether, there,
    each side's token is among the other's top-k (vLLM's rule; comparison stops at the first divergence)."""

    compared: int
    first_divergence: int | None
    ok: bool


def top_k_rule(a: Generation, b: Generation, row: int = 0, k: int = 5) -> TopKVerdict:
    ta, tb = a.tokens[row], b.tokens[row]
    i = first_divergence(ta, tb)
    if i is None:
        return TopKVerdict(len(ta), None, True)
    if i >= min(len(ta), len(tb)):
        return TopKVerdict(i, i, False)
    ok = ta[i] in b.top[row][i, :k].tolist() and tb[i] in a.top[row][i, :k].tolist()
    return TopKVerdict(i, i, ok)
