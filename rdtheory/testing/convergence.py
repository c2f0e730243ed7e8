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
from rdtheory.testing.fixed_point import FixedPoint, ar_fixed_point
from rdtheory.theory import committed_error_bound

LimitSampler = Callable[[RecurrentDepthLM, list[list[int]], int, ExitRule], Generation]

@dataclass(frozen=True)
class Divergence:
    """The first committed token that differs from the fixed point's: new token `index` is `token`, the fixed
    point's is `reference`; `margin` is the fixed point's logit margin there (top logit minus the runner-up) and
    `allowed` twice the logit error the latent bound allows (None where no bound applies: eta > 0, noise, a forced
    exit, or the prefill's token). A divergence with margin > allowed fails the check; otherwise it is recorded
    here and the run is compared no further (its later inputs differ from the reference's)."""

    index: int
    token: int
    reference: int
    margin: float
    allowed: float | None


@dataclass(frozen=True)
class LimitRun:
    """One run at `eps`. errors[i]: |z_committed - z*| of the i-th wave position, for the positions whose input
    tokens agree with the reference; bounds[i]: the theorem's bound where it applies (None elsewhere);
    margin_certified: positions whose token the logit margin certifies (and which agreed); divergence: the first
    committed token that differs from the fixed point's, if any."""

    eps: float
    generation: Generation
    errors: tuple[float, ...]
    bounds: tuple[float | None, ...]
    margin_certified: int
    divergence: Divergence | None = None

    @property
    def max_error(self) -> float:
        return max(self.errors, default=math.nan)

    @property
    def bounded(self) -> int:
        """How many positions the bound was asserted for."""
        return sum(b is not None for b in self.bounds)

    @property
    def tightness(self) -> tuple[float, ...]:
        """error / bound at every position the bound was asserted for (at most 1; near 1 the bound is tight)."""
        return tuple(e / b for e, b in zip(self.errors, self.bounds) if b is not None and b > 0)

    @property
    def max_tightness(self) -> float:
        return max(self.tightness, default=math.nan)

    def summary(self) -> str:
        """One line: errors, bounds, tightness and where the tokens left the fixed point."""
        tight = f", error/bound at most {self.max_tightness:.3g}" if self.tightness else ""
        split = "" if self.divergence is None else (
            f"; new token {self.divergence.index} left the fixed point ({self.divergence.token} vs "
            f"{self.divergence.reference}, margin {self.divergence.margin:.3g}"
            + ("" if self.divergence.allowed is None else f" <= {self.divergence.allowed:.3g} allowed") + ")")
        return (f"eps={self.eps:g}: {len(self.errors)} positions compared, max error {self.max_error:.3g}, "
                f"{self.bounded} bounded{tight}, {self.margin_certified} tokens certified{split}")


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
                          max_contraction: float = 0.9, prefill_tol: float | None = None,
                          reference: FixedPoint | None = None, constants: str = "auto",
                          floor: float = 0.0) -> ConvergedLimit:
    """Run `sampler(model, [prompt], max_new_tokens, LatentDiff(eps))` for each eps and check the converged
    limit against the AR fixed point (module docstring): raises AssertionError where a committed latent exceeds
    the theorem's bound or a margin-certified token differs; returns what was measured.

    window: r', the recurrences per tick of your sampler. ema, noise: the embedding EMA and the noise schedule your
    sampler uses (they decide where the bound is a theorem); max_depth: its forced-exit depth, if any (use one it
    never reaches). prefill_tol: how close (relative) the prefill must bring the prompt's last state to z* (the
    theorem takes the prompt's states to be the reference's). reference: a precomputed `ar_fixed_point` for the same
    prompt and max_new_tokens. prefill_tol defaults to 1e-12 for float64 models and 1e-5 for float32. constants:
    how lam and L are measured, "dense", "matrix_free" or "auto" (`rdtheory.testing.contraction.step_constants`;
    matrix-free is what runs at Huginn-0125's shape). floor: an absolute distance added to every latent bound (and
    through the decoder's constants to the logit error) for a sampler that runs in a lower precision than `model`,
    the reference: the distance at which that precision holds the fixed point (0 for the same precision)."""
    if not floor >= 0:
        raise ValueError(f"floor={floor} must be >= 0")
    prefill_tol = (1e-12 if model.dtype == torch.float64 else 1e-5) if prefill_tol is None else prefill_tol
    if max_new_tokens < 2:
        raise ValueError(f"max_new_tokens={max_new_tokens} must be >= 2 (one wave position at least)")
    if window < 1:
        raise ValueError(f"window={window} must be >= 1")
    fp = reference if reference is not None else ar_fixed_point(model, prompt, max_new_tokens,
                                                                 screen=max_contraction, constants=constants)
    if fp is None:
        return ConvergedLimit(False, "no fixed point: the recurrence did not settle (or the screen gave up)")
    at_fp = step_constants(model, fp.ids, fp.states, constants)
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
            measured.append(step_constants(model, fp.ids, states, constants))
    consts = max_constants(measured)
    lam, lip = max(consts.lam), max(consts.cond)
    if lam >= max_contraction:
        return ConvergedLimit(False, f"measured lam={lam:.3g} >= {max_contraction} at the committed states", fp,
                              lam, lip, at_fp)
    runs = tuple(_compare(eps, gen, fp, consts, p0, window, ema, noise, max_depth, floor) for eps, gen in generations)
    return ConvergedLimit(True, "", fp, lam, lip, at_fp, runs)


