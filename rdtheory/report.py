"""`rdtheory report`: the package's claims checked, drawn and priced in one run, written to a folder.

Four parts, each computed by the tested functions of `rdtheory.figures`, `rdtheory.testing` and `rdtheory.costs`:
the checks (the diffusion-forcing sampler's exact AR limits and the boundary of those limits on tiny float64
models, token for token; its converged limit on contractive models, within `committed_error_bound`), the schedules
(Figure 1 and the schedules the samplers actually ran), Huginn-0125 tokens/s predicted for AR and DF on every
bundled accelerator with the calibration's band, and the shipped model `rdtheory/looped-tiny` (accuracy against
depth, one answer generated both ways, their serial core passes). `run` writes report.md and the PNGs, prints one
PASS/FAIL line per check and returns 1 if any check failed. Runs on the CPU; a text progress bar goes to stderr.
"""

import importlib.util
import json
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import torch

from rdtheory.cli import rate_range, sampler_label
from rdtheory.config import TINY
from rdtheory.costs.calibration import load_calibration
from rdtheory.costs.fitting import BENCHMARK_CASES
from rdtheory.figures import convergence as conv
from rdtheory.figures import limits, predictions
from rdtheory.figures.output import new_figure, save
from rdtheory.figures.schedules import paper_schedules, schedules_figure
from rdtheory.models import bundled_path
from rdtheory.sampling.autoregressive import generate_ar
from rdtheory.sampling.diffusion_forcing import generate_df
from rdtheory.sampling.exits import FixedDepth, LatentDiff
from rdtheory.sampling.schedules import NO_NOISE, Constant
from rdtheory.sampling.tokens import Sampling
from rdtheory.testing.equivalence import ar_limit
from rdtheory.testing.models import random_model
from rdtheory.training.task import HELD_OUT_SEED

MODEL = "rdtheory/looped-tiny"
DEPTHS = (1, 2, 4, 8, 16)
PAPER_DEPTH = 32  # the paper's r: AR's depth, DF's prefill depth (and max depth 2r)
PAPER_DF = dict(inner=4, exit=LatentDiff(0.03), max_wavefront=128, headway=1, ema=0.1, noise=NO_NOISE, init_scale=1.0)
PAPER_DF_TEXT = "r'=4, LatentDiff(0.03), eta=0.1, beta=0, cap 128, headway 1, init scale 1"


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


class Progress:
    """`[#####.....] 5/10 label` on `stream`: redrawn in place on a terminal, one line per step otherwise."""

    def __init__(self, total: int, stream: TextIO, width: int = 10) -> None:
        self.total, self.stream, self.width, self.done = total, stream, width, 0
        self.live = getattr(stream, "isatty", lambda: False)()
        self.text = ""

    def step(self, label: str) -> None:
        self.done = min(self.done + 1, self.total)
        filled = round(self.width * self.done / self.total)
        self.text = f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} {label}"
        self.stream.write(f"\r{self.text}\x1b[K" if self.live else f"{self.text}\n")
        self.stream.flush()

    def clear(self) -> None:
        if self.live and self.text:
            self.stream.write("\r\x1b[K")

    def redraw(self) -> None:
        if self.live and self.text:
            self.stream.write(f"\r{self.text}\x1b[K")
            self.stream.flush()

    def close(self) -> None:
        if self.live:
            self.stream.write("\n")
            self.stream.flush()


# --- checks -------------------------------------------------------------------------------------------------------

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
                + f"; AR at r=1 gives other tokens: {shallow_differs}") if bounded else "lam not measured below 1"
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


# --- predictions and the shipped model --------------------------------------------------------------------------

def prediction_rows() -> tuple[list[Any], str]:
    """Huginn-0125 AR and DF predicted on every bundled record, and a line on the calibration behind the band."""
    cal = load_calibration()
    env = cal.provenance.get("stages", {}).get("environment", {})
    about = (f"calibration fitted on {cal.hardware} ({env.get('device')}, torch {env.get('torch')}, commit "
             f"{env.get('commit')}); band: held-out relative error {cal.band.low:+.1%} .. {cal.band.high:+.1%} on "
             f"{cal.hardware}, widened by {cal.transfer_widening:.0%} on each side elsewhere (efficiencies assumed)")
    return predictions.hardware_predictions(cal), about


@dataclass(frozen=True)
class ModelSection:
    """The shipped model: depth curve, one held-out example generated by AR and DF, and the batch's answers."""

    parameters: int
    mean_recurrence: int
    depth: int
    n_examples: int
    curve: tuple[tuple[int, float], ...]
    prompt: str
    answer: str
    ar: Any
    df: Any
    batch_correct: tuple[int, int]
    batch_passes: tuple[int, int]
    evaluation: list[tuple[str, str]] | None


