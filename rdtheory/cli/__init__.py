"""The `rdtheory` command. Each subcommand is a thin shell over the package.

  rdtheory report     check the sampler's limits, draw its schedules, predict Huginn-0125 tokens/s and run the shipped
                      model; write report.md and figures to a folder (exit status 1 if a check fails)
  rdtheory demo       generate with AR and diffusion forcing on the embedded tiny model; print tokens and counters
  rdtheory plan       predicted time, tokens/s and memory of a generation on an accelerator, with its band; the
                      fastest DF knobs (--search); the accelerators that reach a rate (--target; exit status
                      1 if none does)
  rdtheory calibrate  refit the cost model's calibration from GPU measurement files
  rdtheory bench      full-scale generation speed on a CUDA device (the same as python -m rdtheory.gpu.bench)
  rdtheory verify     run the oracle against a checkpoint folder; verdicts in verify.md and verify.json (exit
                      status 1 if a check fails)

Errors: a bad argument, an unusable input or output file or a missing optional module is one line on stderr,
`rdtheory <command>: error: ...` naming the flag, its value and the rule, with exit status 2, before the command
computes or prints anything (argparse's own errors, an unknown flag or a value of the wrong type, add its usage
line). Ctrl-C ends a command with one line, `rdtheory <command>: interrupted`, and exit status 130. Output piped
into a reader that stops early (`rdtheory plan | head -1`) ends the command quietly with exit status 141, as a
shell reports a command that SIGPIPE ended.

Modules: `checks` (the argument rules), one module per subcommand; this one holds `main`. Nothing in the package
imports the CLI; `sampler_label` and `rate_range` (how `plan` prints a prediction) live in `rdtheory.costs.plan` and
are re-exported here for code that imported them from the CLI.
"""

import argparse
import os
import sys
from collections.abc import Sequence

from rdtheory.cli import bench, calibrate, demo, plan, report, verify
from rdtheory.cli.checks import UsageError
from rdtheory.costs.plan import rate_range, sampler_label

__all__ = ["main", "rate_range", "sampler_label"]

USAGE, INTERRUPTED, BROKEN_PIPE = 2, 130, 141


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rdtheory", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    for command in (report, demo, plan, calibrate, bench, verify):
        command.add_parser(sub)
    return p


def _quiet_stdout() -> None:
    """Point stdout at devnull, so that the interpreter's flush at exit finds no closed pipe to fail on."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is no file (a test's capture): there is nothing left to flush
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; the exit status is its own (0, or 1 where its help says so), or 2 for a usage error,
    130 for Ctrl-C and 141 for a closed output pipe (module doc)."""
    args = parser().parse_args(argv)
    try:
        status = args.run(args)
        sys.stdout.flush()  # a reader that closed the pipe shows here, not at interpreter exit
        return status
    except UsageError as error:
        message = " ".join(str(error).split("\n"))  # one line whatever a wrapped error's text holds
        print(f"rdtheory {args.command}: error: {message}", file=sys.stderr)
        return USAGE
    except KeyboardInterrupt:
        print(f"rdtheory {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        _quiet_stdout()
        return BROKEN_PIPE
