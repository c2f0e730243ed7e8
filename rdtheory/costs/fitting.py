"""Fitting a `Calibration` from GPU measurements: the call model on stage latencies, the host model on generations.

Reads the stage-latency file of `rdtheory.gpu.measure` (records of stage, W, L, B and seconds) and the generation
file of `rdtheory.gpu.bench` (end-to-end benchmark cases). Owns the train/held-out split, the fit (scipy, imported
only when a fit runs), the residual summaries and the band. Knows nothing of samplers' code: benchmark
cases are described by `plan`'s knob objects and priced with `workload`'s builders.

Split: the k-th record of each stage in file order (the harness writes them by batch, then context, then width)
is held out when k % 4 == 3. This is deterministic, puts a quarter of every stage's points aside, and, because
consecutive records step through widths, spreads them across all batches, contexts and both roofline regimes.

Call model: least squares on log(predicted / measured) over the fitted records, so every point counts by its
relative error, from a fixed start inside fixed bounds (deterministic).

Host model: tick_s and row_s by non-negative least squares on the gap between measured seconds and predicted
device seconds of HOST_FIT_CASES (the fixed-rule DF at B = 8 and B = 32); every batch-1 case is held out, so the
predicted DF/AR speedup at batch 1 compares two predictions made without their own measurements. The band spans the
5 % and 95 % quantiles of held-out call errors and every held-out case's error.

Validation: generation files of independent benchmark runs (same workload, another run) can be given to
`calibrate`; they are priced with the finished calibration and their errors recorded next to the residuals, never
fitted on and never used for the band. The shipped calibration is the output of
`rdtheory calibrate --stages SHIPPED_STAGES --generation SHIPPED_GENERATION --validation SHIPPED_VALIDATION`.
"""

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from rdtheory.config import HUGINN_0125, ModelConfig
from rdtheory.costs.calibration import PRESETS, Band, Calibration, CallModel, HostModel, Padding, call_work
from rdtheory.costs.counts import Pass, Stage
from rdtheory.costs.hardware import Hardware, get_hardware
from rdtheory.costs.plan import DiffusionForcing, StaticAR
from rdtheory.paper import DEPTH

HELD_OUT_EVERY, HELD_OUT_OFFSET = 4, 3
BAND_QUANTILES = (0.05, 0.95)
HOST_FIT_CASES = ("DF fixed r'=4 B=8", "DF fixed r'=4 B=32")
PARAMETERS = ("compute_efficiency", "attention_compute_efficiency", "weight_efficiency", "kv_efficiency",
              "single_weight_efficiency", "single_kv_efficiency", "overlap", "embed_overhead_s", "core_overhead_s",
              "decode_overhead_s")
START = (0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 2.0, 50.0, 50.0, 50.0)  # overheads in microseconds
LOWER = (0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 1.0, 0.0, 0.0, 0.0)
UPPER = (2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 32.0, 1e4, 1e4, 1e4)
ENVIRONMENT_KEYS = ("device", "torch", "cuda", "commit")
SHIPPED_STAGES = "data/h100_stage_latency_compiled.json"
SHIPPED_GENERATION = "data/h100_generation_compiled.json"
SHIPPED_VALIDATION = ("data/h100_generation_compiled_profiled.json",)
VALIDATION_ROLE = "independent run, not fitted on: priced with the finished calibration"


@dataclass(frozen=True)
class StageRecord:
    """One measured call: `seconds` for `stage` over W positions per row reading L, for B rows."""

    stage: Stage
    width: int
    context: int
    batch: int
    seconds: float


@dataclass(frozen=True)
class GenerationCase:
    """A benchmark case as knobs: the sampler, the batch, and the prefill depth when it differs from the depth."""

    sampler: StaticAR | DiffusionForcing
    batch: int = 1
    prefill_depth: int | None = None


