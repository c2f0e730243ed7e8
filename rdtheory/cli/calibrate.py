"""`rdtheory calibrate`: refit the cost model's calibration from GPU measurement files and write it as JSON."""

import argparse
from pathlib import Path
from typing import Any

from rdtheory.cli.checks import UsageError, json_object, output_file, requires, write_error


def add_parser(sub: Any) -> None:
    c = sub.add_parser("calibrate", help="refit the calibration from GPU measurement files")
    c.add_argument("--stages", required=True, help="stage-latency JSON (python -m rdtheory.gpu.measure)")
    c.add_argument("--generation", required=True, help="generation-speed JSON (rdtheory bench)")
    c.add_argument("--hardware", default="H100 SXM", help="record name of the measured accelerator")
    c.add_argument("--validation", action="append", default=[], metavar="GENERATION",
                   help="generation-speed JSON of an independent run, priced but not fitted on (repeatable)")
    c.add_argument("--out", required=True, help="calibration JSON to write")
    c.set_defaults(run=run)


def _inputs(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    """(flag, path, kind) of every measurement file the fit reads."""
    return [("--stages", args.stages, "stage_latency"), ("--generation", args.generation, "generation_speed")] + [
        ("--validation", path, "generation_speed") for path in args.validation]


def _check(args: argparse.Namespace) -> None:
    requires("scipy", "the fit", "pip install scipy (or pip install 'rdtheory[theory]')")
    output_file("--out", args.out)
    for flag, path, kind in _inputs(args):
        json_object(flag, path, kind)
        if Path(path).resolve() == Path(args.out).resolve():
            raise UsageError(f"--out={args.out!r} is also {flag}: writing it would destroy that measurement file")


def _fit(args: argparse.Namespace) -> Any:
    from rdtheory.costs.fitting import calibrate
    from rdtheory.costs.hardware import UnknownHardware

    try:
        return calibrate(args.stages, args.generation, hardware=args.hardware, validation_paths=args.validation)
    except UnknownHardware as error:
        raise UsageError(f"--hardware={error.name!r} is unknown; known: {', '.join(error.known)}") from error
    except KeyError as error:  # the files' kinds were checked; their fields are read as the fit needs them
        raise UsageError(f"a measurement file (--stages, --generation or --validation) lacks the field {error}"
                         ) from error
    except (TypeError, ValueError, RuntimeError) as error:
        raise UsageError(f"the measurement files (--stages, --generation, --validation) cannot be fitted: {error}"
                         ) from error


def run(args: argparse.Namespace) -> int:
    from rdtheory.costs.calibration import write_calibration

    _check(args)
    cal = _fit(args)
    try:
        write_calibration(cal, args.out)
    except OSError as error:
        raise write_error("--out", args.out, error) from error
    held, e2e = cal.residuals["held_out"]["all"], cal.residuals["end_to_end"]
    print(f"held-out calls: median |error| {held['median_abs']:.1%}, max {held['max_abs']:.1%} (n={held['n']})")
    for name, case in e2e["cases"].items():
        print(f"  {name:28s} {case['relative_error']:+.1%}{'' if case['held_out'] else '  (fitted)'}")
    speedup = e2e.get("df_over_ar")
    if speedup:
        print(f"DF/AR speedup: predicted {speedup['predicted']:.2f}, measured {speedup['measured']:.2f}")
    print(f"band: {cal.band.low:+.1%} .. {cal.band.high:+.1%}")
    for file, validation in cal.residuals.get("validation", {}).items():
        print(f"validation run {file} (not fitted on):")
        for name, case in validation["cases"].items():
            print(f"  {name:28s} {case['relative_error']:+.1%}{'' if case['within_band'] else '  (outside the band)'}")
    print(f"-> {args.out}")
    return 0
