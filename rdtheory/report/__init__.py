"""`rdtheory report`: the package's claims checked, drawn and priced in one run, written to a folder.

Four parts, each computed by the tested functions of `rdtheory.figures`, `rdtheory.testing` and `rdtheory.costs`:
the checks (the diffusion-forcing sampler's exact AR limits and the boundary of those limits on tiny float64
models, token for token; its converged limit on contractive models, within `committed_error_bound`), the schedules
(Figure 1 and the schedules the samplers actually ran), Huginn-0125 tokens/s predicted for AR and DF on every
bundled accelerator with the calibration's band, and the shipped model `rdtheory/looped-tiny` (accuracy against
depth, one answer generated both ways, their serial core passes). `run` writes report.md and the PNGs, prints one
PASS/FAIL line per check and returns 1 if any check failed. Runs on the CPU; a text progress bar goes to stderr.
The folder is written all or nothing (`staging`): a run that stops leaves a report.md saying so, never an earlier
run's verdict beside other figures.

Modules: `checks` (the verdicts), `sections` (predictions and the shipped model), `markdown` (report.md),
`staging` (the folder's all-or-nothing writes); this one holds the progress bar and the command.
"""

import importlib.util
import sys
import time
from pathlib import Path
from typing import TextIO

import torch

from rdtheory.figures import convergence as conv
from rdtheory.figures import predictions
from rdtheory.figures.output import save
from rdtheory.progress import Progress
from rdtheory.report.checks import (
    Check,
    boundary_checks,
    converged_checks,
    exact_limit_checks,
    schedule_checks_and_figures,
)
from rdtheory.report.markdown import markdown
from rdtheory.report.sections import (
    DEPTHS,
    MODEL,
    PAPER_DEPTH,
    depth_curve_figure,
    evaluation_headline,
    model_section,
    prediction_rows,
)
from rdtheory.report.staging import REPORT, staged

__all__ = ["DEPTHS", "MODEL", "PAPER_DEPTH", "STEPS", "Check", "Progress", "evaluation_headline", "run"]


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
    progress = Progress(len(STEPS), sys.stderr if stderr is None else stderr)
    checks: list[Check] = []

    def record(found: list[Check]) -> None:
        progress.clear()
        for c in found:
            print(c.line(), file=stdout, flush=True)
        progress.redraw()
        checks.extend(found)

    def where() -> str:
        n = max(progress.done, 1)
        return f'step {n} of {len(STEPS)} "{STEPS[n - 1]}"'

    threads, start = torch.get_num_threads(), time.perf_counter()
    torch.set_num_threads(1)  # tiny models: a thread pool's overhead would dominate
    try:
        with staged(folder, where) as staging:
            progress.step(STEPS[0])
            record(exact_limit_checks(quick))
            progress.step(STEPS[1])
            record(boundary_checks(quick))
            progress.step(STEPS[2])
            found, sweeps = converged_checks(quick)
            record(found)
            figures = {"convergence": save(conv.convergence_figure(sweeps), "convergence", staging).path.name}
            progress.step(STEPS[3])
            found, drawn = schedule_checks_and_figures(staging)
            record(found)
            figures |= drawn
            progress.step(STEPS[4])
            preds, about = prediction_rows()
            figures["predictions"] = save(predictions.predictions_figure(preds, predictions.measured_rates()),
                                          "predictions", staging).path.name
            progress.step(STEPS[5])
            section = model_section(quick)
            figures["depth_curve"] = save(depth_curve_figure(section), "depth_curve", staging).path.name
            progress.step(STEPS[6])
            text = markdown(checks, figures, preds, about, section, time.perf_counter() - start, quick)
            (staging / REPORT).write_text(text + "\n")
    finally:
        torch.set_num_threads(threads)
        progress.close()
    failed = [c for c in checks if not c.passed]
    verdict = f"{len(failed)} of {len(checks)} checks FAILED" if failed else f"all {len(checks)} checks passed"
    print(f"{verdict}; report written to {folder / REPORT} ({time.perf_counter() - start:.0f} s)", file=stdout)
    return 1 if failed or not checks else 0