def _compare(eps: float, gen: Generation, fp: FixedPoint, consts: Constants, p0: int, window: int, ema: float,
             noise: NoiseSchedule, max_depth: int | None, floor: float) -> LimitRun:
    """Compare one run with the fixed point position by position, asserting the bound and the certified tokens,
    up to the first committed token that differs from the reference (recorded, never skipped silently)."""
    lam, lip = max(consts.lam), max(consts.cond)
    latents = gen.latents[0].to(fp.states)
    state_bound = max(latents.norm(dim=-1).max().item(), fp.states.norm(dim=-1).max().item())
    errors: list[float] = []
    bounds: list[float | None] = []
    certified, margin_certified = True, 0
    if gen.tokens[0][0] != fp.tokens[0]:  # the prefill's token: decoded from the prompt's settled states
        return LimitRun(eps, gen, (), (), 0, Divergence(0, gen.tokens[0][0], fp.tokens[0], _margin(fp, p0 - 1), None))
    for i in range(len(fp.tokens) - 1):  # wave position p0 + i commits new token i + 1
        pos = p0 + i
        errors.append((latents[i + 1] - fp.states[pos]).norm().item())
        certified = certified and _last_tick_clean(gen, pos, window, ema, noise, max_depth)
        allowed = None
        if certified:
            bound = committed_error_bound(lam, eps, state_bound, lip, i, window) + floor
            if errors[-1] > bound:
                raise AssertionError(f"eps={eps:g}: wave position {i} (position {pos}) committed {errors[-1]:.3g} "
                                     f"from the fixed point, above the bound {bound:.3g} (lam={lam:.3g}, L={lip:.3g}, "
                                     f"B={state_bound:.3g}, r'={window}, floor={floor:.3g})")
            bounds.append(bound)
            worst = max(b for b in bounds if b is not None)  # every earlier position's bound (A_i of the proof)
            allowed = 2 * (consts.dec_self[pos] * bound + consts.dec_cond[pos] * worst)
        else:
            bounds.append(None)
        margin = _margin(fp, pos)
        margin_certified += allowed is not None and margin > allowed
        token, reference = gen.tokens[0][i + 1], fp.tokens[i + 1]
        if token != reference:
            if allowed is not None and margin > allowed:
                raise AssertionError(f"eps={eps:g}: new token {i + 1} is {token}, the fixed point's is {reference}, "
                                     f"and its logit margin {margin:.3g} exceeds twice the error bound allows "
                                     f"({allowed:.3g})")
            return LimitRun(eps, gen, tuple(errors), tuple(bounds), margin_certified,
                            Divergence(i + 1, token, reference, margin, allowed))
    return LimitRun(eps, gen, tuple(errors), tuple(bounds), margin_certified)


def _margin(fp: FixedPoint, pos: int) -> float:
    top2 = fp.logits[pos].topk(2).values
    return (top2[0] - top2[1]).item()