def _flatten(raw: Any, prefix: str = "", depth: int = 3) -> list[tuple[str, str]]:
    if isinstance(raw, dict) and depth > 0:
        return [kv for k, v in raw.items() for kv in _flatten(v, f"{prefix}{k}" if not prefix else f"{prefix}.{k}",
                                                               depth - 1)]
    if isinstance(raw, bool) or isinstance(raw, (str, int)):
        return [(prefix, str(raw))]
    if isinstance(raw, float):
        return [(prefix, f"{raw:.4g}")]
    return []


HEADLINE_KEYS = ("held_out", "saturation_depth", "paper_claim")


def evaluation_headline(path: Path) -> list[tuple[str, str]] | None:
    """The headline numbers of an evaluation JSON: its "headline" entry if it has one, else its `HEADLINE_KEYS`
    entries if it has any, else all of it; scalars up to three levels deep, at most 24. None when the file is
    missing, unreadable or holds no number."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if isinstance(raw, dict) and isinstance(raw.get("headline"), dict):
        raw = raw["headline"]
    elif isinstance(raw, dict) and any(k in raw for k in HEADLINE_KEYS):
        raw = {k: raw[k] for k in HEADLINE_KEYS if k in raw}
    return _flatten(raw)[:24] or None


def model_section(quick: bool) -> ModelSection:
    from rdtheory import load_pretrained
    from rdtheory.training.recipe import teacher_forced_accuracy
    from rdtheory.training.task import EOS, dataset, decode, encode

    model = load_pretrained(MODEL)
    examples = dataset(HELD_OUT_SEED, 16 if quick else 64)
    curve = tuple((r, teacher_forced_accuracy(model, examples, r, "cpu")) for r in DEPTHS)
    depth = PAPER_DEPTH
    n_new = len(examples[0].answer) + 1
    first = [encode(examples[0].prompt)]
    ar = generate_ar(model, first, n_new, depth, stop_tokens=[EOS])
    df = generate_df(model, first, n_new, depth=depth, stop_tokens=[EOS], **PAPER_DF)
    prompts = [encode(e.prompt) for e in examples]
    runs = (generate_ar(model, prompts, n_new, depth, stop_tokens=[EOS]),
            generate_df(model, prompts, n_new, depth=depth, stop_tokens=[EOS], **PAPER_DF))
    correct = tuple(sum(decode(t) == e.answer + "<eos>" for t, e in zip(run.tokens, examples)) for run in runs)
    return ModelSection(sum(p.numel() for p in model.parameters()), model.config.mean_recurrence, depth,
                        len(examples), curve, examples[0].prompt, examples[0].answer, ar, df, correct,
                        tuple(run.trace.core_passes for run in runs),
                        evaluation_headline(bundled_path(MODEL) / "evaluation.json"))


def depth_curve_figure(section: ModelSection) -> Any:
    fig, ax = new_figure(width=5.0, height=3.2)
    ax.plot([r for r, _ in section.curve], [a for _, a in section.curve], "o-", gid="depth_curve")
    ax.set_xscale("log", base=2)
    ax.set_xticks([r for r, _ in section.curve], [str(r) for r, _ in section.curve])
    ax.set_xlabel("recurrences r")
    ax.set_ylabel("teacher-forced accuracy")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"{MODEL}: {section.n_examples} held-out grids (seed {HELD_OUT_SEED})", fontsize=9)
    return fig


# --- schedules ----------------------------------------------------------------------------------------------------

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


# --- report.md ----------------------------------------------------------------------------------------------------

def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows), ""]


def _rate(p: Any) -> str:
    return "—" if p is None else f"{p.tokens_per_s:.1f}"


def _band(p: Any) -> str:
    return "—" if p is None else rate_range(p)


def _checks_md(checks: Sequence[Check], figures: dict[str, str]) -> list[str]:
    failed = sum(not c.passed for c in checks)
    return [
        "## 1. Checks", "",
        f"**All {len(checks)} checks pass.**" if not failed else f"**{failed} of {len(checks)} checks FAIL.**",
        "",
        "Exact AR limits: in float64 on random TINY models, diffusion forcing with r' = r, `FixedDepth(r)`, no EMA "
        "and no noise must equal static AR and the plain AR oracle token for token (latents to 1e-10 of their norm), "
        "and with a wavefront of one it must equal adaptive AR checking its exit every r' steps. "
        "`rdtheory.testing.equivalence.ar_limit` states exactly when the limit holds; the boundary checks run knobs "
        "inside and outside it. Converged limit (Remark 3.1): on contractive models, DF with `LatentDiff(eps)` "
        "commits states within `committed_error_bound` of AR's fixed point, with the constants measured at it; "
        "outside the theorem an error floor remains. Schedules: the fixed-rule runs of section 2 executed exactly "
        "the schedules the theory draws.", "",
        *_table(("result", "family", "claim", "case", "what was compared"),
                [("PASS" if c.passed else "**FAIL**", c.family, c.claim, c.case, c.compared) for c in checks]),
        f"![converged limit]({figures['convergence']})", "",
    ]


def _schedules_md(figures: dict[str, str]) -> list[str]:
    k = SCHEDULE_KNOBS
    return [
        "## 2. Schedules", "",
        f"Figure 1 of the paper for r = {k['depth']}, r' = {k['inner']}, a {k['prompt_len']}-token prompt and "
        f"{k['n_new']} new tokens: each cell (position, recurrence step) is coloured by the serial core pass in which "
        "it runs. AR climbs one column at a time; diffusion forcing advances a diagonal wave.", "",
        f"![schedules]({figures['schedules']})", "",
        "The same grids as the samplers actually ran them (`Trace.to_schedule(row)`), with a latent-difference run "
        "whose positions leave the wave when their state settles:", "",
        f"![sampler schedules]({figures['sampler_schedules']})", "",
    ]


def _predictions_md(preds: Sequence[Any], about: str, figures: dict[str, str]) -> list[str]:
    ar_case, df_case = predictions.AR_CASE, predictions.DF_CASE
    prompt, new = predictions.workload()
    rows = [(p.hardware, _rate(p.ar), _band(p.ar), _rate(p.df), _band(p.df),
             "—" if p.speedup is None else f"{p.speedup:.2f}x") if p.error is None else
            (p.hardware, "—", "—", "—", "—", p.error) for p in preds]
    measured = {(m.case, m.kind): m for m in predictions.measured_rates()}
    device = {(m.device, m.torch) for m in measured.values()}
    return [
        "## 3. Predicted Huginn-0125 tokens/s", "",
        f"Batch 1, bfloat16, a {prompt}-token prompt and {new} new tokens (the workload of the committed H100 "
        f"benchmark), static AR against fixed-rule diffusion forcing ({sampler_label(BENCHMARK_CASES[df_case].sampler)}"
        f"). The {about}. `rdtheory plan` prices other knobs the same way.", "",
        *_table(("accelerator", f"{ar_case} tokens/s", "band", f"{df_case} tokens/s", "band", "DF / AR"), rows),
        "Measured on the H100 (" + "; ".join(f"{d}, torch {t}" for d, t in sorted(device)) + "), tokens/s:", "",
        *_table(("case", *predictions.MEASUREMENTS), [(case, *(f"{measured[case, kind].tokens_per_s:.1f}"
                                                               for kind in predictions.MEASUREMENTS))
                                                      for case in (ar_case, df_case)]),
        f"![predictions]({figures['predictions']})", "",
    ]


def _model_md(s: ModelSection, figures: dict[str, str]) -> list[str]:
    from rdtheory.training.task import decode

    grid = s.prompt.removeprefix("<bos>").removesuffix("=").rstrip(";").split(";")
    ar_text, df_text, want = decode(s.ar.tokens[0]), decode(s.df.tokens[0]), s.answer + "<eos>"
    lines = [
        f"## 4. The shipped model `{MODEL}`", "",
        f"Huginn's architecture ({s.parameters / 1e6:.2f}M parameters, mean recurrence {s.mean_recurrence}) trained "
        "on grid reachability: which cells of an 8 x 8 grid's last row can be reached from the top-left corner by "
        f"moves right and down (`rdtheory.training.task`). Load it with `rdtheory.load_pretrained(\"{MODEL}\")`.",
        "",
        f"Teacher-forced accuracy (every answer digit right) on {s.n_examples} held-out grids (seed {HELD_OUT_SEED}):",
        "", *_table(("r", *(str(r) for r, _ in s.curve)), [("accuracy", *(f"{a:.3f}" for _, a in s.curve))]),
        f"![depth curve]({figures['depth_curve']})", "",
        f"One held-out grid, generated greedily by static AR at the paper's r = {s.depth} and by diffusion forcing "
        f"with the paper's defaults ({PAPER_DF_TEXT}; prefill at r = {s.depth}, at most {2 * s.depth} recurrences "
        "per position):", "",
        "```", *grid, f"reachable in the last row: {s.answer}", "```", "",
        *_table(("sampler", "answer", "serial core passes", "ticks", "correct"),
                [(name, f"`{text}`", run.trace.core_passes, run.trace.n_ticks, "yes" if text == want else "no")
                 for name, text, run in ((f"AR r={s.depth}", ar_text, s.ar), ("DF (paper defaults)", df_text, s.df))]),
        f"On all {s.n_examples} grids in one batch: AR answers {s.batch_correct[0]} and DF {s.batch_correct[1]} "
        f"exactly right, in {s.batch_passes[0]} and {s.batch_passes[1]} serial core passes for the whole batch.", "",
    ]
    if s.evaluation:
        lines += ["Headline numbers of the committed evaluation (`evaluation.json` in the model folder):", "",
                  *_table(("entry", "value"), s.evaluation)]
    return lines


def markdown(checks: Sequence[Check], figures: dict[str, str], preds: Sequence[Any], about: str,
             section: ModelSection, seconds: float, quick: bool) -> str:
    head = [
        "# rdtheory report", "",
        f"Written by `rdtheory report{' --quick' if quick else ''}` in {seconds:.0f} s on the CPU (Python "
        f"{platform.python_version()}, torch {torch.__version__}). Recurrent-depth models read as causal diffusion "
        "models: the diffusion-forcing sampler's limits checked, its schedules drawn, its speed on Huginn-0125 "
        "predicted, and a trained looped model run both ways.", "",
    ]
    body = [*_checks_md(checks, figures), *_schedules_md(figures), *_predictions_md(preds, about, figures),
            *_model_md(section, figures)]
    return "\n".join(head + body)


# --- the command --------------------------------------------------------------------------------------------------

STEPS = ("checking exact AR limits", "checking the limit's boundary", "checking the converged limit",
         "drawing schedules", "predicting Huginn-0125 tokens/s", f"running {MODEL}", "writing report.md")


def run(out: str | Path = "report", quick: bool = False, stdout: TextIO | None = None,
        stderr: TextIO | None = None) -> int:
    """Compute, print and write the report into folder `out`; 0 if every check passed, else 1. quick: fewer cases
    and 16 instead of 64 held-out grids."""
    stdout = sys.stdout if stdout is None else stdout
    if importlib.util.find_spec("matplotlib") is None:
        raise ModuleNotFoundError("the report draws its figures with matplotlib, which is not installed: pip install "
                                  "matplotlib (it is in the test and notebooks extras)")
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"out={str(out)!r} is a file; it must be a folder (created if missing)")
    folder.mkdir(parents=True, exist_ok=True)
    progress = Progress(len(STEPS), sys.stderr if stderr is None else stderr)
    checks: list[Check] = []

    def record(found: list[Check]) -> None:
        progress.clear()
        for c in found:
            print(c.line(), file=stdout, flush=True)
        progress.redraw()
        checks.extend(found)

    threads, start = torch.get_num_threads(), time.perf_counter()
    torch.set_num_threads(1)  # tiny models: a thread pool's overhead would dominate
    try:
        progress.step(STEPS[0])
        record(exact_limit_checks(quick))
        progress.step(STEPS[1])
        record(boundary_checks(quick))
        progress.step(STEPS[2])
        found, sweeps = converged_checks(quick)
        record(found)
        figures = {"convergence": save(conv.convergence_figure(sweeps), "convergence", folder).path.name}
        progress.step(STEPS[3])
        found, drawn = schedule_checks_and_figures(folder)
        record(found)
        figures |= drawn
        progress.step(STEPS[4])
        preds, about = prediction_rows()
        figures["predictions"] = save(predictions.predictions_figure(preds, predictions.measured_rates()),
                                      "predictions", folder).path.name
        progress.step(STEPS[5])
        section = model_section(quick)
        figures["depth_curve"] = save(depth_curve_figure(section), "depth_curve", folder).path.name
        progress.step(STEPS[6])
        text = markdown(checks, figures, preds, about, section, time.perf_counter() - start, quick)
        (folder / "report.md").write_text(text + "\n")
    finally:
        torch.set_num_threads(threads)
        progress.close()
    failed = [c for c in checks if not c.passed]
    verdict = f"{len(failed)} of {len(checks)} checks FAILED" if failed else f"all {len(checks)} checks passed"
    print(f"{verdict}; report written to {folder / 'report.md'} ({time.perf_counter() - start:.0f} s)", file=stdout)
    return 1 if failed or not checks else 0
