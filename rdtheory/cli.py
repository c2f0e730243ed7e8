"""The `rdtheory` command. Each subcommand is a thin shell over the package.

  rdtheory report     check the sampler's limits, draw its schedules, predict Huginn-0125 tokens/s and run the shipped
                      model; write report.md and figures to a folder (exit status 1 if a check fails)
  rdtheory demo       generate with AR and diffusion forcing on the embedded tiny model; print tokens and counters
  rdtheory plan       predicted time, tokens/s and memory of a generation on an accelerator, with its band; the
                      fastest DF knobs (--search); the accelerators that reach a rate (--target; exit status
                      1 if none does)
  rdtheory calibrate  refit the cost model's calibration from GPU measurement files

The package imports only `sampler_label` and `rate_range` from here: `rdtheory.report` prints predictions as `plan`
does.
"""

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any


def _folder(value: str) -> str:
    from pathlib import Path

    if Path(value).exists() and not Path(value).is_dir():
        raise argparse.ArgumentTypeError(f"--out={value!r} is a file; it must be a folder (created if missing)")
    return value


def _report(args: argparse.Namespace) -> int:
    from rdtheory.report import run

    try:
        return run(args.out, quick=args.quick)
    except (ModuleNotFoundError, ValueError) as error:
        print(f"rdtheory report: error: {error}", file=sys.stderr)
        return 2


def _demo(args: argparse.Namespace) -> int:
    import torch

    from rdtheory.config import TINY
    from rdtheory.sampling.autoregressive import generate_ar
    from rdtheory.sampling.diffusion_forcing import generate_df
    from rdtheory.sampling.exits import FixedDepth, LatentDiff
    from rdtheory.testing.models import random_model

    torch.set_num_threads(1)  # a tiny model: thread-pool overhead would dominate
    model = random_model(TINY, seed=args.seed, dtype=torch.float32)
    prompts = [[1, 2, 3, 4], [10, 20], [5, 9, 13, 17, 21, 25]]
    r = args.depth
    runs = {
        f"AR, r={r}": lambda: generate_ar(model, prompts, args.tokens, r, init_scale=0.0, stop_tokens=()),
        f"DF, r'={args.inner}, FixedDepth({r})": lambda: generate_df(
            model, prompts, args.tokens, inner=args.inner, depth=r, exit=FixedDepth(r), ema=0.0, init_scale=0.0,
            stop_tokens=()),
        f"DF, r'={args.inner}, LatentDiff(0.1)": lambda: generate_df(
            model, prompts, args.tokens, inner=args.inner, depth=r, exit=LatentDiff(0.1), init_scale=0.0,
            stop_tokens=()),
    }
    report = {}
    for name, run in runs.items():
        start = time.perf_counter()
        out = run()
        seconds = time.perf_counter() - start
        report[name] = out.trace.summary() | {"seconds": round(seconds, 3)}
        print(f"{name}: {out.trace.n_ticks} ticks, {out.trace.core_passes} serial core passes, "
              f"{out.trace.tokens_forwarded} position-recurrences, {seconds:.2f} s")
        for b, tokens in enumerate(out.tokens):
            print(f"  row {b}: {tokens}")
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


MODELS = ("huginn-0125", "tiny")


def _sampler(args: argparse.Namespace) -> Any:
    from rdtheory.costs.plan import DiffusionForcing, StaticAR

    if args.sampler == "ar":
        return StaticAR(args.depth)
    return DiffusionForcing(args.depth, args.inner, args.headway, args.cap)


def sampler_label(s: Any) -> str:
    """Knobs of a planning sampler (`rdtheory.costs.plan`) in one line, as `plan` and `report` print them."""
    from rdtheory.costs.plan import DiffusionForcing

    if isinstance(s, DiffusionForcing):
        return f"DF r'={s.inner} FixedDepth({s.depth}) headway={s.headway} cap={s.max_wavefront}"
    return f"AR r={s.depth}"


def rate_range(p: Any) -> str:
    """A prediction's tokens/s band, or what an uncalibrated rate is."""
    r = p.tokens_per_s_range
    return "upper bound (roofline)" if r is None else f"{r[0]:.1f} .. {r[1]:.1f}"


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