# The cases of `rdtheory.gpu.bench` (prompt 64, 48 new tokens), at the paper's settings (`rdtheory.paper.DF_DEFAULTS`,
# the defaults of DiffusionForcing). LatentDiff's exits depend on the states, so no knobs give its passes; it is
# priced as its envelope, the fixed-rule wave at its forced exit max_depth = 2r = 64 with the prefill at r = 32,
# which has its recorded ticks and core passes (16 ticks per position, not its mean).
_PAPER_DF = DiffusionForcing()
BENCHMARK_CASES: dict[str, GenerationCase] = {
    "AR r=32": GenerationCase(StaticAR(DEPTH)),
    "DF fixed r'=4": GenerationCase(_PAPER_DF),
    "DF LatentDiff(0.03) r'=4": GenerationCase(dataclasses.replace(_PAPER_DF, depth=2 * DEPTH), prefill_depth=DEPTH),
    "DF fixed r'=4 B=8": GenerationCase(_PAPER_DF, batch=8),
    "DF fixed r'=4 B=32": GenerationCase(_PAPER_DF, batch=32),
}


def case_passes(config: ModelConfig, case: GenerationCase, prompt_length: int, new_tokens: int) -> list[Pass]:
    """The passes of a benchmark case, from the workload builders."""
    return case.sampler.passes(config, prompt_length, new_tokens, case.batch, prefill_depth=case.prefill_depth)


def counters(passes: Sequence[Pass]) -> tuple[int, int]:
    """(ticks, serial core passes) of a pass list: one tick per EMBED pass, core passes the CORE repeats."""
    return (sum(1 for p in passes if p.stage is Stage.EMBED), sum(p.repeat for p in passes if p.stage is Stage.CORE))


# ------------------------------------------------------------------------------------------------- reading

def _read(path: str | Path, kind: str) -> dict[str, Any]:
    raw = json.loads(Path(path).read_text())
    if raw.get("kind") != kind:
        raise ValueError(f"{path}: kind={raw.get('kind')!r} must be {kind!r}")
    return raw


def load_stage_records(path: str | Path | None = None) -> list[StageRecord]:
    """Stage records of a stage-latency file (default: the shipped H100 measurements)."""
    if path is None:
        text = resources.files("rdtheory.costs").joinpath(SHIPPED_STAGES).read_text()
        return stage_records(json.loads(text))
    return stage_records(_read(path, "stage_latency"))


def stage_records(raw: Mapping[str, Any]) -> list[StageRecord]:
    """Records of a stage-latency file (bf16 only: the roofline prices bf16 peaks)."""
    out = []
    for r in raw["records"]:
        if r["dtype"] != "bfloat16":
            raise ValueError(f"dtype={r['dtype']!r} of a stage record must be 'bfloat16'")
        out.append(StageRecord(Stage(r["stage"]), r["width"], r["context"], r["batch"], r["seconds"]))
    return out


def held_out(records: Sequence[StageRecord]) -> list[bool]:
    """The split of the module doc: the k-th record of each stage is held out iff k % 4 == 3."""
    seen = {s: 0 for s in Stage}
    out = []
    for r in records:
        out.append(seen[r.stage] % HELD_OUT_EVERY == HELD_OUT_OFFSET)
        seen[r.stage] += 1
    return out


# ---------------------------------------------------------------------------------------------- call model

def call_model(x: Sequence[float]) -> CallModel:
    """The parameter vector (PARAMETERS order, overheads in microseconds) as a CallModel."""
    values = dict(zip(PARAMETERS, (float(v) for v in x)))
    for name in PARAMETERS[-3:]:
        values[name] *= 1e-6
    return CallModel(**values)


def relative_errors(model: CallModel, config: ModelConfig, hw: Hardware, records: Sequence[StageRecord]
                    ) -> list[float]:
    """predicted / measured - 1 for each record."""
    return [model.seconds(r.stage, call_work(config, r.stage, r.width, r.context, r.batch), hw) / r.seconds - 1
            for r in records]


def fit_call_model(config: ModelConfig, hw: Hardware, records: Sequence[StageRecord]) -> CallModel:
    """Least squares on log(predicted / measured) over `records` (module doc)."""
    import numpy as np
    from scipy.optimize import least_squares

    work = [(r.stage, call_work(config, r.stage, r.width, r.context, r.batch), r.seconds) for r in records]

    def residuals(x: np.ndarray) -> np.ndarray:
        model = call_model(x)
        return np.array([math.log(model.seconds(s, w, hw) / t) for s, w, t in work])

    result = least_squares(residuals, np.array(START), bounds=(np.array(LOWER), np.array(UPPER)), xtol=1e-12,
                           ftol=1e-12, gtol=1e-12)
    if not result.success:
        raise RuntimeError(f"the call-model fit did not converge: {result.message}")
    return call_model(result.x)


