"""The converged limit on a model of any shape and in the precision it runs in.

Three pieces, which the GPU tests run at Huginn-0125's exact shape and the CPU tests at a small one:

* `contractive_model`: a random model of a given shape whose recurrence contracts. Its construction is that of
  `rdtheory.testing.models.random_model` (Huginn's initialisation, matrices times `gain`, the adapter's state half
  rescaled to spectral norm `state_gain`): the core step's Jacobian in the state is the blocks' Jacobian times that
  state half, so a small enough state gain makes it a contraction. Which gain is small enough depends on the
  shape, so the first of `state_gains` whose contraction constant, measured without dense Jacobians at the AR
  fixed point of a probe prompt, is below `max_contraction` is taken, and the measured value is returned with it.
* `low_precision_floor`: how closely a lower-precision copy of the reference (bfloat16 weights are float32
  weights rounded, so the float32 upcast of a bfloat16 model is an exact reference for it) can hold the fixed
  point at all: deep AR in the low precision, its largest distance from z*.
* `converged_rows`: one drawn example, a batch of prompts run by the diffusion-forcing sampler with drawn knobs and
  each row checked by `check_converged_limit` against its own fixed point. The stated rule for a sampler running
  in lower precision than its reference: every bound is widened by `floor_factor` times that precision's floor.
"""

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from rdtheory.config import ModelConfig
from rdtheory.model.cache import ShareLast
from rdtheory.model.recurrent import RecurrentDepthLM
from rdtheory.paper import DF_DEFAULTS
from rdtheory.sampling.autoregressive import generate_ar
from rdtheory.sampling.batch import Generation
from rdtheory.sampling.diffusion_forcing import generate_df
from rdtheory.sampling.exits import ExitRule
from rdtheory.sampling.schedules import NO_NOISE, NoiseSchedule
from rdtheory.testing.contraction import step_constants
from rdtheory.testing.convergence import check_converged_limit
from rdtheory.testing.fixed_point import FixedPoint, ar_fixed_point
from rdtheory.testing.models import random_model

STATE_GAINS = (0.5, 0.35, 0.25, 0.15, 0.08)
PROBE = (11, 4097, 230, 57_001, 9)
NO_CAP = 1_000_000  # a max_depth no position reaches: no exit is forced (A4)
DEEPER = 30  # recurrences a prefill runs beyond those the prompt needed to settle


@dataclass(frozen=True)
class Contractive:
    model: RecurrentDepthLM
    state_gain: float
    contraction: float  # measured at the fixed point of `probe`
    probe: tuple[int, ...]


def contractive_model(config: ModelConfig, seed: int = 0, *, dtype: torch.dtype = torch.float32,
                      device: torch.device | str = "cpu", gain: float = 2.0,
                      state_gains: Sequence[float] = STATE_GAINS, max_contraction: float = 0.8,
                      probe: Sequence[int] = PROBE) -> Contractive:
    """The first random_model(config, seed, gain, s) over s in `state_gains` whose measured contraction constant
    at the probe's fixed point is below `max_contraction` (module docstring); ValueError if none is."""
    probe = tuple(t % config.vocab_size for t in probe)
    measured = []
    for s in state_gains:
        model = random_model(config, seed, gain, s, dtype, device)
        fp = ar_fixed_point(model, probe, 1)
        if fp is not None:
            lam = max(step_constants(model, fp.ids, fp.states, "matrix_free").lam)
            measured.append(f"state_gain={s}: lam={lam:.3g}")
            if lam < max_contraction:
                return Contractive(model, s, lam, probe)
        else:
            measured.append(f"state_gain={s}: no fixed point")
    raise ValueError(f"no state gain in {tuple(state_gains)} gives a contraction below {max_contraction} "
                     f"({'; '.join(measured)})")


def low_precision_copy(model: RecurrentDepthLM, dtype: torch.dtype) -> tuple[RecurrentDepthLM, RecurrentDepthLM]:
    """(the model in `dtype`, its exact reference): the reference holds the low-precision weights upcast to the
    model's precision, so that the two differ only in the arithmetic."""
    low = copy.deepcopy(model).to(dtype)
    return low, copy.deepcopy(low).to(model.dtype)


