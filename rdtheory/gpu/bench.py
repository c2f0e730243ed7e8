"""Full-scale generation speed on the GPU (`rdtheory bench`, or python -m rdtheory.gpu.bench), against the roofline.

Huginn-0125 shape, random weights, bf16, prompts of 64 tokens, 48 new tokens: AR at r = 32; diffusion forcing with
the fixed rule (r' = 4, headway 1) and with LatentDiff(0.03) (the paper's defaults); the fixed rule batched at
B = 1, 8, 32. For each: tokens per second (median of timed runs after a warm-up run that captures the graphs),
ticks and core passes, the bytes the cost model says the run must move, and the achieved bandwidth as a fraction
of the datasheet's and of the measured copy bandwidth, and the clocks read while the case ran. Eager runs (no CUDA
graphs) are timed once for reference. `--profile` adds, in the same run, a torch.profiler pass of the named cases:
GPU-busy time against wall time and the top kernels (tables written beside the JSON).

The arguments are checked before the model is built (`problem`): an unknown case name, an --out outside an
existing folder or a machine without CUDA is one line on stderr and exit status 2.
"""

import argparse
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROMPT, NEW_TOKENS, REPEATS = 64, 48, 3
MATMUL_KERNEL = re.compile(r"nvjet|gemm|gemv|cutlass|splitKreduce|xmma", re.IGNORECASE)
"""Kernel names of cuBLAS / cuBLASLt matrix products (the weight-streaming work of a decoding step)."""


def prompts(batch: int, length: int, vocab: int) -> list[list[int]]:
    return [[(7919 * (b + 1) * (i + 3)) % vocab for i in range(length)] for b in range(batch)]


def cases(model: Any) -> dict[str, tuple[int, Callable[..., Any]]]:
    """name -> (batch, run(workspace, graphs))."""
    from rdtheory.sampling.autoregressive import generate_ar
    from rdtheory.sampling.diffusion_forcing import generate_df
    from rdtheory.sampling.exits import FixedDepth, LatentDiff

    common = dict(init_scale=0.0, stop_tokens=())

    def ar(batch: int) -> Callable[..., Any]:
        return lambda ws, g: generate_ar(model, prompts(batch, PROMPT, 65_000), NEW_TOKENS, 32, workspace=ws,
                                         graphs=g, **common)

    def df(batch: int, exit: Any) -> Callable[..., Any]:
        return lambda ws, g: generate_df(model, prompts(batch, PROMPT, 65_000), NEW_TOKENS, inner=4, depth=32,
                                         exit=exit, max_wavefront=128, headway=1, workspace=ws, graphs=g, **common)

    return {
        "AR r=32": (1, ar(1)),
        "DF fixed r'=4": (1, df(1, FixedDepth(32))),
        "DF LatentDiff(0.03) r'=4": (1, df(1, LatentDiff(0.03))),
        "DF fixed r'=4 B=8": (8, df(8, FixedDepth(32))),
        "DF fixed r'=4 B=32": (32, df(32, FixedDepth(32))),
    }


