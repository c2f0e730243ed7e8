"""The oracle pointed at one model: the checks `rdtheory verify` runs on a checkpoint, each returning a verdict.

Every check runs in float64 (exactness is a float64 claim; a checkpoint's bfloat16 or float32 weights are exactly
representable in it), on whatever device the model is on, with examples drawn by Hypothesis from the model's own
vocabulary (no shrinking: a failing example is reported as found):

* `oracle`: static AR (`generate_ar`) against the plain AR oracle, ShareLast and PerStep keys;
* `reduction (a)`: diffusion forcing with r' = r and the fixed rule against the plain AR oracle;
* `reduction (b)`: diffusion forcing with a wavefront of one position against adaptive AR, over drawn exit rules;
* `DF reference`: diffusion forcing with every knob drawn (small sizes) against the plain DF reference;
* `converged limit`: on drawn prompts where the recurrence has a contractive fixed point, the committed latents
  within the theorem's bound and certified tokens equal; where it has none, the verdict says so with the measured
  contraction constant (not a failure: the theorem does not apply to that model there).

A verdict is passed True, False (a check failed: its message says where) or None (does not apply, and why).
"""

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

import torch
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.reporting import with_reporter

from rdtheory.model.cache import PerStep, ShareLast
from rdtheory.model.recurrent import RecurrentDepthLM
from rdtheory.sampling.autoregressive import generate_adaptive, generate_ar
from rdtheory.sampling.diffusion_forcing import generate_df
from rdtheory.sampling.exits import FixedDepth
from rdtheory.testing.convergence import check_converged_limit
from rdtheory.testing.equivalence import check_against_df_reference, check_against_oracle, check_wavefront_one_limit
from rdtheory.testing.fixed_point import ar_fixed_point, prompt_contraction
from rdtheory.testing.strategies import df_knobs, exit_rules, prompt_batches, prompts

CHECKS = ("oracle", "reduction (a)", "reduction (b)", "DF reference", "converged limit")


@dataclass(frozen=True)
class Verdict:
    check: str
    passed: bool | None
    detail: str
    examples: int
    seconds: float
    numbers: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return {True: "PASS", False: "FAIL", None: "n/a"}[self.passed]


@dataclass(frozen=True)
class Plan:
    """How much to draw: `examples` per check, prompts of at most `prompt_tokens`, `new_tokens` generated, AR at
    `depth` recurrences (the model's mean_recurrence, at most `max_depth`), Hypothesis seeded by `seed`."""

    examples: int = 4
    prompt_tokens: int = 6
    new_tokens: int = 5
    max_depth: int = 8
    seed: int = 0


Outcome = tuple[bool | None, int, str, dict[str, Any]]  # passed, examples run, detail, numbers


class _Failed(Exception):
    """A drawn example failed: the example as Hypothesis reports it, and the error."""

    def __init__(self, examples: int, example: str, error: BaseException) -> None:
        super().__init__(example)
        self.examples, self.example, self.error = examples, example, error


