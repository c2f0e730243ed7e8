"""Huginn-0125 tokens/s predicted on every bundled accelerator, next to what was measured on the H100.

The workload (prompt and new tokens) and the sampler knobs are those of the committed measurements
(`rdtheory.costs.data/h100_generation_*.json`, cases described by `rdtheory.costs.fitting.BENCHMARK_CASES`), so
the H100 prediction and the measurement price the same generation. Predictions use the committed calibration;
its band is the uncertainty (held-out residuals on the H100, widened on other hardware, see `Calibration`).
"""

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from rdtheory.config import HUGINN_0125, ModelConfig
from rdtheory.costs.calibration import Calibration, load_calibration
from rdtheory.costs.fitting import BENCHMARK_CASES
from rdtheory.costs.hardware import load_hardware
from rdtheory.costs.plan import Prediction, plan
from rdtheory.figures.output import new_figure

MEASUREMENTS = {"eager": "data/h100_generation_eager.json", "compiled": "data/h100_generation_compiled.json"}
AR_CASE, DF_CASE = "AR r=32", "DF fixed r'=4"


@functools.cache
def measured_generation(kind: str) -> dict[str, Any]:
    """The committed generation-speed file of the H100 run with eager or compiled blocks."""
    if kind not in MEASUREMENTS:
        raise ValueError(f"kind={kind!r} must be one of {sorted(MEASUREMENTS)}")
    return json.loads(resources.files("rdtheory.costs").joinpath(MEASUREMENTS[kind]).read_text())


@dataclass(frozen=True)
class MeasuredRate:
    """One committed measurement: a benchmark case's tokens/s on a device, and how it was taken."""

    kind: str
    case: str
    device: str
    tokens_per_s: float
    seconds: float
    torch: str
    commit: str


def measured_rate(kind: str, case: str) -> MeasuredRate:
    raw = measured_generation(kind)
    if case not in raw["cases"]:
        raise ValueError(f"case={case!r} is not in the {kind} measurements; known: {sorted(raw['cases'])}")
    entry, env = raw["cases"][case], raw["environment"]
    return MeasuredRate(kind, case, env["device"], entry["tokens_per_s"], entry["seconds"], env["torch"],
                        env["commit"])


def measured_rates(cases: Sequence[str] = (AR_CASE, DF_CASE)) -> list[MeasuredRate]:
    """The committed rates of `cases`, eager and compiled."""
    return [measured_rate(kind, case) for kind in MEASUREMENTS for case in cases]


def workload() -> tuple[int, int]:
    """(prompt length, new tokens) of the committed measurements (the same in both files)."""
    shapes = {(measured_generation(k)["prompt"], measured_generation(k)["new_tokens"]) for k in MEASUREMENTS}
    assert len(shapes) == 1, f"the measurement files disagree on the workload: {shapes}"
    return shapes.pop()


@dataclass(frozen=True)
class HardwarePrediction:
    """Predictions of the AR and DF benchmark cases on one record (None with the reason where it cannot run)."""

    hardware: str
    ar: Prediction | None
    df: Prediction | None
    error: str | None = None

    @property
    def speedup(self) -> float | None:
        return None if self.ar is None or self.df is None else self.df.tokens_per_s / self.ar.tokens_per_s


def hardware_predictions(calibration: Calibration | None = None, config: ModelConfig = HUGINN_0125,
                         cases: tuple[str, str] = (AR_CASE, DF_CASE)) -> list[HardwarePrediction]:
    """Both benchmark cases on every bundled hardware record, calibrated (default: the committed calibration)."""
    cal = load_calibration() if calibration is None else calibration
    prompt, new = workload()
    out = []
    for hw in load_hardware().values():
        try:
            ar, df = (plan(config, hw, BENCHMARK_CASES[c].sampler, prompt_length=prompt, new_tokens=new,
                           batch=BENCHMARK_CASES[c].batch, calibration=cal) for c in cases)
            out.append(HardwarePrediction(hw.name, ar, df))
        except ValueError as error:
            out.append(HardwarePrediction(hw.name, None, None, str(error)))
    return out


def predictions_figure(predictions: Sequence[HardwarePrediction], measured: Sequence[MeasuredRate] = ()) -> Any:
    """Predicted tokens/s of AR and DF per accelerator with the band as error bars; measured rates as markers
    on their device's record (the calibration's hardware)."""
    rows = [p for p in predictions if p.ar is not None and p.df is not None]
    if not rows:
        raise ValueError(f"predictions={list(predictions)!r} must hold at least one record with both cases priced")
    fig, ax = new_figure(width=max(6.0, 1.3 * len(rows) + 2), height=4.2)
    x = np.arange(len(rows))
    for offset, name in ((-0.2, "ar"), (0.2, "df")):
        preds = [getattr(p, name) for p in rows]
        rates = np.array([q.tokens_per_s for q in preds])
        ranges = np.array([q.tokens_per_s_range for q in preds])
        ax.bar(x + offset, rates, width=0.38, label=f"predicted {AR_CASE if name == 'ar' else DF_CASE}",
               yerr=[rates - ranges[:, 0], ranges[:, 1] - rates], capsize=3, gid=f"predicted:{name}")
    cal_hw = load_calibration().hardware
    for m, marker in zip(measured, "oDs^v<>"):
        if cal_hw in (p.hardware for p in rows):
            i = [p.hardware for p in rows].index(cal_hw)
            ax.plot(i + (-0.2 if m.case == AR_CASE else 0.2), m.tokens_per_s, marker, color="black",
                    label=f"measured {m.case} ({m.kind})", gid=f"measured:{m.kind}:{m.case}")
    ax.set_xticks(x, [p.hardware for p in rows], rotation=20, fontsize=8)
    ax.set_ylabel("tokens/s (Huginn-0125, batch 1)")
    prompt, new = workload()
    ax.set_title(f"prompt {prompt}, {new} new tokens; bars: calibrated prediction with its band", fontsize=9)
    ax.legend(fontsize=7)
    return fig
