"""Remark 3.2: the FLOP overhead of diffusion forcing and its ideal speedup, exact and from schedules.

Cost unit: f, one pass of the recurrent block over one position (attention ignored, as in the paper). Every tick
a position spends in the wavefront also runs the prelude (its input token may have changed) and the coda (to
draft its next token); `prelude_coda` is their cost in units of f (1 for Huginn-0125: 2 + 2 layers against a
4-layer core). Under the fixed rule with effective depth D and r' recurrences per tick, each new token costs

    AR:  (D + prelude_coda) f          DF:  ceil(D / r') (r' + prelude_coda) f,

so with prelude_coda = 1 the ratio is ceil(D/r')(r'+1)/(D+1), the paper's (r + r/r')/(r + 1) exactly when r'
divides r. Serially, AR spends D + 1 pass-equivalents per token and DF r' + 1 per tick; with one token per
tick in the steady state the ideal speedup is (D + 1)/(r' + 1), reached only as N grows: for cap >= K it is
(N - 1)(D + 1) / ((N - 2 + K)(r' + 1)) with K = ceil(D / r'). The prefill is excluded throughout (it is the
same in both samplers). The per-token costs hold for `df_schedule` at every headway, where a position stays
exactly K ticks; a sampler that holds disagreeing drafts can keep a position longer when headway >= 2. Knows
nothing of hardware.
"""

from fractions import Fraction

from rdtheory.theory.checks import require, require_int
from rdtheory.theory.grid import ceil_div
from rdtheory.theory.schedule import Schedule


def paper_flop_ratio(depth: int, inner: int) -> Fraction:
    """The paper's (r + r/r') / (r + 1)."""
    r, q = require_int("depth", depth, 1), require_int("inner", inner, 1)
    return (r + Fraction(r, q)) / (r + 1)


def flop_ratio(depth: int, inner: int, prelude_coda: int = 1) -> Fraction:
    """Exact DF/AR FLOPs per token under the fixed rule: ceil(D/r')(r' + pc) / (D + pc)."""
    d, q = require_int("depth", depth, 1), require_int("inner", inner, 1)
    pc = require_int("prelude_coda", prelude_coda, 0)
    return Fraction(ceil_div(d, q) * (q + pc), d + pc)


def ideal_speedup(depth: int, inner: int) -> Fraction:
    """(D + 1) / (r' + 1): AR's serial pass-equivalents per token over DF's per tick."""
    return Fraction(require_int("depth", depth, 1) + 1, require_int("inner", inner, 1) + 1)


def fixed_rule_speedup(n_new: int, depth: int, inner: int) -> Fraction:
    """Serial decode speedup of DF over AR for N new tokens, fixed rule, cap >= K, headway 1, prelude_coda 1:
    (N - 1)(D + 1) / ((N - 2 + K)(r' + 1))."""
    n = require_int("n_new", n_new, 2)
    k = ceil_div(require_int("depth", depth, 1), require_int("inner", inner, 1))
    return Fraction((n - 1) * (depth + 1), (n - 2 + k) * (inner + 1))


def _decode_ticks(schedule: Schedule) -> tuple:
    return tuple(t for t in schedule.ticks if not t.prefill)


def decode_flops(schedule: Schedule, prelude_coda: int = 1) -> int:
    """Decode FLOPs in units of f: every cell, plus prelude_coda per position per tick."""
    require_int("prelude_coda", prelude_coda, 0)
    return sum(len(t.cells()) + prelude_coda * len(t.runs) for t in _decode_ticks(schedule))


def decode_serial_passes(schedule: Schedule, prelude_coda: int = 1) -> int:
    """Serial pass-equivalents of decoding: each tick's passes plus prelude_coda."""
    require_int("prelude_coda", prelude_coda, 0)
    return sum(t.passes + prelude_coda for t in _decode_ticks(schedule))


def schedule_flop_ratio(df: Schedule, ar: Schedule, prelude_coda: int = 1) -> Fraction:
    """DF decode FLOPs over AR decode FLOPs."""
    ar_flops = decode_flops(ar, prelude_coda)
    require("ar", ar, ar_flops > 0, "must decode at least one token after the prefill")
    return Fraction(decode_flops(df, prelude_coda), ar_flops)