def _drawn(plan: Plan, strategy_kwargs: dict[str, st.SearchStrategy], body: Callable[..., None]) -> int:
    """Run `body` on plan.examples drawn examples (no shrinking); the number run. A failure raises _Failed."""
    count, report = [0], []

    @seed(plan.seed)
    @settings(max_examples=plan.examples, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(**strategy_kwargs)
    def run(**drawn: Any) -> None:
        count[0] += 1
        body(**drawn)

    try:
        with with_reporter(report.append):
            run()
    except Exception as error:  # noqa: BLE001 (any error of the checked code is a failed check, reported)
        raise _Failed(count[0], " ".join(" ".join(str(r).split()) for r in report), error) from error
    return count[0]


def _verdict(name: str, work: Callable[[], Outcome]) -> Verdict:
    start = time.perf_counter()
    try:
        passed, examples, detail, numbers = work()
    except _Failed as failed:
        error = failed.error
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        detail = f"{type(error).__name__}: {message}" + (f" ({failed.example})" if failed.example else "")
        passed, examples, numbers = False, failed.examples, {}
    return Verdict(name, passed, detail, examples, time.perf_counter() - start, numbers)


def verify_model(model: RecurrentDepthLM, plan: Plan = Plan(),
                 progress: Callable[[str], None] = lambda label: None) -> list[Verdict]:
    """Every check of the module docstring on `model`, a float64 model (load a checkpoint with
    dtype=torch.float64); `progress(name)` is called before each check."""
    if model.dtype != torch.float64:
        raise TypeError(f"model dtype={model.dtype} must be torch.float64: the checks are exact in float64 "
                        "(load_pretrained(path, dtype=torch.float64))")
    vocab = model.config.vocab_size
    depth = min(model.config.mean_recurrence, plan.max_depth)
    n = min(plan.new_tokens, model.config.block_size - plan.prompt_tokens)
    batches = prompt_batches(vocab, max_batch=2, max_size=plan.prompt_tokens)
    common = dict(stop_tokens=(), init_scale=0.0)

    def oracle() -> Outcome:
        def body(batch: list[list[int]], kv: Any) -> None:
            ar = partial(generate_ar, depth=depth, kv=kv, **common)
            check_against_oracle(lambda m, p, k: ar(m, p, k), model, batch, n, kv=kv, depth=depth)

        ran = _drawn(plan, dict(batch=batches, kv=st.sampled_from([ShareLast(), PerStep()])), body)
        return True, ran, f"generate_ar at r={depth} equals the plain AR oracle (tokens, latents to 1e-9)", {}

    def reduction_a() -> Outcome:
        def body(batch: list[list[int]], kv: Any) -> None:
            df = partial(generate_df, inner=depth, depth=depth, exit=FixedDepth(depth), kv=kv, **common)
            check_against_oracle(lambda m, p, k: df(m, p, k), model, batch, n, kv=kv, depth=depth)

        ran = _drawn(plan, dict(batch=batches, kv=st.sampled_from([ShareLast(), PerStep()])), body)
        return True, ran, f"DF with r'=r={depth}, FixedDepth({depth}) equals the plain AR oracle", {}

    def reduction_b() -> Outcome:
        inner = max(1, depth // 2)

        def body(batch: list[list[int]], rule: Any) -> None:
            check_wavefront_one_limit(partial(generate_df, **common), partial(generate_adaptive, **common), model,
                                      batch, n, exit=rule, inner=inner, depth=depth, max_depth=2 * depth)

        ran = _drawn(plan, dict(batch=batches, rule=exit_rules(depths=st.integers(1, 2 * depth))), body)
        return True, ran, f"DF with a wavefront of one (r'={inner}) equals adaptive AR checked every {inner} steps", {}

    def reference() -> Outcome:
        def body(batch: list[list[int]], knobs: Any, stops: tuple[int, ...]) -> None:
            check_against_df_reference(generate_df, model, batch, n, stop_tokens=stops, **knobs.kwargs())

        drawn = dict(batch=batches, knobs=df_knobs(depths=st.integers(1, depth)),
                     stops=st.sampled_from([(), (0,)]) | st.tuples(st.integers(0, vocab - 1)))
        ran = _drawn(plan, drawn, body)
        return True, ran, "generate_df equals the plain DF reference with every knob drawn (tokens, latents to " \
                          "1e-10, recurrences, commits per tick)", {}

    def converged() -> Outcome:
        found: dict[str, list] = {"applied": [], "not_contractive": []}

        def body(prompt: list[int], inner: int) -> None:
            fp = ar_fixed_point(model, prompt, max(n, 2), screen=0.9)
            if fp is None:
                found["not_contractive"].append(prompt_contraction(model, prompt))
                return

            def sampler(m: RecurrentDepthLM, p: list[list[int]], k: int, exit: Any) -> Any:
                return generate_df(m, p, k, inner=inner, depth=fp.prompt_steps + 30, exit=exit, ema=0.0,
                                   max_depth=10**6, kv=ShareLast(), stop_tokens=())

            limit = check_converged_limit(sampler, model, prompt, window=inner, max_new_tokens=max(n, 2),
                                          reference=fp)
            if limit.applicable:
                found["applied"].append(max((r.max_tightness for r in limit.runs), default=float("nan")))
            else:  # a fixed point, but lam measured at it or at the committed states is not below the screen
                found["not_contractive"].append(limit.contraction if limit.contraction == limit.contraction
                                                else max(limit.at_fixed_point.lam))

        ran = _drawn(plan, dict(prompt=prompts(vocab, 1, plan.prompt_tokens), inner=st.sampled_from([1, 2, 4])),
                     body)
        lams = found["not_contractive"]
        numbers: dict[str, Any] = {"prompts_checked": len(found["applied"]), "prompts_not_contractive": len(lams),
                                   "contraction_where_not": lams, "tightness": found["applied"]}
        if not found["applied"]:
            return None, ran, f"no drawn prompt has a contractive fixed point (measured lam {min(lams):.3g} .. " \
                              f"{max(lams):.3g}): the theorem does not apply here", numbers
        rest = f"; {len(lams)} not contractive (measured lam {min(lams):.3g} .. {max(lams):.3g})" if lams else ""
        return True, ran, f"{len(found['applied'])} prompts within the bound{rest}", numbers

    verdicts = []
    for name, work in zip(CHECKS, (oracle, reduction_a, reduction_b, reference, converged)):
        progress(name)
        verdicts.append(_verdict(name, work))
    return verdicts


def as_json(verdicts: list[Verdict]) -> list[dict[str, Any]]:
    return [asdict(v) | {"verdict": v.label} for v in verdicts]
