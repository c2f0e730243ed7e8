"""Table 1 and Table 2 re-plotted, with the cost model's explanation beside the reported numbers.

For every row with fixed knobs, on the table's GPU (A100-40GB): the calibrated prediction (transferred from the
H100 calibration, with its widened band) for the committed measurements' workload, the speedup over static AR
r = 32 that it predicts, and the weight-streaming ceiling (`rdtheory.costs.plan.bandwidth_bound_tokens_per_s`).
The paper's prompts and generation lengths per task are not known, so the absolute predictions are for one
workload; the predicted speedup is what the cost model says a task's ratio should be, whatever its length.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rdtheory.config import HUGINN_0125, ModelConfig
from rdtheory.costs.calibration import Calibration, load_calibration
from rdtheory.costs.plan import Prediction, StaticAR, bandwidth_bound_tokens_per_s, plan
from rdtheory.costs.table1 import TABLE1_HARDWARE
from rdtheory.figures.output import new_figure
from rdtheory.figures.paper_tables import TABLE1, TABLE1_TASKS, TABLE2, TABLE2_TASKS, PaperRow
from rdtheory.figures.predictions import workload
from rdtheory.paper import DEPTH
from rdtheory.theory.checks import require

BASE = StaticAR(DEPTH)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points (accuracy, tokens/s) that no other point beats or equals in both and beats in one."""
    return [i for i, (a, r) in enumerate(points)
            if not any(a2 >= a and r2 >= r and (a2, r2) != (a, r) for a2, r2 in points)]


@dataclass(frozen=True)
class RowExplanation:
    """A row with knobs on the table's hardware: the calibrated prediction and the ceiling (None without knobs)."""

    row: PaperRow
    prediction: Prediction | None
    ceiling_tokens_per_s: float | None
    predicted_speedup: float | None


def explain_rows(rows: Sequence[PaperRow] = TABLE1, hardware: str = TABLE1_HARDWARE,
                 calibration: Calibration | None = None, config: ModelConfig = HUGINN_0125) -> list[RowExplanation]:
    """Each row priced on `hardware` for the measurements' workload; speedups over static AR r = 32 there."""
    require("rows", list(rows), bool(rows), "must hold at least one PaperRow")
    cal = load_calibration() if calibration is None else calibration
    prompt, new = workload()
    knobs = dict(prompt_length=prompt, new_tokens=new, calibration=cal)
    base = plan(config, hardware, BASE, **knobs).tokens_per_s
    out = []
    for row in rows:
        if row.knobs is None:
            out.append(RowExplanation(row, None, None, None))
            continue
        p = plan(config, hardware, row.knobs, **knobs)
        out.append(RowExplanation(row, p, bandwidth_bound_tokens_per_s(config, hardware, row.knobs),
                                  p.tokens_per_s / base))
    return out


def _speedups(row: PaperRow, base: PaperRow) -> np.ndarray:
    return np.array(row.tokens_per_s) / np.array(base.tokens_per_s)


def speedup_label(e: RowExplanation, base: PaperRow) -> str:
    """A row's reported speedups over `base` (lowest to highest over the tasks) and the cost model's, as the
    legend of `table1_figure` prints them: the numbers stay with the code that computes them."""
    reported = _speedups(e.row, base)
    model = "" if e.predicted_speedup is None else f"; cost model {e.predicted_speedup:.2f}x"
    return f"{e.row.label}: reported {reported.min():.2f}x .. {reported.max():.2f}x{model}"