def error_summary(errors: Sequence[float], records: Sequence[StageRecord]) -> dict[str, dict[str, float]]:
    """Median and max |relative error| and count, over all records and per stage."""
    groups = {"all": list(errors)} | {s.value: [e for e, r in zip(errors, records) if r.stage is s] for s in Stage}
    return {name: _stats(errs) for name, errs in groups.items() if errs}


def _stats(errors: Sequence[float]) -> dict[str, float]:
    import numpy as np

    a = np.abs(np.asarray(errors))
    return {"n": len(errors), "median_abs": float(np.median(a)), "max_abs": float(a.max())}


# ---------------------------------------------------------------------------------------------- host model

def device_s(calibration: Calibration, config: ModelConfig, hw: Hardware, passes: Sequence[Pass]) -> float:
    """Predicted device seconds of a generation (calls at run shapes, no host time)."""
    return sum(calibration.generation(config, hw, passes).by_stage_s.values())


def fit_host_model(gaps_s: Sequence[float], ticks: Sequence[int], batches: Sequence[int]) -> HostModel:
    """tick_s, row_s >= 0 minimising sum (gap - ticks (tick_s + row_s B))^2."""
    import numpy as np
    from scipy.optimize import nnls

    a = np.array([[t, t * b] for t, b in zip(ticks, batches)], dtype=float)
    x, _ = nnls(a, np.asarray(gaps_s, dtype=float))
    return HostModel(float(x[0]), float(x[1]))


def _cases(config: ModelConfig, raw: Mapping[str, Any]) -> dict[str, tuple[list[Pass], Mapping[str, Any]]]:
    """Each benchmark case of a generation file with its passes, after checking the builders reproduce its
    recorded ticks and core passes."""
    out = {}
    for name, measured in raw["cases"].items():
        if name not in BENCHMARK_CASES:
            raise ValueError(f"case {name!r} has no knobs here; known: {sorted(BENCHMARK_CASES)}")
        passes = case_passes(config, BENCHMARK_CASES[name], raw["prompt"], raw["new_tokens"])
        built = counters(passes)
        if built != (measured["ticks"], measured["core_passes"]):
            raise ValueError(f"case {name!r}: the builders give (ticks, core passes) = {built}, the run recorded "
                             f"{(measured['ticks'], measured['core_passes'])}")
        out[name] = (passes, measured)
    return out


def end_to_end(calibration: Calibration, config: ModelConfig, hw: Hardware, raw: Mapping[str, Any],
               fitted_cases: Sequence[str] = HOST_FIT_CASES) -> dict[str, Any]:
    """Predicted against measured seconds of every case, and the DF/AR speedup; `fitted_cases` are the cases the
    host model was fitted on (every other one is marked held out)."""
    cases = {}
    for name, (passes, measured) in _cases(config, raw).items():
        predicted = calibration.generation_s(config, hw, passes)
        cases[name] = {"measured_s": measured["seconds"], "predicted_s": predicted,
                       "relative_error": predicted / measured["seconds"] - 1, "ticks": measured["ticks"],
                       "core_passes": measured["core_passes"], "held_out": name not in fitted_cases}
    out: dict[str, Any] = {"host_fit_cases": list(fitted_cases), "cases": cases}
    if "AR r=32" in cases and "DF fixed r'=4" in cases:
        ar, df = cases["AR r=32"], cases["DF fixed r'=4"]
        measured, predicted = ar["measured_s"] / df["measured_s"], ar["predicted_s"] / df["predicted_s"]
        out["df_over_ar"] = {"measured": measured, "predicted": predicted, "relative_error": predicted / measured - 1}
    return out


def validate(calibration: Calibration, config: ModelConfig, hw: Hardware, raw: Mapping[str, Any]
             ) -> dict[str, Any]:
    """An independent run priced by a finished calibration: every case out of sample, each marked by whether its
    error lies within the calibration's band on `hw`."""
    band = calibration.band_for(hw, config)
    out = end_to_end(calibration, config, hw, raw, fitted_cases=())
    del out["host_fit_cases"]
    for case in out["cases"].values():
        case["within_band"] = band.low <= case["relative_error"] <= band.high
    return out


# --------------------------------------------------------------------------------------------- calibrate