@torch.no_grad()
def low_precision_floor(low: RecurrentDepthLM, fp: FixedPoint, prompt: Sequence[int]) -> tuple[float, float]:
    """(absolute, relative) largest distance from z* of the states that AR at depth prompt_steps + DEEPER, zero
    initial states, commits in `low`'s precision, up to its first token that differs from the fixed point's."""
    n = len(fp.tokens)
    run = generate_ar(low, [list(prompt)], n, fp.prompt_steps + DEEPER, init_scale=0.0, kv=ShareLast(),
                      stop_tokens=())
    p0 = len(prompt)
    worst_abs = worst_rel = 0.0
    for i in range(n):
        z_star = fp.states[p0 - 1 + i]
        gap = (run.latents[0][i].to(z_star) - z_star).norm().item()
        worst_abs, worst_rel = max(worst_abs, gap), max(worst_rel, gap / z_star.norm().item())
        if run.tokens[0][i] != fp.tokens[i]:
            break
    return worst_abs, worst_rel


class _RowTrace:
    """A batched run's trace seen as the trace of one of its rows (row 0 of a one-row run)."""

    def __init__(self, trace: Any, row: int) -> None:
        self.trace, self.row = trace, row

    def recurrences(self, row: int) -> dict[int, int]:
        if row != 0:
            raise ValueError(f"row={row}: this view holds one row")
        return self.trace.recurrences(self.row)


def _row(gen: Generation, b: int) -> Generation:
    return Generation([gen.tokens[b]], [gen.latents[b]], [gen.top[b]], [gen.finished[b]], _RowTrace(gen.trace, b))


@torch.no_grad()
def converged_rows(reference: RecurrentDepthLM, run: RecurrentDepthLM, prompts: Sequence[Sequence[int]], *,
                   inner: int, eps: float, headway: int = DF_DEFAULTS.headway,
                   cap: int = DF_DEFAULTS.max_wavefront, ema: float = 0.0,
                   noise: NoiseSchedule = NO_NOISE, init_scale: float = 1.0, new_tokens: int = 4, seed: int = 0,
                   floor_factor: float = 2.0, max_contraction: float = 0.9) -> list[dict[str, Any]]:
    """Run `generate_df` on `run` (the reference's weights in its own precision) over all prompts as one batch with
    LatentDiff(eps) and the given knobs, and check each row's converged limit against its fixed point in the
    reference's precision (a widened bound where `run` is less precise: module docstring). Raises AssertionError
    where a row fails; returns one record per row (a row whose prompt has no contractive fixed point says so)."""
    points = [ar_fixed_point(reference, p, new_tokens, screen=max_contraction, constants="matrix_free")
              for p in prompts]
    depth = max((fp.prompt_steps for fp in points if fp is not None), default=0) + DEEPER
    batch = [list(p) for p in prompts]
    cached: dict[float, Generation] = {}

    def batched(exit: ExitRule) -> Generation:
        if exit.eps not in cached:
            cached[exit.eps] = generate_df(run, batch, new_tokens, inner=inner, depth=depth, exit=exit,
                                           max_wavefront=cap, headway=headway, ema=ema, noise=noise,
                                           init_scale=init_scale, max_depth=NO_CAP, kv=ShareLast(), stop_tokens=(),
                                           seed=seed)
        return cached[exit.eps]

    records = []
    for b, (prompt, fp) in enumerate(zip(batch, points)):
        record: dict[str, Any] = {"row": b, "prompt_length": len(prompt)}
        if fp is None:
            records.append(record | {"applicable": False, "reason": "no contractive fixed point on this prompt"})
            continue
        floor = rel = 0.0
        if run.dtype != reference.dtype:
            floor, rel = (floor_factor * x for x in low_precision_floor(run, fp, prompt))
        limit = check_converged_limit(lambda m, p, n, exit, b=b: _row(batched(exit), b), reference, prompt, (eps,),
                                      window=inner, max_new_tokens=new_tokens, ema=ema, noise=noise,
                                      max_depth=NO_CAP, max_contraction=max_contraction, reference=fp,
                                      constants="matrix_free", floor=floor,
                                      prefill_tol=max(rel, 1e-12 if reference.dtype == torch.float64 else 1e-5))
        shallow = generate_ar(run, [prompt], new_tokens, 1, init_scale=0.0, kv=ShareLast(), stop_tokens=())
        record |= {"applicable": limit.applicable, "reason": limit.reason,
                   "contraction": finite_or_none(limit.contraction), "lipschitz": finite_or_none(limit.lipschitz),
                   "floor": floor, "fixed_point_tokens": fp.tokens,
                   "shallow_ar_differs": shallow.tokens[0] != fp.tokens}
        for r in limit.runs:
            d = r.divergence
            record |= {"tokens": r.generation.tokens[0], "errors": list(r.errors),
                       "bounds": list(r.bounds), "tightness": list(r.tightness), "margin_certified": r.margin_certified,
                       "divergence": None if d is None else vars(d), "summary": r.summary()}
        records.append(record)
    return records


def finite_or_none(x: float) -> float | None:
    """JSON has no nan: an unmeasured constant is written as null."""
    return x if math.isfinite(x) else None
