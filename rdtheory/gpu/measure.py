"""GPU timing harness (python -m rdtheory.gpu.measure): the latency of one call of each stage over a grid of
width W, context L and batch B, at Huginn-0125 shape with random weights in bf16.

Each call is captured as a CUDA graph on static inputs (so launch overhead is what a graphed sampler pays) and
timed by CUDA events: warm-up, then the median of repeats. With --compile the sandwich blocks run through
`torch.compile` (`RecurrentDepthLM.compile_blocks`), as the fast samplers run them; the record says which. The
JSON it writes (records of stage, W, L, B and seconds, under the environment of `rdtheory.gpu.environment`) is
what `rdtheory.costs.fitting` fits.
"""

import argparse
import json
import time
from pathlib import Path
from typing import Any

WIDTHS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
CONTEXTS = (64, 256, 1024, 4096)
BATCHES = (1, 4, 32)
MAX_TOKENS_PER_CALL = 4096  # W * B above this is deep in the compute-bound regime and slow to time


def grid(quick: bool = False) -> list[tuple[int, int, int]]:
    """(W, L, B) points: L >= W, W * B <= MAX_TOKENS_PER_CALL."""
    widths, contexts, batches = (WIDTHS[::3], CONTEXTS[::2], BATCHES[:2]) if quick else (WIDTHS, CONTEXTS, BATCHES)
    return [(w, c, b) for b in batches for c in contexts for w in widths if w <= c and w * b <= MAX_TOKENS_PER_CALL]


def random_huginn(dtype: Any, seed: int = 0) -> Any:
    """Huginn-0125 with its own initialisation, on the GPU."""
    import torch

    from rdtheory.config import HUGINN_0125
    from rdtheory.model.recurrent import RecurrentDepthLM

    torch.manual_seed(seed)
    with torch.device("cuda"):
        model = RecurrentDepthLM(HUGINN_0125)
    return model.to(dtype).eval()


def time_stages(model: Any, points: list[tuple[int, int, int]], repeats: int) -> list[dict[str, Any]]:
    import torch

    from rdtheory.model.cache import KVCache, ShareLast

    records = []
    for batch in sorted({b for _, _, b in points}):
        mine = [(w, c) for w, c, b in points if b == batch]
        cache = KVCache(model.config, ShareLast(), batch, max(c for _, c in mine), 1, model.dtype, "cuda")
        for width, context in mine:
            records += _time_point(model, cache, width, context, batch, repeats)
        del cache
        torch.cuda.empty_cache()
    return records


def _time_point(model: Any, cache: Any, width: int, context: int, batch: int, repeats: int) -> list[dict[str, Any]]:
    """Each stage's call over W new positions after L - W cached ones, for B rows, graphed and timed."""
    import torch

    from rdtheory.gpu.environment import median_time_s

    pos = torch.arange(context - width, context, device="cuda").expand(batch, width)
    chunk = model.chunk(pos, kv_len=context)
    ids = torch.randint(0, model.config.vocab_size, (batch, width), device="cuda")
    state = torch.randn(batch, width, model.config.n_embd, device="cuda", dtype=model.dtype)
    calls = {
        "embed": lambda: model.embed(ids, chunk, cache),
        "core": lambda: model.core_step(state, state, chunk, cache, 1),
        "decode": lambda: model.decode(state, chunk, cache),
    }
    records = []
    for stage, call in calls.items():
        call()  # warm-up outside the capture
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            call()
        seconds = median_time_s(graph.replay, repeats)
        records.append({"stage": stage, "width": width, "context": context, "batch": batch,
                        "dtype": str(model.dtype).removeprefix("torch."), "seconds": seconds, "repeats": repeats})
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="a coarse grid, for a smoke test")
    parser.add_argument("--compile", action="store_true", help="torch.compile the sandwich blocks")
    args = parser.parse_args(argv)

    import torch

    from rdtheory.gpu.environment import ceilings, environment

    start = time.time()
    record: dict[str, Any] = {"kind": "stage_latency", "environment": environment(), "ceilings": ceilings()}
    model = random_huginn(torch.bfloat16)
    record["compiled_blocks"] = args.compile
    if args.compile:
        # every (W, L, B) point is a new shape: room for the recompiles, so that no point falls back to eager
        torch._dynamo.config.recompile_limit = max(64, torch._dynamo.config.recompile_limit)
        model.compile_blocks()
    with torch.no_grad():
        record["records"] = time_stages(model, grid(args.quick), args.repeats)
    record["wall_s"] = time.time() - start
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"{len(record['records'])} stage timings in {record['wall_s']:.0f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