def _plan(args: argparse.Namespace) -> int:
    from rdtheory.config import HUGINN_0125, TINY
    from rdtheory.costs.calibration import load_calibration
    from rdtheory.costs.hardware import UnknownHardware
    from rdtheory.costs.plan import plan
    from rdtheory.costs.search import best_df_knobs, hardware_for_target

    config = {"huginn-0125": HUGINN_0125, "tiny": TINY}[args.model]
    cal = None if args.roofline else load_calibration(args.calibration)
    knobs = dict(prompt_length=args.prompt, new_tokens=args.tokens, batch=args.batch, calibration=cal)
    report: dict[str, Any] = {}
    try:
        prediction = plan(config, args.hardware, _sampler(args), **knobs)
        roofline = plan(config, args.hardware, _sampler(args), **knobs | {"calibration": None})
        report["prediction"] = _prediction_json(prediction) | {"roofline_tokens_per_s": roofline.tokens_per_s}
        if not args.json:
            _print_prediction(prediction, roofline, cal)
        if args.search:
            found = best_df_knobs(config, args.hardware, depth=args.depth, headways=(args.headway,), **knobs)
            report["search"] = [_prediction_json(p) for p in found.candidates]
            if not args.json:
                print(f"fastest fixed-rule DF knobs on {found.hardware.name} (speed only; r' also sets accuracy):")
                for p in found.candidates[:args.show]:
                    print(f"  {sampler_label(p.sampler):44s} {p.tokens_per_s:8.1f} tokens/s ({rate_range(p)})")
        if args.target is not None:
            checks = hardware_for_target(config, _sampler(args), args.target, **knobs)
            report["target"] = [{"hardware": c.hardware.name, "reaches": c.reaches, "surely": c.surely,
                                 "tokens_per_s": c.prediction and c.prediction.tokens_per_s} for c in checks]
            if not args.json:
                print(f"accelerators against {args.target:g} tokens/s:")
                for c in checks:
                    verdict = "does not fit" if c.prediction is None else (
                        f"{c.prediction.tokens_per_s:8.1f} tokens/s ({rate_range(c.prediction)})  "
                        + ("reaches surely" if c.surely else "reaches" if c.reaches else "misses"))
                    print(f"  {c.hardware.name:16s} {verdict}")
    except (UnknownHardware, ValueError, TypeError) as error:
        return _usage_error("plan", error)
    if args.json:
        print(json.dumps(report, indent=2))
    if args.target is not None and not any(t["reaches"] for t in report["target"]):
        print(f"rdtheory plan: no bundled accelerator reaches {args.target:g} tokens/s with these settings",
              file=sys.stderr)
        return 1
    return 0


def _usage_error(command: str, error: Exception) -> int:
    """One line on stderr (an unknown accelerator lists the known records); exit status 2."""
    from rdtheory.costs.hardware import UnknownHardware

    message = (f"--hardware={error.name!r} is unknown; known: {', '.join(error.known)}"
               if isinstance(error, UnknownHardware) else str(error))
    print(f"rdtheory {command}: error: {message}", file=sys.stderr)
    return 2