def table1_figure(explained: Sequence[RowExplanation], hardware: str = TABLE1_HARDWARE) -> Any:
    """Left: reported speedup over static AR r=32 per task, predicted speedup as black ticks, both in the legend
    (`speedup_label`). Middle: reported tokens/s against the calibrated prediction (band) and the bandwidth
    ceiling. Third: each row's accuracy minus static AR's, per task. Right: accuracy against tokens/s with each
    task's Pareto front."""
    require("explained", [e.row.label for e in explained][:1], bool(explained) and explained[0].row.knobs == BASE,
            "must start with the static AR r=32 row (the speedups' base)")
    fig, axes = new_figure(1, 4, width=21.0, height=5.6)
    base = explained[0].row
    rows = explained[1:]
    x = np.arange(len(TABLE1_TASKS))
    width = 0.8 / len(rows)
    for k, e in enumerate(rows):
        xs = x - 0.4 + (k + 0.5) * width
        axes[0].bar(xs, _speedups(e.row, base), width=width, label=speedup_label(e, base),
                    gid=f"speedup:{e.row.label}")
        if e.predicted_speedup is not None:
            axes[0].plot(xs, [e.predicted_speedup] * len(xs), "_", color="black", markersize=9,
                         gid=f"predicted_speedup:{e.row.label}")
    axes[0].set_xticks(x, TABLE1_TASKS)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("tokens/s over static AR r=32 (black: cost model)")
    axes[0].legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=1)
    labelled = [e for e in explained if e.prediction is not None]
    y = np.arange(len(labelled))
    for t, task in enumerate(TABLE1_TASKS):
        axes[1].plot([e.row.tokens_per_s[t] for e in labelled], y + 0.12 * (t - 1.5), "o", markersize=4,
                     label=f"reported {task}", gid=f"reported:{task}")
    rates = np.array([e.prediction.tokens_per_s for e in labelled])
    ranges = np.array([e.prediction.tokens_per_s_range for e in labelled])
    axes[1].errorbar(rates, y, xerr=[rates - ranges[:, 0], ranges[:, 1] - rates], fmt="s", color="black",
                     capsize=3, label="calibrated prediction", gid="predicted")
    axes[1].plot([e.ceiling_tokens_per_s for e in labelled], y, "|", color="crimson", markersize=14,
                 label="bandwidth ceiling", gid="ceiling")
    axes[1].set_yticks(y, [e.row.label for e in labelled], fontsize=7)
    axes[1].set_xscale("log")
    axes[1].set_xlabel(f"tokens/s on {hardware}")
    axes[1].legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3)
    for k, e in enumerate(rows):
        axes[2].bar(x - 0.4 + (k + 0.5) * width, np.array(e.row.accuracy) - np.array(base.accuracy), width=width,
                    label=e.row.label, gid=f"delta:{e.row.label}")
    axes[2].axhline(0, color="black", linewidth=0.8)
    axes[2].set_xticks(x, TABLE1_TASKS)
    axes[2].set_ylabel("accuracy - static AR r=32 accuracy (points)")
    for t, task in enumerate(TABLE1_TASKS):
        points = [(e.row.accuracy[t], e.row.tokens_per_s[t]) for e in explained]
        front = sorted((points[i] for i in pareto_front(points)), key=lambda p: p[1])
        (line,) = axes[3].plot([p[1] for p in points], [p[0] for p in points], "o", markersize=4, label=task)
        axes[3].plot([p[1] for p in front], [p[0] for p in front], "-", color=line.get_color(), gid=f"pareto:{task}")
    titles = ("reported speedup (bars) and the cost model's (ticks)", "reported tokens/s beside the cost model",
              "reported accuracy change over static AR r=32", "accuracy against tokens/s, Pareto front per task")
    for ax, title in zip(axes, titles):
        ax.set_title(title, fontsize=9)
    axes[3].set_xscale("log")
    axes[3].set_xlabel("tokens/s (reported)")
    axes[3].set_ylabel("accuracy (%)")
    axes[3].legend(fontsize=7)
    prompt, new = workload()
    fig.suptitle(f"Table 1 (Huginn-0125, {hardware}); predictions for prompt {prompt}, {new} new tokens", fontsize=10)
    return fig


def table2_figure(hardware: str = TABLE1_HARDWARE, calibration: Calibration | None = None) -> Any:
    """Left: DF speedup over static AR r=32 per checkpoint and task, with the cost model's predicted speedup
    (the same architecture, so one value). Right: DF accuracy minus AR accuracy."""
    fig, (left, right) = new_figure(1, 2, width=12.0, height=4.2)
    ar_row, df_row = next(iter(TABLE2.values()))
    predicted = explain_rows([ar_row, df_row], hardware, calibration)[1].predicted_speedup
    x = np.arange(len(TABLE2_TASKS))
    width = 0.8 / len(TABLE2)
    for k, (model, (ar, df)) in enumerate(TABLE2.items()):
        xs = x - 0.4 + (k + 0.5) * width
        left.bar(xs, _speedups(df, ar), width=width, label=model, gid=f"speedup:{model}")
        right.bar(xs, np.array(df.accuracy) - np.array(ar.accuracy), width=width, label=model,
                  gid=f"delta:{model}")
    left.axhline(predicted, color="black", linestyle="--", label=f"cost model on {hardware}", gid="predicted")
    left.set_ylim(0, 1.3 * max(predicted, *(max(_speedups(df, ar)) for ar, df in TABLE2.values())))
    left.set_ylabel("DF tokens/s over AR r=32")
    right.axhline(0, color="black", linewidth=0.8)
    right.set_ylabel("DF accuracy - AR accuracy (points)")
    for ax in (left, right):
        ax.set_xticks(x, TABLE2_TASKS)
        ax.legend(fontsize=7, ncol=2)
    fig.suptitle("Table 2: the same sampler settings on three checkpoints", fontsize=10)
    return fig
