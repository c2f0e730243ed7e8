"""Cost models: FLOPs, bytes, memory and roofline time of recurrent-depth models, and planning on hardware.

Pure Python: no module here imports torch (the GPU measurements these models are fitted on are taken by
`rdtheory.gpu`). Re-exports the public API; defines nothing.
"""

from rdtheory.costs.calibration import (
    Band,
    Calibration,
    CallModel,
    CallWork,
    HostModel,
    Padding,
    call_work,
    load_calibration,
    write_calibration,
)
from rdtheory.costs.counts import (
    DTYPE_BYTES,
    KVSharing,
    Pass,
    Stage,
    Traffic,
    attention_flops,
    attention_traffic,
    block_params,
    block_traffic,
    coda_flops,
    coda_traffic,
    core_step_flops,
    core_step_traffic,
    dtype_bytes,
    head_flops,
    head_traffic,
    kv_bytes_per_position,
    pass_flops,
    pass_traffic,
    prelude_flops,
    prelude_traffic,
    stage_attention_flops,
    stage_bytes,
    stage_flops,
    stage_matmul_flops,
    stage_params,
    stage_traffic,
    total_flops,
    total_params,
    total_traffic,
)
from rdtheory.costs.fitting import (
    BENCHMARK_CASES,
    GenerationCase,
    StageRecord,
    calibrate,
    case_passes,
    fit_call_model,
    held_out,
    load_stage_records,
)
from rdtheory.costs.hardware import Hardware, UnknownHardware, get_hardware, lint, load_hardware
from rdtheory.costs.memory import (
    Footprint,
    footprint,
    kv_bytes_per_token,
    kv_cache_allocation_bytes,
    kv_cache_bytes,
    kv_slots,
    transient_bytes,
    wavefront_state_bytes,
    weights_bytes,
)
from rdtheory.costs.plan import (
    AdaptiveAR,
    DiffusionForcing,
    Prediction,
    StaticAR,
    bandwidth_bound_tokens_per_s,
    plan,
    sampler_footprint,
    sampler_passes,
)
from rdtheory.costs.roofline import (
    UNCALIBRATED,
    Correction,
    GenerationTime,
    call_time_s,
    generation_time,
    generation_time_s,
    is_compute_bound,
    pass_time_s,
    saturation_width,
    saturation_widths,
    time_model,
)
from rdtheory.costs.search import KnobSearch, TargetCheck, best_df_knobs, df_candidates, hardware_for_target
from rdtheory.costs.table1 import BoundCheck, table1_bandwidth_check
from rdtheory.costs.targets import (
    BenchmarkCeilings,
    SaturationWidths,
    benchmark_ceilings,
    measured_hardware,
    measured_saturation_width,
    model_saturation_width,
    saturation_widths_at,
)
from rdtheory.costs.workload import (
    SteadyState,
    ar_passes,
    df_passes,
    df_steady_state,
    df_ticks,
    passes_from_schedule,
    passes_from_ticks,
    passes_from_trace,
    prefill_passes,
    spread_depths,
)

__all__ = [
    "Band", "Calibration", "CallModel", "CallWork", "HostModel", "Padding", "call_work", "load_calibration",
    "write_calibration",
    "BENCHMARK_CASES", "GenerationCase", "StageRecord", "calibrate", "case_passes", "fit_call_model", "held_out",
    "load_stage_records",
    "KnobSearch", "TargetCheck", "best_df_knobs", "df_candidates", "hardware_for_target",
    "BenchmarkCeilings", "SaturationWidths", "benchmark_ceilings", "measured_hardware", "measured_saturation_width",
    "model_saturation_width", "saturation_widths_at",
    "DTYPE_BYTES", "KVSharing", "Pass", "Stage", "Traffic", "attention_flops", "attention_traffic", "block_params",
    "block_traffic", "coda_flops", "coda_traffic", "core_step_flops", "core_step_traffic", "dtype_bytes",
    "head_flops", "head_traffic", "kv_bytes_per_position", "pass_flops", "pass_traffic", "prelude_flops",
    "prelude_traffic", "stage_attention_flops", "stage_bytes", "stage_flops", "stage_matmul_flops", "stage_params",
    "stage_traffic", "total_flops", "total_params", "total_traffic",
    "Hardware", "UnknownHardware", "get_hardware", "lint", "load_hardware",
    "Footprint", "footprint", "kv_bytes_per_token", "kv_cache_allocation_bytes", "kv_cache_bytes", "kv_slots",
    "transient_bytes", "wavefront_state_bytes", "weights_bytes",
    "AdaptiveAR", "DiffusionForcing", "Prediction", "StaticAR", "bandwidth_bound_tokens_per_s", "plan",
    "sampler_footprint", "sampler_passes",
    "UNCALIBRATED", "Correction", "GenerationTime", "call_time_s", "generation_time", "generation_time_s",
    "is_compute_bound", "pass_time_s", "saturation_width", "saturation_widths", "time_model",
    "BoundCheck", "table1_bandwidth_check",
    "SteadyState", "ar_passes", "df_passes", "df_steady_state", "df_ticks", "passes_from_schedule",
    "passes_from_ticks", "passes_from_trace", "prefill_passes", "spread_depths",
]
