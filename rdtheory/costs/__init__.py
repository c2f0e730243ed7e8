"""Cost models: FLOPs, bytes, memory and roofline time of recurrent-depth models, and planning on hardware.

Pure Python (no torch at import). Re-exports the public API; defines nothing.
"""

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
from rdtheory.costs.hardware import Hardware, get_hardware, lint, load_hardware
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
from rdtheory.costs.table1 import BoundCheck, table1_bandwidth_check
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
    "DTYPE_BYTES", "KVSharing", "Pass", "Stage", "Traffic", "attention_flops", "attention_traffic", "block_params",
    "block_traffic", "coda_flops", "coda_traffic", "core_step_flops", "core_step_traffic", "dtype_bytes",
    "head_flops", "head_traffic", "kv_bytes_per_position", "pass_flops", "pass_traffic", "prelude_flops",
    "prelude_traffic", "stage_attention_flops", "stage_bytes", "stage_flops", "stage_matmul_flops", "stage_params",
    "stage_traffic", "total_flops", "total_params", "total_traffic",
    "Hardware", "get_hardware", "lint", "load_hardware",
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