def _environment(raw: Mapping[str, Any]) -> dict[str, Any]:
    env = raw["environment"]
    driver = (env.get("nvidia_smi") or {}).get("driver_version")
    return {k: env.get(k) for k in ENVIRONMENT_KEYS} | {"driver": driver}


def transfer_widening(hw: Hardware, ceilings: Mapping[str, float]) -> float:
    """max(1 - copy / datasheet bandwidth, 1 - matmul / datasheet FLOP/s), at least 0 (see `Calibration`)."""
    return max(0.0, 1 - ceilings["copy_bytes_per_s"] / hw.bandwidth_bytes_per_s,
               1 - ceilings["bf16_matmul_flops_per_s"] / hw.dense_bf16_flops_per_s)


def _split(items: Sequence[Any], mask: Sequence[bool], held: bool) -> list[Any]:
    return [x for x, h in zip(items, mask) if h == held]


def _fit_host(draft: Calibration, config: ModelConfig, hw: Hardware, generation: Mapping[str, Any]) -> HostModel:
    cases = _cases(config, generation)
    fit = [cases[case] for case in HOST_FIT_CASES]
    return fit_host_model([m["seconds"] - device_s(draft, config, hw, p) for p, m in fit],
                          [m["ticks"] for _, m in fit], [BENCHMARK_CASES[case].batch for case in HOST_FIT_CASES])


def _residuals(records: Sequence[StageRecord], mask: Sequence[bool], errors: Sequence[float],
               e2e: Mapping[str, Any]) -> dict[str, Any]:
    import numpy as np

    low, high = (float(q) for q in np.quantile(_split(errors, mask, True), BAND_QUANTILES))
    return {"split": f"record k of each stage, in file order, held out iff k % {HELD_OUT_EVERY} == {HELD_OUT_OFFSET}",
            "fit": error_summary(_split(errors, mask, False), _split(records, mask, False)),
            "held_out": error_summary(_split(errors, mask, True), _split(records, mask, True)),
            "held_out_quantiles": {"q05": low, "q95": high}, "end_to_end": dict(e2e)}


def _band(residuals: Mapping[str, Any]) -> Band:
    """From the held-out call quantiles to the held-out cases' errors, whichever reach further."""
    q = residuals["held_out_quantiles"]
    cases = [c["relative_error"] for c in residuals["end_to_end"]["cases"].values() if c["held_out"]]
    return Band(min([q["q05"], *cases]), max([q["q95"], *cases]))


def calibrate(stages_path: str | Path, generation_path: str | Path, config: ModelConfig = HUGINN_0125,
              hardware: str | Hardware = "H100 SXM", padding: Padding = Padding(),
              validation_paths: Sequence[str | Path] = ()) -> Calibration:
    """Fit a calibration from a stage-latency file and a generation file measured on `hardware`, and price the
    generation files of `validation_paths` with it (module doc)."""
    hw = get_hardware(hardware)
    stages, generation = _read(stages_path, "stage_latency"), _read(generation_path, "generation_speed")
    records = stage_records(stages)
    mask = held_out(records)
    model = fit_call_model(config, hw, _split(records, mask, False))
    name = next((n for n, c in PRESETS.items() if c == config), "custom")
    draft = Calibration(hw.name, name, model, HostModel(0.0, 0.0), padding, Band(0.0, 0.0), 0.0)
    fitted = dataclasses.replace(draft, host=_fit_host(draft, config, hw, generation))
    residuals = _residuals(records, mask, relative_errors(model, config, hw, records),
                           end_to_end(fitted, config, hw, generation))
    provenance = {"stages": {"file": Path(stages_path).name, "environment": _environment(stages),
                             "ceilings": stages["ceilings"]},
                  "generation": {"file": Path(generation_path).name, "environment": _environment(generation)}}
    done = dataclasses.replace(fitted, band=_band(residuals), transfer_widening=transfer_widening(
        hw, stages["ceilings"]), residuals=residuals, provenance=provenance)
    runs = {Path(path).name: _read(path, "generation_speed") for path in validation_paths}
    if not runs:
        return done
    about = [{"file": name, "environment": _environment(raw), "role": VALIDATION_ROLE} for name, raw in runs.items()]
    return dataclasses.replace(done, residuals=residuals | {"validation": {
        name: validate(done, config, hw, raw) for name, raw in runs.items()}}, provenance=provenance | {
        "validation": about})
