"""What a GPU measurement was taken on: device, driver, clocks, versions, commit; and the device's two ceilings.

`environment()` reads the idle state before a measurement (and whether the tree had uncommitted changes);
`clocks_during` reads the clocks while work runs.

Every record the measurement scripts write starts with `environment()`. `ceilings()` measures the copy bandwidth
(bytes read plus bytes written by a large device-to-device copy) and the bf16 matrix rate (an 8192^3 product on
random data), the numbers a roofline on this machine should use next to the datasheet's.
"""

import os
import platform
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

CLOCKS = "clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_throttle_reasons.active"


def _run(cmd: list[str]) -> str | None:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def commit() -> str | None:
    """The package's git commit (RDTHEORY_COMMIT wins, for copies of the tree without .git)."""
    return os.environ.get("RDTHEORY_COMMIT") or _run(["git", "rev-parse", "HEAD"])


def tree_clean() -> bool | None:
    """Whether the working tree had no uncommitted changes to tracked files (None without git)."""
    if os.environ.get("RDTHEORY_TREE_CLEAN") in ("0", "1"):
        return os.environ["RDTHEORY_TREE_CLEAN"] == "1"
    status = _run(["git", "status", "--porcelain", "--untracked-files=no"])
    return None if status is None else status == ""


def smi(query: str) -> dict[str, str] | None:
    out = _run(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"])
    return dict(zip(query.split(","), out.splitlines()[0].split(", "), strict=False)) if out else None


def clocks_during(fn: Callable[[], Any], delay_s: float = 0.2) -> tuple[Any, dict[str, str] | None]:
    """Run fn() while nvidia-smi reads clocks, power and throttle reasons `delay_s` into it: the clocks the
    measurement ran at, not the idle ones. Returns (fn's result, the reading or None)."""
    reading: list[dict[str, str] | None] = [None]

    def read() -> None:
        time.sleep(delay_s)
        reading[0] = smi(CLOCKS)

    thread = threading.Thread(target=read)
    thread.start()
    result = fn()
    thread.join()
    return result, reading[0]


def environment() -> dict[str, Any]:
    import torch

    return {
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "nvidia_smi": smi("name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,power.draw,temperature.gpu"),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "commit": commit(),
        "tree_clean": tree_clean(),
    }


def ceilings(repeats: int = 20) -> dict[str, float]:
    """Measured copy bandwidth (bytes/s, read plus write) and bf16 matrix rate (FLOP/s), medians of repeats."""
    import torch

    src = torch.randn(2**30 // 2, dtype=torch.bfloat16, device="cuda")  # 1 GiB
    dst = torch.empty_like(src)
    a = torch.randn(8192, 8192, dtype=torch.bfloat16, device="cuda")
    b = torch.randn(8192, 8192, dtype=torch.bfloat16, device="cuda")
    copy_s = median_time_s(lambda: dst.copy_(src), repeats)
    mm_s = median_time_s(lambda: a @ b, repeats)
    return {"copy_bytes_per_s": 2 * src.numel() * 2 / copy_s, "bf16_matmul_flops_per_s": 2 * 8192**3 / mm_s}


def median_time_s(fn: Any, repeats: int = 20, warmup: int = 3) -> float:
    """Median seconds of fn() by CUDA events, after warm-up."""
    import torch

    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return sorted(times)[len(times) // 2]
