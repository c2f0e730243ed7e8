"""report.md: the checks table, the schedules, the predictions with their bands, the shipped model."""

import platform
from collections.abc import Sequence
from typing import Any

import torch

from rdtheory.costs.fitting import BENCHMARK_CASES
from rdtheory.costs.plan import rate_range, sampler_label
from rdtheory.figures import predictions
from rdtheory.report.checks import SCHEDULE_KNOBS, Check
from rdtheory.report.sections import MODEL, PAPER_DF_TEXT, ModelSection
from rdtheory.training.task import HELD_OUT_SEED


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
        f"on grid reachability: which cells of a {len(grid)} x {len(grid)} grid's last row can be reached from the "
        "top-left corner by moves right and down (`rdtheory.training.task`). Load it with "
        f"`rdtheory.load_pretrained(\"{MODEL}\")`.",
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
