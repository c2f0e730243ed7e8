"""The `rdtheory` command. Each subcommand is a thin shell over the package; nothing imports this module.

  rdtheory demo       generate with AR and diffusion forcing on the embedded tiny model; print tokens and counters
"""

import argparse
import json
import sys
import time
from collections.abc import Sequence


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rdtheory", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="AR and diffusion forcing on the embedded tiny model")
    demo.add_argument("--tokens", type=int, default=12, help="new tokens per prompt")
    demo.add_argument("--depth", type=int, default=8, help="recurrences per token (r)")
    demo.add_argument("--inner", type=int, default=2, help="recurrences per diffusion-forcing tick (r')")
    demo.add_argument("--seed", type=int, default=0, help="seed of the random tiny model")
    demo.add_argument("--json", action="store_true", help="also print the counters as JSON")
    demo.set_defaults(run=_demo)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