def measure_case(model: Any, run: Callable[..., Any], batch: int, eager: bool) -> dict[str, Any]:
    import torch

    from rdtheory.costs.counts import total_flops, total_traffic
    from rdtheory.costs.hardware import get_hardware
    from rdtheory.costs.roofline import generation_time_s
    from rdtheory.costs.workload import passes_from_trace
    from rdtheory.gpu.environment import clocks_during
    from rdtheory.sampling.workspace import Workspace

    workspace = Workspace(model)
    start = time.perf_counter()
    out = run(workspace, True)
    torch.cuda.synchronize()
    cold_s = time.perf_counter() - start
    times = []
    for _ in range(REPEATS):
        torch.cuda.synchronize()
        start = time.perf_counter()
        out = run(workspace, True)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    seconds = sorted(times)[len(times) // 2]
    _, clocks = clocks_during(lambda: [run(workspace, True) for _ in range(2)])
    torch.cuda.synchronize()
    eager_s = None
    if eager:
        torch.cuda.synchronize()
        start = time.perf_counter()
        run(None, False)
        torch.cuda.synchronize()
        eager_s = time.perf_counter() - start
    passes = passes_from_trace(out.trace)
    traffic = total_traffic(model.config, passes, "bfloat16")
    h100 = get_hardware("H100 SXM")
    tokens = sum(len(t) for t in out.tokens)
    graphs = sum(len(g) for _, g in workspace.entries.values() if g is not None)
    workspace.clear()
    return {
        "batch": batch, "tokens": tokens, "seconds": seconds, "runs_s": times, "cold_s": cold_s, "eager_s": eager_s,
        "tokens_per_s": tokens / seconds, "ticks": out.trace.n_ticks, "core_passes": out.trace.core_passes,
        "tokens_forwarded": out.trace.tokens_forwarded, "bytes": traffic.total_bytes, "flops": total_flops(model.config,
                                                                                                     passes),
        "roofline_s": generation_time_s(model.config, h100, passes),
        "achieved_bytes_per_s": traffic.total_bytes / seconds, "graphs": graphs, "clocks_under_load": clocks,
    }


def profile_case(model: Any, run: Callable[..., Any], path: Path) -> dict[str, Any]:
    """One warm generation under torch.profiler: GPU-busy time against wall time, and the top kernels and host
    operations (written as a table to `path`)."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from rdtheory.sampling.workspace import Workspace

    workspace = Workspace(model)
    run(workspace, True)
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        start = time.perf_counter()
        run(workspace, True)
        torch.cuda.synchronize()
        wall = time.perf_counter() - start
    events = prof.key_averages()
    gpu_s = sum(e.self_device_time_total for e in events) / 1e6
    matmul_s = sum(e.self_device_time_total for e in events if MATMUL_KERNEL.search(e.key)) / 1e6
    top = sorted((e for e in events if e.self_device_time_total > 0), key=lambda e: -e.self_device_time_total)[:8]
    table = events.table(sort_by="self_device_time_total", row_limit=25) + "\n" + \
        events.table(sort_by="self_cpu_time_total", row_limit=25)
    path.write_text(table)
    workspace.clear()
    return {"wall_s": wall, "gpu_busy_s": gpu_s, "gpu_busy_fraction": gpu_s / wall, "matmul_kernels_s": matmul_s,
            "matmul_share_of_gpu_time": matmul_s / gpu_s,
            "top_kernels": [{"name": e.key[:80], "calls": e.count, "seconds": e.self_device_time_total / 1e6}
                            for e in top]}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's options, shared by `python -m rdtheory.gpu.bench` and `rdtheory bench`."""
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--only", nargs="*", default=[], help="case names to run (default: all)")
    parser.add_argument("--profile", nargs="*", default=[], help="case names to profile (tables beside --out)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the sandwich blocks")


def problem(args: argparse.Namespace) -> str | None:
    """Why the benchmark cannot run as asked (an argument naming its flag, or no CUDA device), or None."""
    import torch

    out = Path(args.out)
    if out.is_dir() or not out.parent.is_dir():
        return f"--out={args.out!r} must be a file in an existing folder"
    known = list(cases(None))
    for flag, names in (("--only", args.only), ("--profile", args.profile)):
        unknown = [name for name in names if name not in known]
        if unknown:
            return f"{flag}={unknown[0]!r} is not a case; cases: {', '.join(map(repr, known))}"
    skipped = [name for name in args.profile if args.only and name not in args.only]
    if skipped:
        return f"--profile={skipped[0]!r} must also be in --only: only the cases that run are profiled"
    if not torch.cuda.is_available():
        return "needs a CUDA device; torch.cuda.is_available() is False"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rdtheory.gpu.bench", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    why = problem(args)
    if why is not None:
        print(f"rdtheory bench: error: {why}", file=sys.stderr)
        return 2
    return benchmark(args)


def benchmark(args: argparse.Namespace) -> int:
    """The benchmark of the module doc, with arguments `problem` found nothing wrong with."""
    import torch

    from rdtheory.costs.hardware import get_hardware
    from rdtheory.gpu.environment import ceilings, environment
    from rdtheory.gpu.measure import random_huginn

    record: dict[str, Any] = {"kind": "generation_speed", "environment": environment(), "ceilings": ceilings(),
                              "prompt": PROMPT, "new_tokens": NEW_TOKENS, "repeats": REPEATS, "cases": {}}
    datasheet, out = get_hardware("H100 SXM").bandwidth_bytes_per_s, Path(args.out)
    model = random_huginn(torch.bfloat16)
    record["compiled_blocks"] = args.compile
    if args.compile:
        model.compile_blocks()
    with torch.no_grad():
        for name, (batch, generate) in cases(model).items():
            if args.only and name not in args.only:
                continue
            result = measure_case(model, generate, batch, eager=batch == 1 and "LatentDiff" not in name)
            result["fraction_of_datasheet_bandwidth"] = result["achieved_bytes_per_s"] / datasheet
            result["fraction_of_copy_bandwidth"] = result["achieved_bytes_per_s"] / record["ceilings"][
                "copy_bytes_per_s"]
            record["cases"][name] = result
            if name in args.profile:
                table = out.with_name(f"{out.stem}_profile_{len(record['cases'])}.txt")
                result["profile"] = profile_case(model, generate, table) | {"table": table.name}
                print(f"  profile: {result['profile']}", flush=True)
            print(f"{name:28s} {result['tokens_per_s']:8.1f} tok/s  {result['ticks']:4d} ticks  "
                  f"{result['fraction_of_datasheet_bandwidth']:.2f} of datasheet bandwidth  "
                  f"(eager {result['eager_s']}, cold {result['cold_s']:.2f} s)", flush=True)
    ar, df = record["cases"].get("AR r=32"), record["cases"].get("DF fixed r'=4")
    if ar and df:
        record["df_over_ar"] = df["tokens_per_s"] / ar["tokens_per_s"]
    b1, b8 = record["cases"].get("DF fixed r'=4"), record["cases"].get("DF fixed r'=4 B=8")
    if b1 and b8:
        record["b8_over_b1"] = b8["tokens_per_s"] / b1["tokens_per_s"]
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps({k: record.get(k) for k in ("df_over_ar", "b8_over_b1")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
