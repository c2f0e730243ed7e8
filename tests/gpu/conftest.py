"""GPU tests write what they measured: with RDTHEORY_GPU_OUT set to a folder, each module's record goes to
<folder>/<name>.json with the environment it ran in (device, driver, torch, CUDA, Python, commit)."""

import json
import os
import platform
from pathlib import Path

import pytest
import torch


def write_record(name: str, record: dict) -> None:
    folder = os.environ.get("RDTHEORY_GPU_OUT")
    if not folder:
        return
    environment = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "cuda": torch.version.cuda,
                   "driver": os.environ.get("RDTHEORY_DRIVER"), "python": platform.python_version(),
                   "commit": os.environ.get("RDTHEORY_COMMIT")}
    Path(folder).mkdir(parents=True, exist_ok=True)
    (Path(folder) / f"{name}.json").write_text(json.dumps(environment | record, indent=2) + "\n")


@pytest.fixture(scope="session")
def gpu_record():
    """The function that writes a module's record (`write_record`)."""
    return write_record