def _calibrate(args: argparse.Namespace) -> int:
    from rdtheory.costs.calibration import write_calibration
    from rdtheory.costs.fitting import calibrate
    from rdtheory.costs.hardware import UnknownHardware

    try:
        cal = calibrate(args.stages, args.generation, hardware=args.hardware, validation_paths=args.validation)
    except (UnknownHardware, OSError, ValueError) as error:
        return _usage_error("calibrate", error)
    write_calibration(cal, args.out)
    held, e2e = cal.residuals["held_out"]["all"], cal.residuals["end_to_end"]
    print(f"held-out calls: median |error| {held['median_abs']:.1%}, max {held['max_abs']:.1%} (n={held['n']})")
    for name, case in e2e["cases"].items():
        print(f"  {name:28s} {case['relative_error']:+.1%}{'' if case['held_out'] else '  (fitted)'}")
    speedup = e2e.get("df_over_ar")
    if speedup:
        print(f"DF/AR speedup: predicted {speedup['predicted']:.2f}, measured {speedup['measured']:.2f}")
    print(f"band: {cal.band.low:+.1%} .. {cal.band.high:+.1%}")
    for file, run in cal.residuals.get("validation", {}).items():
        print(f"validation run {file} (not fitted on):")
        for name, case in run["cases"].items():
            print(f"  {name:28s} {case['relative_error']:+.1%}{'' if case['within_band'] else '  (outside the band)'}")
    print(f"-> {args.out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rdtheory", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("report", help="checks, schedules, predictions and the shipped model, written to a folder",
                       description="Check the diffusion-forcing sampler's exact AR limits and converged limit (PASS/"
                       "FAIL per check; exit status 1 if any fails), draw its schedules, predict Huginn-0125 tokens/s "
                       "for AR and DF on the bundled accelerators with the calibration's band, and run the shipped "
                       "model rdtheory/looped-tiny; write report.md and PNG figures to --out. A progress bar goes to "
                       "stderr.")
    r.add_argument("--out", type=_folder, default="report", help="folder to write report.md and the figures into "
                   "(default: report/ under the working directory)")
    r.add_argument("--quick", action="store_true", help="fewer cases and 16 instead of 64 held-out grids")
    r.set_defaults(run=_report)
    demo = sub.add_parser("demo", help="AR and diffusion forcing on the embedded tiny model")
    demo.add_argument("--tokens", type=int, default=12, help="new tokens per prompt")
    demo.add_argument("--depth", type=int, default=8, help="recurrences per token (r)")
    demo.add_argument("--inner", type=int, default=2, help="recurrences per diffusion-forcing tick (r')")
    demo.add_argument("--seed", type=int, default=0, help="seed of the random tiny model")
    demo.add_argument("--json", action="store_true", help="also print the counters as JSON")
    demo.set_defaults(run=_demo)
    p = sub.add_parser("plan", help="predicted tokens/s and memory of a generation on an accelerator")
    p.add_argument("--model", choices=MODELS, default="huginn-0125", help="model shape")
    p.add_argument("--hardware", default="H100 SXM", help="accelerator record name (see hardware.json)")
    p.add_argument("--sampler", choices=("ar", "df"), default="df", help="static AR or fixed-rule DF")
    p.add_argument("--depth", type=int, default=32, help="recurrences per token (r)")
    p.add_argument("--inner", type=int, default=4, help="recurrences per DF tick (r')")
    p.add_argument("--cap", type=int, default=128, help="DF wavefront cap")
    p.add_argument("--headway", type=int, default=1, help="new DF positions per tick")
    p.add_argument("--batch", type=int, default=1, help="rows")
    p.add_argument("--prompt", type=int, default=64, help="prompt length")
    p.add_argument("--tokens", type=int, default=48, help="new tokens per row")
    p.add_argument("--search", action="store_true", help="also rank fixed-rule DF knobs (r', cap) by speed")
    p.add_argument("--show", type=int, default=8, help="candidates to print with --search")
    p.add_argument("--target", type=float, help="tokens/s to reach: which accelerators do (exit status 1 if none)")
    p.add_argument("--calibration", help="calibration JSON (default: the shipped H100 calibration)")
    p.add_argument("--roofline", action="store_true", help="the plain roofline (bounds), no calibration")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(run=_plan)
    c = sub.add_parser("calibrate", help="refit the calibration from GPU measurement files")
    c.add_argument("--stages", required=True, help="stage-latency JSON (python -m rdtheory.costs.measure)")
    c.add_argument("--generation", required=True, help="generation-speed JSON (python -m rdtheory.bench)")
    c.add_argument("--hardware", default="H100 SXM", help="record name of the measured accelerator")
    c.add_argument("--validation", action="append", default=[], metavar="GENERATION",
                   help="generation-speed JSON of an independent run, priced but not fitted on (repeatable)")
    c.add_argument("--out", required=True, help="calibration JSON to write")
    c.set_defaults(run=_calibrate)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
