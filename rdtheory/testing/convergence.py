"""The converged limit (the paper's Remark 3.1, made precise in `rdtheory.theory.convergence`) as a reusable check.

`check_converged_limit(sampler, model, prompt, epsilons, window=r')` runs your diffusion-forcing sampler with
LatentDiff(eps) for each eps and compares what it commits with the autoregressive fixed point z* (`ar_fixed_point`:
every position iterated until no state moves, tokens greedy from the fixed-point logits):

* the committed latent of the i-th position run in the wave is within `committed_error_bound(lam, eps, B, L, i,
  r')` = C * eps of z*, where the theorem applies (below);
* the committed token equals the fixed-point token wherever the fixed point's logit margin exceeds twice the
  logit error that the latent bound allows (decoder Lipschitz constants, measured like lam and L).

Constants. lam (contraction in the state) and L (Lipschitz in the earlier positions' states) are measured by
autograd (`rdtheory.testing.contraction`) at the fixed point and at the states each run commits, and the maximum
over all of them enters the bound; B is the largest norm of the committed and fixed-point states. A model whose
measured lam reaches `max_contraction` is outside the check (`applicable` False). The measured constants are
local estimates of (A1)-(A2), not certificates.

What is proved and what is only checked. The bound is the theorem of `rdtheory.theory.convergence` under
(A1)-(A5); its proof follows each position only through its last tick, and (A5) asks that during that tick the
input token be the reference token, the state noise beta be zero and the embedding EMA not act. The check asserts
the bound exactly where it can verify this: the tokens agree with the reference up to the position, the sampler
declares `ema=0`, and its `noise` has beta = 0 at the count where each position up to it began its last tick
(read from the run's trace: no noise always; Linear(beta0, D) once a last tick begins at count >= D; Constant and
Dampened never), and no exit was forced (`max_depth`, when given, was not reached). Elsewhere, and in particular
for eta > 0 and for Dampened noise, no rate is proved: the check records the errors (`errors`, `max_error`) and
asserts nothing about them; whether they vanish as eps -> 0 is for the caller to test. The sampler must be greedy,
use ShareLast keys and a full prefill deep enough that the prompt reaches its fixed point to rounding
(`FixedPoint.prompt_steps` says how deep that is; the check verifies it), and commit the contiguous
converged prefix (Eq. 3; the rightmost rule of Algorithm 2 violates (A4)).
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from rdtheory.model.recurrent import RecurrentDepthLM
from rdtheory.sampling.batch import Generation
from rdtheory.sampling.exits import ExitRule, LatentDiff, relative_change
from rdtheory.sampling.schedules import NO_NOISE, NoiseSchedule
from rdtheory.testing.contraction import Constants, max_constants, step_constants
from rdtheory.theory import committed_error_bound

LimitSampler = Callable[[RecurrentDepthLM, list[list[int]], int, ExitRule], Generation]

SCREEN_STEPS = 60  # after this many steps on the prompt, a step constant >= max_contraction gives up early


@dataclass(frozen=True)
class FixedPoint:
    """The AR fixed point for a prompt: its new tokens, the input ids of every position run (prompt and new
    tokens but the last), their fixed-point states z* [S, h] and logits [S, V], and how many steps the prompt took
    to settle from zero states (a prefill a little deeper than that reaches z* to rounding)."""

    tokens: list[int]
    ids: Tensor
    states: Tensor
    logits: Tensor
    prompt_steps: int


def _settle(model: RecurrentDepthLM, ids: Tensor, z: Tensor, tol: float, steps: int) -> tuple[Tensor, int | None]:
    """Iterate one core step over all positions (uncached: each reads the others' current keys) up to `steps`
    times, until no state moves by more than `tol` relative to its norm; the steps taken (None if it did not)."""
    s_len = len(ids)
    chunk = model.chunk(torch.arange(s_len, device=model.device)[None], kv_len=s_len)
    e = model.embed(ids[None], chunk)
    for step in range(1, steps + 1):
        new = model.core_step(z[None], e, chunk)[0]
        moved = relative_change(new, z).max().item()
        z = new
        if moved <= tol:
            return z, step
    return z, None


@torch.no_grad()
def ar_fixed_point(model: RecurrentDepthLM, prompt: Sequence[int], max_new_tokens: int, *, tol: float = 1e-14,
                   max_steps: int = 400, screen: float | None = None) -> FixedPoint | None:
    """The autoregressive solution at infinite depth: the prompt's states iterated together to their fixed point,
    then one new position at a time (its token greedy from the previous position's fixed-point logits) until it
    settles too. None when a position does not settle within `max_steps` steps, or, with `screen`, when after
    SCREEN_STEPS steps the prompt has not settled and its measured step constant is at least `screen`."""
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens={max_new_tokens} must be >= 1")
    h = model.config.n_embd
    ids = torch.tensor(list(prompt), device=model.device)
    z = torch.zeros(len(ids), h, dtype=model.dtype, device=model.device)
    prompt_steps = None
    if screen is not None:
        z, prompt_steps = _settle(model, ids, z, tol, SCREEN_STEPS)
        if prompt_steps is None and max(step_constants(model, ids, z).lam) >= screen:
            return None
    if prompt_steps is None:
        done = SCREEN_STEPS if screen is not None else 0
        z, more = _settle(model, ids, z, tol, max_steps - done)
        if more is None:
            return None
        prompt_steps = done + more
    tokens = []
    for i in range(max_new_tokens):
        s_len = len(ids)
        chunk = model.chunk(torch.arange(s_len, device=model.device)[None], kv_len=s_len)
        logits = model.decode(z[None], chunk)[0]
        tokens.append(int(logits[-1].argmax()))
        if i == max_new_tokens - 1:
            return FixedPoint(tokens, ids, z, logits, prompt_steps)
        ids = torch.cat([ids, ids.new_tensor([tokens[-1]])])
        z, steps = _settle(model, ids, torch.cat([z, z.new_zeros(1, h)]), tol, max_steps)
        if steps is None:
            return None
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class LimitRun:
    """One run at `eps`. errors[i]: |z_committed - z*| of the i-th wave position, for the positions whose input
    tokens agree with the reference; bounds[i]: the theorem's bound where it applies (None elsewhere);
    margin_certified: positions whose token the logit margin certifies (and which agreed)."""

    eps: float
    generation: Generation
    errors: tuple[float, ...]
    bounds: tuple[float | None, ...]
    margin_certified: int

    @property
    def max_error(self) -> float:
        return max(self.errors, default=math.nan)

    @property
    def bounded(self) -> int:
        """How many positions the bound was asserted for."""
        return sum(b is not None for b in self.bounds)


@dataclass(frozen=True)
class ConvergedLimit:
    """The outcome of `check_converged_limit`. applicable: the model and prompt meet the check's preconditions
    (`reason` says which failed). contraction, lipschitz: lam and L, the maxima over every measured state;
    at_fixed_point: the constants measured at z* alone."""

    applicable: bool
    reason: str
    fixed_point: FixedPoint | None = None
    contraction: float = math.nan
    lipschitz: float = math.nan
    at_fixed_point: Constants | None = None
    runs: tuple[LimitRun, ...] = field(default=())

    @property
    def constants_raised(self) -> bool:
        """Whether the states the runs committed raised lam or L above their values at the fixed point."""
        if self.at_fixed_point is None:
            return False
        return self.contraction > max(self.at_fixed_point.lam) or self.lipschitz > max(self.at_fixed_point.cond)


def committed_states(states: Tensor, tokens: Sequence[int], gen: Generation, p0: int) -> tuple[Tensor, int]:
    """A reference's states [S, h] (prompt of length p0, then its new tokens `tokens`) with the states that row 0
    of `gen` committed put in at the wave positions whose input tokens agree with the reference; and how many."""
    states, n = states.clone(), 0
    for i in range(len(tokens) - 1):
        if list(gen.tokens[0][: i + 1]) != list(tokens[: i + 1]):
            break
        states[p0 + i] = gen.latents[0][i + 1].to(states)
        n += 1
    return states, n


def _last_tick_clean(gen: Generation, pos: int, window: int, ema: float, noise: NoiseSchedule,
                     max_depth: int | None) -> bool:
    """(A5) and the no-forced-exit part of (A4) for one position, as far as the run shows them."""
    if ema != 0:
        return False
    if not noise.active and max_depth is None:
        return True
    trace = getattr(gen, "trace", None)
    if trace is None:
        return False
    count = trace.recurrences(0).get(pos)
    if count is None:
        return False
    return noise.beta(max(count - window, 0)) == 0 and (max_depth is None or count < max_depth)


@torch.no_grad()
def check_converged_limit(sampler: LimitSampler, model: RecurrentDepthLM, prompt: Sequence[int],
                          epsilons: Sequence[float] = (1e-3, 1e-6), *, window: int, max_new_tokens: int = 5,
                          ema: float = 0.0, noise: NoiseSchedule = NO_NOISE, max_depth: int | None = None,
                          max_contraction: float = 0.9, prefill_tol: float = 1e-12,
                          reference: FixedPoint | None = None) -> ConvergedLimit:
    """Run `sampler(model, [prompt], max_new_tokens, LatentDiff(eps))` for each eps and check the converged
    limit against the AR fixed point (module docstring): raises AssertionError where a committed latent exceeds
    the theorem's bound or a margin-certified token differs; returns what was measured.

    window: r', the recurrences per tick of your sampler. ema, noise: the embedding EMA and the noise schedule your
    sampler uses (they decide where the bound is a theorem); max_depth: its forced-exit depth, if any (use one it
    never reaches). prefill_tol: how close (relative) the prefill must bring the prompt's last state to z* (the
    theorem takes the prompt's states to be the reference's). reference: a precomputed `ar_fixed_point` for the same
    prompt and max_new_tokens."""
    if max_new_tokens < 2:
        raise ValueError(f"max_new_tokens={max_new_tokens} must be >= 2 (one wave position at least)")
    if window < 1:
        raise ValueError(f"window={window} must be >= 1")
    fp = reference if reference is not None else ar_fixed_point(model, prompt, max_new_tokens,
                                                                 screen=max_contraction)
    if fp is None:
        return ConvergedLimit(False, "no fixed point: the recurrence did not settle (or the screen gave up)")
    at_fp = step_constants(model, fp.ids, fp.states)
    if max(at_fp.lam) >= max_contraction:
        return ConvergedLimit(False, f"measured lam={max(at_fp.lam):.3g} >= {max_contraction} at the fixed point",
                              fp, at_fixed_point=at_fp)
    p0 = len(prompt)
    generations = [(eps, sampler(model, [list(prompt)], max_new_tokens, LatentDiff(eps))) for eps in epsilons]
    measured = [at_fp]
    for _, gen in generations:
        if len(gen.tokens[0]) != max_new_tokens or len(gen.latents[0]) != max_new_tokens:
            raise AssertionError(f"the sampler returned {len(gen.tokens[0])} tokens and {len(gen.latents[0])} "
                                 f"latents, want {max_new_tokens} of each (no stop tokens, no max_ticks)")
        prefill = relative_change(gen.latents[0][0].to(fp.states), fp.states[p0 - 1]).item()
        if prefill > prefill_tol:
            raise AssertionError(f"the sampler's prefill left the prompt's last state {prefill:.3g} (relative) from "
                                 f"the fixed point, above {prefill_tol:g}: prefill deeper (the prompt settled in "
                                 f"{fp.prompt_steps} steps from zero states)")
        states, n = committed_states(fp.states, fp.tokens, gen, p0)
        if n:
            measured.append(step_constants(model, fp.ids, states))
    consts = max_constants(measured)
    lam, lip = max(consts.lam), max(consts.cond)
    if lam >= max_contraction:
        return ConvergedLimit(False, f"measured lam={lam:.3g} >= {max_contraction} at the committed states", fp,
                              lam, lip, at_fp)
    runs = []
    for eps, gen in generations:
        latents = gen.latents[0].to(fp.states)
        state_bound = max(latents.norm(dim=-1).max().item(), fp.states.norm(dim=-1).max().item())
        errors: list[float] = []
        bounds: list[float | None] = []
        certified, margin_certified = True, 0
        for i in range(max_new_tokens - 1):  # wave position p0 + i commits new token i + 1
            pos = p0 + i
            if gen.tokens[0][: i + 1] != fp.tokens[: i + 1]:
                break  # (A5): the inputs differ from the reference from here on
            errors.append((latents[i + 1] - fp.states[pos]).norm().item())
            certified = certified and _last_tick_clean(gen, pos, window, ema, noise, max_depth)
            if not certified:
                bounds.append(None)
                continue
            bound = committed_error_bound(lam, eps, state_bound, lip, i, window)
            if errors[-1] > bound:
                raise AssertionError(f"eps={eps:g}: wave position {i} (position {pos}) committed {errors[-1]:.3g} "
                                     f"from the fixed point, above the bound {bound:.3g} (lam={lam:.3g}, L={lip:.3g}, "
                                     f"B={state_bound:.3g}, r'={window})")
            bounds.append(bound)
            top2 = fp.logits[pos].topk(2).values
            logit_error = consts.dec_self[pos] * bound + consts.dec_cond[pos] * max(b for b in bounds if b is not None)
            if (top2[0] - top2[1]).item() > 2 * logit_error:
                margin_certified += 1
                if gen.tokens[0][i + 1] != fp.tokens[i + 1]:
                    raise AssertionError(f"eps={eps:g}: new token {i + 1} is {gen.tokens[0][i + 1]}, the fixed "
                                         f"point's is {fp.tokens[i + 1]}, and its logit margin "
                                         f"{(top2[0] - top2[1]).item():.3g} exceeds twice the error bound "
                                         f"{logit_error:.3g}")
        runs.append(LimitRun(eps, gen, tuple(errors), tuple(bounds), margin_certified))
    return ConvergedLimit(True, "", fp, lam, lip, at_fp, tuple(runs))
