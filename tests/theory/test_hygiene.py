"""rdtheory.theory is pure Python: no torch, numpy or sympy, and small modules. Besides itself it reads only the
ground floor: `rdtheory.paper` (the paper's numbers, which imports nothing: tests/test_paper.py) and
`rdtheory.knobs` (the vocabulary of choices, torch-free: tests/test_layout.py)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import rdtheory.theory

THEORY = Path(rdtheory.theory.__file__).parent
MODULES = sorted(THEORY.glob("*.py"))
GROUND_FLOOR = ("rdtheory.theory", "rdtheory.paper", "rdtheory.knobs")
ALLOWED = {"bisect", "collections", "dataclasses", "enum", "fractions", "math", "numbers", "typing", "rdtheory"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_imports_only_the_standard_library_and_itself(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
            [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
        for name in names:
            assert name.split(".")[0] in ALLOWED, f"{path.name} imports {name}"
            assert not name.startswith("rdtheory.") or name.startswith(GROUND_FLOOR), f"{path.name}: {name}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_modules_stay_small(path):
    assert len(path.read_text().splitlines()) <= 300


def test_importing_theory_loads_no_heavy_package():
    code = ("import sys, rdtheory.theory; "
            "print(sorted(m for m in ('torch', 'numpy', 'sympy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
