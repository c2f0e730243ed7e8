"""`rdtheory plan`: predicted time, tokens/s and memory of a generation, the fastest DF knobs, the accelerators
that reach a rate. Every argument is checked and every number computed before anything is printed, so an error
never follows a half-printed plan. How a planning sampler and a rate band print (`sampler_label`, `rate_range`) is
`rdtheory.costs.plan`'s, shared with `rdtheory.report`.
"""

import argparse
import json
import sys
from typing import Any

from rdtheory.cli.checks import UsageError, count, json_object, positive
from rdtheory.costs.plan import rate_range, sampler_label
from rdtheory.paper import DF_DEFAULTS

MODELS = ("huginn-0125", "tiny")
COUNTS = (("--depth", "depth"), ("--inner", "inner"), ("--cap", "cap"), ("--headway", "headway"),
          ("--batch", "batch"), ("--prompt", "prompt"), ("--tokens", "tokens"), ("--show", "show"))


def add_parser(sub: Any) -> None:
    p = sub.add_parser("plan", help="predicted tokens/s and memory of a generation on an accelerator")
    p.add_argument("--model", choices=MODELS, default="huginn-0125", help="model shape")
    p.add_argument("--hardware", default="H100 SXM", help="accelerator record name (see hardware.json)")
    p.add_argument("--sampler", choices=("ar", "df"), default="df", help="static AR or fixed-rule DF")
    p.add_argument("--depth", type=int, default=DF_DEFAULTS.depth, help="recurrences per token (r)")
    p.add_argument("--inner", type=int, default=DF_DEFAULTS.inner, help="recurrences per DF tick (r')")
    p.add_argument("--cap", type=int, default=DF_DEFAULTS.max_wavefront, help="DF wavefront cap (>= --headway)")
    p.add_argument("--headway", type=int, default=DF_DEFAULTS.headway, help="new DF positions per tick")
    p.add_argument("--batch", type=int, default=1, help="rows")
    p.add_argument("--prompt", type=int, default=64, help="prompt length")
    p.add_argument("--tokens", type=int, default=48, help="new tokens per row")
    p.add_argument("--search", action="store_true", help="also rank fixed-rule DF knobs (r', cap) by speed")
    p.add_argument("--show", type=int, default=8, help="candidates to print with --search")
    p.add_argument("--target", type=float, help="tokens/s to reach: which accelerators do (exit status 1 if none)")
    p.add_argument("--calibration", help="calibration JSON (default: the shipped H100 calibration)")
    p.add_argument("--roofline", action="store_true", help="the plain roofline (bounds), no calibration")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(run=run)


def _check(args: argparse.Namespace, block_size: int) -> None:
    for flag, name in COUNTS:
        count(flag, getattr(args, name), 1)
    if args.sampler == "df" and args.cap < args.headway:
        raise UsageError(f"--cap={args.cap} must be >= --headway={args.headway}: the wave takes in --headway new "
                         "positions per tick")
    if args.prompt + args.tokens - 1 > block_size:
        raise UsageError(f"--prompt={args.prompt} + --tokens={args.tokens} - 1 must be <= {block_size}, the "
                         f"positions of --model={args.model}")
    if args.target is not None:
        positive("--target", args.target)
    if args.roofline and args.calibration is not None:
        raise UsageError(f"--calibration={args.calibration!r} and --roofline exclude each other: the roofline is "
                         "uncalibrated")


def _calibration(args: argparse.Namespace) -> Any:
    from rdtheory.costs.calibration import Calibration, load_calibration

    if args.roofline:
        return None
    if args.calibration is None:
        return load_calibration()
    raw = json_object("--calibration", args.calibration, kind="calibration")
    try:
        return Calibration.from_json(raw)
    except KeyError as error:
        raise UsageError(f"--calibration={args.calibration!r} lacks the field {error}") from error
    except (TypeError, ValueError) as error:
        raise UsageError(f"--calibration={args.calibration!r} is not a valid calibration: {error}") from error


def _sampler(args: argparse.Namespace) -> Any:
    from rdtheory.costs.plan import DiffusionForcing, StaticAR

    if args.sampler == "ar":
        return StaticAR(args.depth)
    return DiffusionForcing(args.depth, args.inner, args.headway, args.cap)


def _prediction_json(p: Any) -> dict[str, Any]:
    return {"hardware": p.hardware.name, "sampler": sampler_label(p.sampler), "batch": p.batch,
            "prompt_length": p.prompt_length, "new_tokens": p.new_tokens, "seconds": p.seconds,
            "seconds_range": p.seconds_range, "tokens_per_s": p.tokens_per_s,
            "tokens_per_s_range": p.tokens_per_s_range,
            "decode_tokens_per_s": p.decode_tokens_per_s, "band": None if p.band is None else vars(p.band),
            "memory_bytes": vars(p.memory) | {"total_bytes": p.memory.total_bytes},
            "memory_capacity_bytes": p.hardware.memory_bytes}


