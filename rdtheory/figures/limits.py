"""The paper's exact autoregressive limits, checked on tiny float64 models, and the schedules samplers ran.

(a) DF with r' = r, FixedDepth(r), headway 1, no EMA and no noise is static AR at depth r: against
`generate_ar` and against the plain AR oracle (`rdtheory.testing.equivalence.check_against_oracle`), tick for
tick against `rdtheory.theory.tick_limit`. (b) DF with a wavefront of one position and LatentDiff(eps) is
adaptive AR checking its exit every r' steps: against `generate_adaptive(check_every=r')`, pass for pass
(`same_passes`). Both must be token- and latent-identical (latents to 1e-10 of their norm). Each check also
records why it is not vacuous: in (a) depth changes the tokens, in (b) some positions exit before max depth.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rdtheory.config import TINY, ModelConfig
from rdtheory.figures.output import new_figure
from rdtheory.model.cache import KVPolicy, PerStep, ShareLast
from rdtheory.model.recurrent import RecurrentDepthLM
from rdtheory.paper import DF_DEFAULTS
from rdtheory.sampling.autoregressive import generate_adaptive, generate_ar
from rdtheory.sampling.batch import Generation
from rdtheory.sampling.diffusion_forcing import generate_df
from rdtheory.sampling.exits import FixedDepth, LatentDiff
from rdtheory.sampling.schedules import NO_NOISE
from rdtheory.testing.equivalence import ar_limit, assert_same_latents, assert_same_tokens, check_against_oracle
from rdtheory.testing.models import random_model
from rdtheory.theory import Schedule, same_passes, tick_limit
from rdtheory.theory.checks import require, require_int

LATENT_RTOL = 1e-10


@dataclass(frozen=True)
class LimitCheck:
    """One limit case: what was compared, the largest relative latent difference, and the verdicts."""

    limit: str
    case: str
    tokens_equal: bool
    latent_difference: float
    schedule_equal: bool
    nontrivial: bool
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return self.tokens_equal and self.latent_difference <= LATENT_RTOL and self.schedule_equal \
            and not self.failures


def latent_difference(a: Generation, b: Generation) -> float:
    """max over rows and tokens of |a - b| / |b| (0 for identical latents)."""
    worst = 0.0
    for x, y in zip(a.latents, b.latents, strict=True):
        if x.shape != y.shape:
            return float("inf")
        if len(x):
            worst = max(worst, ((x - y).norm(dim=-1) / y.norm(dim=-1).clamp(min=1e-300)).max().item())
    return worst


def _verdicts(got: Generation, want: Generation, what: str) -> list[str]:
    failures = []
    for check in (lambda: assert_same_tokens(got.tokens, want.tokens, what),
                  lambda: assert_same_latents(got.latents, want.latents, LATENT_RTOL, what)):
        try:
            check()
        except AssertionError as error:
            failures.append(str(error))
    return failures


def static_limit(model: RecurrentDepthLM, prompts: list[list[int]], n_new: int, depth: int, kv: KVPolicy,
                 init_scale: float = 1.0, seed: int = 0, case: str = "") -> LimitCheck:
    """(a): DF(r' = r, FixedDepth(r)) against static AR, the oracle and the tick-limit schedule."""
    verdict = ar_limit(depth, depth, FixedDepth(depth), DF_DEFAULTS.max_wavefront, DF_DEFAULTS.headway, NO_NOISE,
                       init_scale, False, False)
    common = dict(init_scale=init_scale, seed=seed, kv=kv, stop_tokens=())
    ar = generate_ar(model, prompts, n_new, depth, **common)
    failures = [] if verdict.holds else [f"ar_limit: {verdict.reason}"]

    def df_sampler(m: RecurrentDepthLM, p: list[list[int]], n: int) -> Generation:
        return generate_df(m, p, n, inner=depth, depth=depth, exit=FixedDepth(depth), headway=1, ema=0.0,
                           noise=NO_NOISE, **common)

    try:
        df = check_against_oracle(df_sampler, model, prompts, n_new, kv, depth, init_scale, seed, LATENT_RTOL)
    except AssertionError as error:
        failures.append(f"oracle: {error}")
        df = df_sampler(model, prompts, n_new)
    failures += _verdicts(df, ar, "DF vs AR")
    schedules = all(df.trace.to_schedule(b) == tick_limit(len(p), n_new, depth, depth) for b, p in enumerate(prompts))
    shallow = generate_ar(model, prompts, n_new, 1 if depth > 1 else 3, **common)
    return LimitCheck("DF r'=r FixedDepth(r) = static AR", case or f"r={depth}, {type(kv).__name__}",
                      df.tokens == ar.tokens, latent_difference(df, ar), schedules, shallow.tokens != ar.tokens,
                      tuple(failures))


def adaptive_limit(model: RecurrentDepthLM, prompts: list[list[int]], n_new: int, inner: int, eps: float,
                   max_depth: int, kv: KVPolicy, prefill_depth: int = 4, case: str = "") -> LimitCheck:
    """(b): DF(W = 1, LatentDiff(eps)) against adaptive AR checking every r' steps, and pass for pass."""
    common = dict(init_scale=1.0, seed=3, kv=kv, stop_tokens=(), max_depth=max_depth)
    ar = generate_adaptive(model, prompts, n_new, LatentDiff(eps), check_every=inner, prefill_depth=prefill_depth,
                           **common)
    df = generate_df(model, prompts, n_new, inner=inner, depth=prefill_depth, exit=LatentDiff(eps), max_wavefront=1,
                     ema=0.0, noise=NO_NOISE, **common)
    failures = _verdicts(df, ar, "DF(W=1) vs adaptive AR")
    schedules = all(same_passes(df.trace.to_schedule(b), ar.trace.to_schedule(b)) for b in range(len(prompts)))
    early = any(d < max_depth for b, p in enumerate(prompts)
                for d in list(ar.trace.recurrences(b).values())[len(p):])
    return LimitCheck("DF W=1 LatentDiff = adaptive AR checked every r'",
                      case or f"r'={inner}, eps={eps:g}, max depth {max_depth}, {type(kv).__name__}",
                      df.tokens == ar.tokens, latent_difference(df, ar), schedules, early, tuple(failures))


PROMPTS = [[3, 1, 4, 1, 5], [9, 2, 6], [5, 3, 5, 8, 9, 7, 9]]


def limit_checks(quick: bool = False, config: ModelConfig = TINY, n_new: int = 8) -> list[LimitCheck]:
    """A handful of cases of both limits on random tiny models (seeded); `quick` runs one of each per seed."""
    require_int("n_new", n_new, 1)
    seeds = (0,) if quick else (0, 1)
    out = []
    for seed in seeds:
        model = random_model(config, seed)
        statics: Sequence[tuple[int, KVPolicy]] = ((4, ShareLast()),) if quick else ((4, ShareLast()), (6, PerStep()))
        for depth, kv in statics:
            out.append(static_limit(model, PROMPTS, n_new, depth, kv, seed=seed,
                                    case=f"seed {seed}, r={depth}, {type(kv).__name__}"))
        adaptives = ((2, 0.3, 8, ShareLast()),) if quick else ((2, 0.3, 8, ShareLast()), (3, 0.5, 9, PerStep()))
        for inner, eps, max_depth, kv in adaptives:
            out.append(adaptive_limit(model, PROMPTS, n_new, inner, eps, max_depth, kv,
                                      case=f"seed {seed}, r'={inner}, eps={eps:g}, {type(kv).__name__}"))
    return out


def sampler_schedules(model: RecurrentDepthLM, prompt: Sequence[int], n_new: int = 6, depth: int = 8,
                      inner: int = 2, eps: float = 0.3) -> dict[str, Schedule]:
    """The schedules that AR, fixed-rule DF and latent-difference DF actually ran on one prompt (from their
    Traces), all with the same depth r (LatentDiff forced out at 2r)."""
    require_int("n_new", n_new, 1)
    require_int("depth", depth, 1)
    require_int("inner", inner, 1)
    require("eps", eps, eps > 0, "must be > 0")
    common = dict(init_scale=1.0, stop_tokens=(), seed=0)
    runs = {
        f"AR r={depth} (trace)": generate_ar(model, [list(prompt)], n_new, depth, **common),
        f"DF r'={inner} FixedDepth({depth}) (trace)": generate_df(
            model, [list(prompt)], n_new, inner=inner, depth=depth, exit=FixedDepth(depth), ema=0.0, **common),
        f"DF r'={inner} LatentDiff({eps:g}) (trace)": generate_df(
            model, [list(prompt)], n_new, inner=inner, depth=depth, exit=LatentDiff(eps), **common),
    }
    return {name: run.trace.to_schedule(0) for name, run in runs.items()}



def limits_figure(checks: Sequence[LimitCheck]) -> Any:
    """The checks as a table: one row per case, green where the limit holds exactly, red where it does not."""
    require("checks", list(checks), bool(checks), "must hold at least one LimitCheck")
    header = ("limit", "case", "tokens equal", "max rel. latent diff", "schedule equal", "non-trivial", "passed")
    rows = [(c.limit, c.case, "yes" if c.tokens_equal else "no", f"{c.latent_difference:.1e}",
             "yes" if c.schedule_equal else "no", "yes" if c.nontrivial else "no", "yes" if c.passed else "NO")
            for c in checks]
    fig, ax = new_figure(width=13.0, height=0.9 + 0.32 * len(rows))
    ax.set_axis_off()
    table = ax.table(cellText=rows, colLabels=header, loc="center", cellLoc="left")
    table.set_gid("limits")
    table.auto_set_font_size(False)
    table.set_fontsize(7)
    table.auto_set_column_width(list(range(len(header))))
    for i, c in enumerate(checks, start=1):
        table[i, len(header) - 1].set_facecolor("#c8e6c9" if c.passed else "#ffcdd2")
    ax.set_title(f"exact AR limits of the DF sampler (float64, tiny random models): {sum(c.passed for c in checks)} "
                 f"of {len(checks)} hold", fontsize=9)
    return fig
