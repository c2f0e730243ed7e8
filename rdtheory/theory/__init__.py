"""The paper's theory as executable objects, in pure Python (no torch): the (position × recurrence-step) grid,
schedules of the AR and diffusion-forcing samplers, their validity under KV sharing, depth and width counters,
the time model, the paper's claims as predicates, the convergence bound, and the diffusion correspondence.

Re-exports only; every name is defined in its module.
"""

from rdtheory.theory.convergence import committed_error_bound, fixed_point_distance, window_error_bound
from rdtheory.theory.correspondence import (
    constant_beta,
    dampened_beta,
    diffusion_time,
    ema_embeddings,
    ema_impulse_response,
    ema_step_response,
    levels_rise_to_the_right,
    linear_beta,
    mix,
    mixed_variance,
    mixing_weights,
    noise_level,
    tick_counts,
    tick_noise_levels,
)
from rdtheory.theory.counters import Counters, counters, pass_counters, tick_counters
from rdtheory.theory.decoding import (
    DecodingComparison,
    compare_decoding,
    decode_widths,
    decoding_premises,
    first_parallel_pass_end,
    fixed_rule_entry_tick,
    fixed_rule_exit_tick,
    fixed_rule_has_parallel_pass,
    stage_depth_premises,
    theorem_4_4,
    theorem_4_4_stage_depth,
    ticks_per_token,
    tokens_never_behind,
    wavefront_bound,
)
from rdtheory.theory.grid import Cell, Span, ceil_div
from rdtheory.theory.limits import pass_limit, same_passes, tick_limit
from rdtheory.theory.overhead import (
    decode_flops,
    decode_serial_passes,
    fixed_rule_speedup,
    flop_ratio,
    ideal_speedup,
    paper_flop_ratio,
    schedule_flop_ratio,
)
from rdtheory.theory.prefill import (
    Scaling,
    attention_pairs,
    cost_order_holds,
    depth_at_least_as_fast,
    depth_preferred_probability,
    depth_schedule,
    lognormal_tail,
    prefill_cost,
    prefill_time,
    throughput_ratio,
    width_mask,
    width_per_time_ratio,
    width_schedule,
)
from rdtheory.theory.schedule import (
    ExitDepths,
    Schedule,
    ScheduleTick,
    adaptive_ar_schedule,
    ar_schedule,
    df_schedule,
    exit_depths_of,
)
from rdtheory.theory.timing import Timed, TimeModel
from rdtheory.theory.toy import ScalarToy, ToyRun
from rdtheory.theory.validity import KVSharing, is_valid, provisional_reads, read_cell, violations
from rdtheory.theory.wavefront import Front, Settled, Wave, first_front, is_done, max_df_ticks, recur, settle

__all__ = [
    "Cell", "Counters", "DecodingComparison", "ExitDepths", "Front", "KVSharing", "ScalarToy", "Scaling",
    "Schedule", "ScheduleTick", "Settled", "Span", "TimeModel", "Timed", "ToyRun", "Wave", "adaptive_ar_schedule",
    "ar_schedule", "attention_pairs", "ceil_div", "committed_error_bound", "compare_decoding", "constant_beta",
    "cost_order_holds", "counters", "dampened_beta", "decode_flops", "decode_serial_passes", "decode_widths",
    "decoding_premises", "depth_at_least_as_fast", "depth_preferred_probability", "depth_schedule", "df_schedule",
    "diffusion_time", "ema_embeddings", "ema_impulse_response", "ema_step_response", "exit_depths_of",
    "first_front", "first_parallel_pass_end", "fixed_point_distance", "fixed_rule_entry_tick",
    "fixed_rule_exit_tick", "fixed_rule_has_parallel_pass", "fixed_rule_speedup", "flop_ratio", "ideal_speedup",
    "is_done", "is_valid", "levels_rise_to_the_right", "linear_beta", "lognormal_tail", "max_df_ticks", "mix",
    "mixed_variance", "mixing_weights", "noise_level", "paper_flop_ratio", "pass_counters", "pass_limit",
    "prefill_cost", "prefill_time", "provisional_reads", "read_cell", "recur", "same_passes", "schedule_flop_ratio",
    "settle", "stage_depth_premises", "theorem_4_4", "theorem_4_4_stage_depth", "throughput_ratio", "tick_counters",
    "tick_counts", "tick_limit", "tick_noise_levels", "ticks_per_token", "tokens_never_behind", "violations",
    "wavefront_bound", "width_mask", "width_per_time_ratio", "width_schedule", "window_error_bound",
]