def _print_prediction(p: Any, roofline: Any, cal: Any) -> None:
    m = p.memory
    print(f"{sampler_label(p.sampler)}, batch {p.batch}, prompt {p.prompt_length}, {p.new_tokens} new tokens, "
          f"on {p.hardware.name}")
    if cal is None:
        print("  uncalibrated roofline: times are lower bounds, rates upper bounds")
    else:
        env = cal.provenance.get("stages", {}).get("environment", {})
        print(f"  calibration  {cal.hardware}: {env.get('device')}, torch {env.get('torch')}, commit "
              f"{env.get('commit')}")
        widened = "" if p.band == cal.band else (f" (widened by {cal.transfer_widening:.0%} per step away from "
                                                 f"{cal.hardware} and {cal.model}: their efficiencies assumed)")
        print(f"  band         held-out relative error {p.band.low:+.1%} .. {p.band.high:+.1%}{widened}")
    print(f"  tokens/s   {p.tokens_per_s:9.1f}   ({rate_range(p)}; roofline bound {roofline.tokens_per_s:.1f})")
    print(f"  seconds    {p.seconds:9.3f}   (decode {p.decode_tokens_per_s:.1f} tokens/s after the prefill)")
    print(f"  memory     {m.total_bytes / 1e9:9.2f} GB of {p.hardware.memory_bytes / 1e9:.0f} GB (weights "
          f"{m.weight_bytes / 1e9:.2f}, KV cache {m.kv_cache_bytes / 1e9:.2f}, states {m.state_bytes / 1e9:.3f}, "
          f"transients {m.transient_bytes / 1e9:.2f})")


def _print_search(found: Any, show: int) -> None:
    print(f"fastest fixed-rule DF knobs on {found.hardware.name} (speed only; r' also sets accuracy):")
    for p in found.candidates[:show]:
        print(f"  {sampler_label(p.sampler):44s} {p.tokens_per_s:8.1f} tokens/s ({rate_range(p)})")


def _print_target(checks: list[Any], target: float) -> None:
    print(f"accelerators against {target:g} tokens/s:")
    for c in checks:
        verdict = "does not fit" if c.prediction is None else (
            f"{c.prediction.tokens_per_s:8.1f} tokens/s ({rate_range(c.prediction)})  "
            + ("reaches surely" if c.surely else "reaches" if c.reaches else "misses"))
        print(f"  {c.hardware.name:16s} {verdict}")


def _compute(args: argparse.Namespace, config: Any, cal: Any) -> dict[str, Any]:
    """The prediction, its roofline, and the search and target checks asked for (None where not asked)."""
    from rdtheory.costs.hardware import UnknownHardware
    from rdtheory.costs.plan import plan
    from rdtheory.costs.search import best_df_knobs, hardware_for_target

    knobs = dict(prompt_length=args.prompt, new_tokens=args.tokens, batch=args.batch, calibration=cal)
    try:
        return {
            "prediction": plan(config, args.hardware, _sampler(args), **knobs),
            "roofline": plan(config, args.hardware, _sampler(args), **knobs | {"calibration": None}),
            "search": best_df_knobs(config, args.hardware, depth=args.depth, headways=(args.headway,), **knobs)
            if args.search else None,
            "target": hardware_for_target(config, _sampler(args), args.target, **knobs)
            if args.target is not None else None}
    except UnknownHardware as error:
        raise UsageError(f"--hardware={error.name!r} is unknown; known: {', '.join(error.known)}") from error
    except ValueError as error:  # the knobs do not fit the model or the accelerator's memory
        raise UsageError(str(error)) from error


def _json(found: dict[str, Any]) -> dict[str, Any]:
    report: dict[str, Any] = {"prediction": _prediction_json(found["prediction"])
                              | {"roofline_tokens_per_s": found["roofline"].tokens_per_s}}
    if found["search"] is not None:
        report["search"] = [_prediction_json(p) for p in found["search"].candidates]
    if found["target"] is not None:
        report["target"] = [{"hardware": c.hardware.name, "reaches": c.reaches, "surely": c.surely,
                             "tokens_per_s": c.prediction and c.prediction.tokens_per_s} for c in found["target"]]
    return report


def run(args: argparse.Namespace) -> int:
    from rdtheory.config import HUGINN_0125, TINY

    config = {"huginn-0125": HUGINN_0125, "tiny": TINY}[args.model]
    _check(args, config.block_size)
    cal = _calibration(args)
    found = _compute(args, config, cal)
    if args.json:
        print(json.dumps(_json(found), indent=2))
    else:
        _print_prediction(found["prediction"], found["roofline"], cal)
        if found["search"] is not None:
            _print_search(found["search"], args.show)
        if found["target"] is not None:
            _print_target(found["target"], args.target)
    if found["target"] is not None and not any(c.reaches for c in found["target"]):
        print(f"rdtheory plan: no bundled accelerator reaches {args.target:g} tokens/s with these settings",
              file=sys.stderr)
        return 1
    return 0
