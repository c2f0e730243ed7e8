"""`rdtheory demo`: AR and diffusion forcing on the embedded tiny model; tokens and counters printed."""

import argparse
import json
import time
from typing import Any

from rdtheory.cli.checks import UsageError, count

PROMPTS = [[1, 2, 3, 4], [10, 20], [5, 9, 13, 17, 21, 25]]
SEEDS = 2**64  # torch takes seeds in [-2**63, 2**64) and aliases a negative seed s to s + 2**64


def add_parser(sub: Any) -> None:
    demo = sub.add_parser("demo", help="AR and diffusion forcing on the embedded tiny model")
    demo.add_argument("--tokens", type=int, default=12, help="new tokens per prompt")
    demo.add_argument("--depth", type=int, default=8, help="recurrences per token (r)")
    demo.add_argument("--inner", type=int, default=2, help="recurrences per diffusion-forcing tick (r')")
    demo.add_argument("--seed", type=int, default=0, help="seed of the random tiny model")
    demo.add_argument("--json", action="store_true", help="also print the counters as JSON")
    demo.set_defaults(run=run)


def _check(args: argparse.Namespace) -> None:
    from rdtheory.config import TINY

    room = TINY.block_size - max(map(len, PROMPTS))
    count("--tokens", args.tokens, 0, room, f": the longest demo prompt ({max(map(len, PROMPTS))} tokens) and the "
          f"new tokens share the tiny model's {TINY.block_size} positions")
    count("--depth", args.depth, 1)
    count("--inner", args.inner, 1)
    if not 0 <= args.seed < SEEDS:
        raise UsageError(f"--seed={args.seed} must be an int in [0, 2**64): the seeds of torch's generator")


def run(args: argparse.Namespace) -> int:
    _check(args)
    import torch

    from rdtheory.config import TINY
    from rdtheory.sampling.autoregressive import generate_ar
    from rdtheory.sampling.diffusion_forcing import generate_df
    from rdtheory.sampling.exits import FixedDepth, LatentDiff
    from rdtheory.testing.models import random_model

    torch.set_num_threads(1)  # a tiny model: thread-pool overhead would dominate
    model = random_model(TINY, seed=args.seed, dtype=torch.float32)
    r = args.depth
    runs = {
        f"AR, r={r}": lambda: generate_ar(model, PROMPTS, args.tokens, r, init_scale=0.0, stop_tokens=()),
        f"DF, r'={args.inner}, FixedDepth({r})": lambda: generate_df(
            model, PROMPTS, args.tokens, inner=args.inner, depth=r, exit=FixedDepth(r), ema=0.0, init_scale=0.0,
            stop_tokens=()),
        f"DF, r'={args.inner}, LatentDiff(0.1)": lambda: generate_df(
            model, PROMPTS, args.tokens, inner=args.inner, depth=r, exit=LatentDiff(0.1), init_scale=0.0,
            stop_tokens=()),
    }
    report = {}
    for name, generate in runs.items():
        start = time.perf_counter()
        out = generate()
        seconds = time.perf_counter() - start
        report[name] = out.trace.summary() | {"seconds": round(seconds, 3)}
        print(f"{name}: {out.trace.n_ticks} ticks, {out.trace.core_passes} serial core passes, "
              f"{out.trace.tokens_forwarded} position-recurrences, {seconds:.2f} s")
        for b, tokens in enumerate(out.tokens):
            print(f"  row {b}: {tokens}")
    if args.json:
        print(json.dumps(report, indent=2))
    return 0
