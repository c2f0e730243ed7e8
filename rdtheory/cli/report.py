"""`rdtheory report`: `rdtheory.report.run` on a folder from the command line, its arguments checked first."""

import argparse
from typing import Any

from rdtheory.cli.checks import output_folder, requires, write_error


def add_parser(sub: Any) -> None:
    r = sub.add_parser("report", help="checks, schedules, predictions and the shipped model, written to a folder",
                       description="Check the diffusion-forcing sampler's exact AR limits and converged limit (PASS/"
                       "FAIL per check; exit status 1 if any fails), draw its schedules, predict Huginn-0125 tokens/s "
                       "for AR and DF on the bundled accelerators with the calibration's band, and run the shipped "
                       "model rdtheory/looped-tiny; write report.md and PNG figures to --out. A progress bar goes to "
                       "stderr. An interrupted run leaves a report.md that says so (exit status 130).")
    r.add_argument("--out", default="report", help="folder to write report.md and the figures into "
                   "(default: report/ under the working directory)")
    r.add_argument("--quick", action="store_true", help="fewer cases and 16 instead of 64 held-out grids")
    r.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    output_folder("--out", args.out)
    requires("matplotlib", "the report's figures", "pip install matplotlib (it is in the test and notebooks "
             "extras)")
    from rdtheory.report import run as write_report

    try:
        return write_report(args.out, quick=args.quick)
    except OSError as error:
        raise write_error("--out", args.out, error) from error
