"""`rdtheory bench`: `rdtheory.gpu.bench` (full-scale generation speed on a CUDA device) as a subcommand, with the
same options; `python -m rdtheory.gpu.bench` (or `python -m rdtheory.bench`) runs the same code."""

import argparse
from typing import Any

from rdtheory.cli.checks import UsageError


def add_parser(sub: Any) -> None:
    from rdtheory.gpu import bench

    b = sub.add_parser("bench", help="full-scale generation speed on a CUDA device, written as JSON",
                       description=bench.__doc__.splitlines()[0])
    bench.add_arguments(b)
    b.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rdtheory.gpu import bench

    why = bench.problem(args)
    if why is not None:
        raise UsageError(why)
    return bench.benchmark(args)
