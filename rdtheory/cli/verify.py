"""`rdtheory verify`: the oracle run against a checkpoint folder (`rdtheory.testing.verify`), with a progress bar,
a verdict per check printed, and verify.md plus verify.json written to --out; exit status 1 if a check fails."""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from rdtheory.cli.checks import UsageError, count, output_folder, requires, write_error


def add_parser(sub: Any) -> None:
    v = sub.add_parser("verify", help="run the oracle against a checkpoint folder: verdicts in verify.md and JSON",
                       description="Load a Huginn-layout checkpoint folder (or a shipped model's name) in float64 and "
                       "run the oracle's checks on it: static AR against the plain AR oracle, the exact reductions "
                       "(a) and (b), diffusion forcing with every knob drawn against the plain DF reference, and "
                       "the converged limit where the recurrence has a contractive fixed point (where it has none, "
                       "the verdict says so with the measured contraction constant). Examples are drawn by "
                       "Hypothesis. Writes verify.md and verify.json to --out; exit status 1 if a check fails.")
    v.add_argument("checkpoint", help="checkpoint folder (config.json and safetensors), or rdtheory/looped-tiny")
    v.add_argument("--out", default="verify", help="folder for verify.md and verify.json (default: verify/)")
    v.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="where to run (default: cuda when available, else cpu)")
    v.add_argument("--examples", type=int, default=4, help="drawn examples per check (default: 4)")
    v.add_argument("--prompt-tokens", type=int, default=6, help="longest drawn prompt (default: 6)")
    v.add_argument("--tokens", type=int, default=5, help="new tokens per example (default: 5)")
    v.add_argument("--max-depth", type=int, default=8,
                   help="largest recurrence depth r the checks run (default: 8; the model's mean_recurrence if "
                        "smaller)")
    v.add_argument("--seed", type=int, default=0, help="seed of the drawn examples (default: 0)")
    v.set_defaults(run=run)


def _check(args: argparse.Namespace) -> None:
    count("--examples", args.examples, 1)
    count("--prompt-tokens", args.prompt_tokens, 1)
    count("--tokens", args.tokens, 1)
    count("--max-depth", args.max_depth, 1)
    count("--seed", args.seed, 0)
    output_folder("--out", args.out)
    requires("hypothesis", "rdtheory verify", "pip install hypothesis (it is in the test extra)")


def run(args: argparse.Namespace) -> int:
    _check(args)
    import torch

    from rdtheory.model.checkpoint import CheckpointError, load_pretrained
    from rdtheory.progress import Progress
    from rdtheory.testing.verify import CHECKS, Plan, as_json, verify_model

    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device=cuda needs a CUDA device; torch.cuda.is_available() is False")
    try:
        model = load_pretrained(args.checkpoint, dtype=torch.float64, device=device)
    except (FileNotFoundError, CheckpointError) as error:
        raise UsageError(f"checkpoint={args.checkpoint!r} cannot be loaded: {error}") from error
    config = model.config
    if args.prompt_tokens + args.tokens > config.block_size:
        raise UsageError(f"--prompt-tokens={args.prompt_tokens} + --tokens={args.tokens} must fit the model's "
                         f"block_size={config.block_size}")
    plan = Plan(args.examples, args.prompt_tokens, args.tokens, args.max_depth, args.seed)
    progress = Progress(len(CHECKS), sys.stderr)
    start = time.perf_counter()
    try:
        verdicts = verify_model(model, plan, progress.step)
    finally:
        progress.close()
    for v in verdicts:
        print(f"{v.label:4s}  {v.check}: {v.detail} ({v.examples} examples, {v.seconds:.1f} s)")
    failed = [v for v in verdicts if v.passed is False]
    record = {"checkpoint": args.checkpoint, "device": device, "dtype": "float64", "torch": torch.__version__,
              "python": platform.python_version(), "plan": vars(plan), "config": config.to_huggingface(),
              "seconds": round(time.perf_counter() - start, 1), "passed": not failed, "verdicts": as_json(verdicts)}
    try:
        _write(Path(args.out), record)
    except OSError as error:
        raise write_error("--out", args.out, error) from error
    print(f"{len(failed)} of {len(verdicts)} checks FAILED" if failed else
          f"no check failed ({sum(v.passed is None for v in verdicts)} did not apply)", f"-> {args.out}")
    return 1 if failed else 0


def _write(folder: Path, record: dict[str, Any]) -> None:
    """verify.json and verify.md, each written to a temporary name and moved into place."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (("verify.json", json.dumps(record, indent=2) + "\n"), ("verify.md", _markdown(record))):
        partial = folder / f".{name}.partial"
        partial.write_text(text)
        os.replace(partial, folder / name)


def _markdown(record: dict[str, Any]) -> str:
    rows = "\n".join(f"| {v['check']} | {v['verdict']} | {v['examples']} | {v['seconds']:.1f} | {v['detail']} |"
                     for v in record["verdicts"])
    verdict = "Every check passed or did not apply." if record["passed"] else "At least one check FAILED."
    return (f"# rdtheory verify: {record['checkpoint']}\n\n{verdict}\n\nRun in float64 on {record['device']} "
            f"(torch {record['torch']}), {record['plan']['examples']} drawn examples per check, seed "
            f"{record['plan']['seed']}, {record['seconds']} s.\n\n| check | verdict | examples | seconds | detail |\n"
            f"|---|---|---|---|---|\n{rows}\n")
