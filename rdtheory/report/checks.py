"""The report's checks: the diffusion-forcing sampler's exact AR limits and their boundary, its converged limit,
and the schedules it ran against those the theory draws. Each check is a `Check` with what was compared."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rdtheory.config import TINY
from rdtheory.figures import convergence as conv
from rdtheory.figures import limits
from rdtheory.figures.output import save
from rdtheory.figures.schedules import paper_schedules, schedules_figure
from rdtheory.sampling.autoregressive import generate_ar
from rdtheory.sampling.diffusion_forcing import generate_df
from rdtheory.sampling.exits import FixedDepth
from rdtheory.sampling.schedules import NO_NOISE, Constant
from rdtheory.sampling.tokens import Sampling
from rdtheory.testing.equivalence import ar_limit
from rdtheory.testing.models import random_model


@dataclass(frozen=True)
class Check:
    """One verdict: which claim, on which case, what was compared (with the numbers), and whether it held."""

    family: str
    claim: str
    case: str
    compared: str
    passed: bool

    def line(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'}  {self.family}: {self.claim} [{self.case}]: {self.compared}"



def exact_limit_checks(quick: bool) -> list[Check]:
    """(a) DF(r' = r, FixedDepth(r)) = static AR and the plain oracle; (b) DF(W = 1) = adaptive AR."""
    out = []
    for c in limits.limit_checks(quick=quick):
        compared = (f"tokens {'equal' if c.tokens_equal else 'DIFFER'}, latents {c.latent_difference:.1e} "
                    f"(<= {limits.LATENT_RTOL:g} of their norm), schedule {'equal' if c.schedule_equal else 'DIFFERS'}"
                    f", {'non-trivial' if c.nontrivial else 'TRIVIAL (nothing could differ)'}")
        if c.failures:
            compared += f"; {c.failures[0]}"
        out.append(Check("exact AR limit", c.limit, c.case, compared, c.passed and c.nontrivial))
    return out


def _run_pair(model: Any, depth: int, knobs: dict[str, Any], ar_knobs: dict[str, Any]) -> tuple[Any, Any]:
    ar = generate_ar(model, limits.PROMPTS, 6, depth, stop_tokens=(), **ar_knobs)
    df = generate_df(model, limits.PROMPTS, 6, depth=depth, stop_tokens=(), **knobs)
    return ar, df


def boundary_checks(quick: bool) -> list[Check]:
    """`ar_limit` at work: inside its line DF equals AR whatever the EMA, the noise on a zero state, the cap and the
    sampling; outside, each breaking knob changes the tokens on most models."""
    depth, seeds = 4, tuple(range(6))
    out = []
    inside = dict(inner=depth, exit=FixedDepth(depth - 1), max_wavefront=8, headway=1, ema=0.5, noise=Constant(0.3),
                  init_scale=0.0, sampling=Sampling(temperature=1.0), seed=1)
    verdict = ar_limit(depth, depth, inside["exit"], 8, 1, inside["noise"], 0.0, False, False)
    for seed in seeds[:1 if quick else 2]:
        ar, df = _run_pair(random_model(TINY, seed), depth, inside, dict(init_scale=0.0, sampling=inside["sampling"],
                                                                         seed=1))
        diff = limits.latent_difference(df, ar)
        ok = verdict.holds and df.tokens == ar.tokens and diff <= limits.LATENT_RTOL
        out.append(Check("limit boundary", "inside ar_limit: DF = AR", f"seed {seed}, r=r'={depth}, eta=0.5, "
                         "beta=0.3 on a zero state, cap 8, FixedDepth(3), temperature 1",
                         f"ar_limit holds: {verdict.holds}; tokens {'equal' if df.tokens == ar.tokens else 'DIFFER'}"
                         f", latents {diff:.1e}", ok))
    breakers = {"r'=r/2": dict(inner=depth // 2), "headway 2 under a cap of 2": dict(headway=2, max_wavefront=2),
                "beta=0.3 on a random initial state": dict(noise=Constant(0.3))}
    for name, change in breakers.items():
        knobs = dict(inner=depth, exit=FixedDepth(depth), max_wavefront=8, headway=1, ema=0.5, noise=NO_NOISE,
                     init_scale=1.0) | change
        verdict = ar_limit(knobs["inner"], depth, knobs["exit"], knobs["max_wavefront"], knobs["headway"],
                           knobs["noise"], 1.0, False, False)
        used = seeds[:2 if quick else 6]
        differed = sum(df.tokens != ar.tokens for ar, df in (
            _run_pair(random_model(TINY, s), depth, knobs | dict(seed=s), dict(init_scale=1.0, seed=s)) for s in used))
        out.append(Check("limit boundary", "outside ar_limit: the knob matters", f"{name}, r={depth}, TINY",
                         f"ar_limit holds: {verdict.holds} ({verdict.reason}); DF tokens differ from AR on {differed} "
                         f"of {len(used)} models", not verdict.holds and 2 * differed >= len(used)))
    return out


def _converged_check(run: Any, case: str, shallow_differs: bool) -> Check:
    points = run.points
    loose = [p.eps for p in points if not p.tokens_equal]
    tight = [p for p in points if p.eps <= 1e-3]
    last = min(points, key=lambda p: p.eps)
    bounded = run.lam is not None and run.lam < 1
    ok = run.settled and bounded and all(p.within_bound for p in points) and all(p.tokens_equal for p in tight) \
        and last.max_error <= 1e-6
    compared = (f"lam={run.lam:.2f}, L={run.cond:.2f}; |z_DF - z*| <= committed_error_bound at "
                f"{sum(bool(p.within_bound) for p in points)} of {len(points)} eps from {points[0].eps:g} to "
                f"{last.eps:g}; max error {last.max_error:.1e} at eps={last.eps:g} "
                f"(bound {max(last.bounds or [0]):.1e})"
                f"; tokens = fixed-point tokens for eps <= 1e-3: {all(p.tokens_equal for p in tight)}"
                + (f" (differ at eps={', '.join(f'{e:g}' for e in loose)})" if loose else "")
                + ("; AR at r=1 gives other tokens, so the token check is informative" if shallow_differs else
                   "; AR at r=1 already gives these tokens, so only the latent bound is informative here")
                ) if bounded else "lam not measured below 1"
    return Check("converged limit", "DF LatentDiff(eps) -> AR fixed point", case, compared, ok)


def converged_checks(quick: bool) -> tuple[list[Check], dict[str, list[Any]]]:
    """Remark 3.1: contractive models (those of `rdtheory.figures.convergence` and a contractive TINY), and the
    cases outside the theorem (constant noise and no fixed point leave an error floor; a model that settles without
    contracting is drawn, not checked); returns the checks and the sweeps for `convergence_figure`."""
    prompt, n_new = (1, 2, 3), 5
    seeds = conv.SMALL_SEEDS[-1:] if quick else conv.SMALL_SEEDS  # the last one's tokens differ at a loose eps
    models = {f"h=16, seed {s}, state gain 0.45": conv.contractive_model(s) for s in seeds}
    if not quick:
        models["TINY, seed 0, state gain 0.3"] = random_model(TINY, 0, gain=2.0, state_gain=0.3)
    checks, runs = [], []
    for case, model in models.items():
        ref = conv.reference(model, prompt, n_new)
        run = conv.converged_limit(ref, conv.SMALL_EPSILONS, case)
        shallow = generate_ar(model, [list(prompt)], n_new, 1, init_scale=0.0, stop_tokens=()).tokens[0]
        checks.append(_converged_check(run, case, tuple(shallow) != ref.tokens))
        runs.append((ref, run))
    ref, first = runs[0]
    noisy = conv.converged_limit(ref, conv.SMALL_EPSILONS, f"{first.label}, constant noise beta=0.3",
                                 noise=Constant(0.3), max_depth=60)
    loose = conv.converged_limit(conv.reference(conv.contractive_model(conv.NON_CONTRACTIVE_SEED), prompt, n_new),
                                 conv.SMALL_EPSILONS, f"seed {conv.NON_CONTRACTIVE_SEED}: settles, not a contraction")
    unsettled = conv.converged_limit(conv.reference(conv.contractive_model(0, state_gain=5.0), prompt, n_new, depth=60,
                                                    measure=False), conv.SMALL_EPSILONS, "state gain 5: no fixed point",
                                     max_depth=60)
    for run, claim in ((noisy, "noise that does not vanish"), (unsettled, "a recurrence that does not settle")):
        floor = min(run.points, key=lambda p: p.eps).max_error
        checks.append(Check("converged limit", f"outside the theorem: {claim}", run.label,
                            f"error at eps={conv.SMALL_EPSILONS[-1]:g} is {floor:.1e} > 1e-3 (a floor, as predicted)",
                            floor > 1e-3))
    return checks, {"contractive": [r for _, r in runs], "breaking": [noisy, loose, unsettled]}



SCHEDULE_KNOBS = dict(depth=8, inner=2, prompt_len=3, n_new=6)


def schedule_checks_and_figures(folder: Path) -> tuple[list[Check], dict[str, str]]:
    """Figure 1 from the knobs, the schedules AR and DF ran on a TINY model (from their Traces), and the checks that
    the fixed-rule runs executed exactly the drawn schedules."""
    k = SCHEDULE_KNOBS
    drawn = paper_schedules(k["depth"], k["inner"], prompt_len=k["prompt_len"], n_new=k["n_new"])
    ran = limits.sampler_schedules(random_model(TINY, 0), [3, 1, 4], k["n_new"], k["depth"], k["inner"], 0.3)
    checks = []
    for (name, theory), (run_name, schedule) in zip(drawn.items(), ran.items()):
        same = schedule == theory
        checks.append(Check("schedule", "the sampler ran the drawn schedule", run_name.removesuffix(" (trace)"),
                            f"Trace.to_schedule(0) {'equals' if same else 'DIFFERS from'} the theory's {name}: "
                            f"{schedule.n_passes} vs {theory.n_passes} serial passes, {schedule.n_ticks} vs "
                            f"{theory.n_ticks} ticks", same))
    figures = {
        "schedules": save(schedules_figure(drawn, f"the (position x recurrence) grid, r={k['depth']}, r'={k['inner']}"
                                           ", coloured by serial pass"), "schedules", folder).path.name,
        "sampler_schedules": save(schedules_figure(ran, "what the samplers ran on a TINY model (from their Traces)"),
                                  "sampler_schedules", folder).path.name,
    }
    return checks, figures
