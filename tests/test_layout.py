"""The package's layout: the torch-free packages import without torch, and the measuring commands run under their
old names as well as their new ones (`rdtheory.gpu`)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------------ torch-free packages


@pytest.mark.parametrize("package", ["rdtheory.costs", "rdtheory.theory", "rdtheory.gpu"])
def test_package_imports_with_torch_unimportable(package):
    """Every module of the package imports while `import torch` raises ImportError (the gpu package imports torch
    inside the functions that measure)."""
    code = (
        "import importlib, pkgutil, sys\n"
        "sys.modules['torch'] = None\n"
        f"package = importlib.import_module({package!r})\n"
        "names = [m.name for m in pkgutil.iter_modules(package.__path__, package.__name__ + '.')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "print(len(names))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= 3, done.stdout  # the package's modules were found, so the loop imported something


# ------------------------------------------------------------------------------------------------ old command names


def _run(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("module", ["rdtheory.gpu.bench", "rdtheory.bench"])
def test_bench_checks_its_arguments_under_either_name(module, tmp_path):
    done = _run(module, "--out", str(tmp_path / "b.json"), "--only", "nope")
    assert done.returncode == 2 and done.stdout == "", done
    assert done.stderr.startswith("rdtheory bench: error: --only='nope' is not a case; cases: 'AR r=32'"), done
    assert not (tmp_path / "b.json").exists()


@pytest.mark.parametrize("module", ["rdtheory.gpu.measure", "rdtheory.costs.measure"])
def test_measure_takes_its_options_under_either_name(module):
    done = _run(module, "--help")
    assert done.returncode == 0, done
    assert all(flag in done.stdout for flag in ("--out", "--repeats", "--quick", "--compile")), done.stdout
