"""Runs `check()` of every proof in proofs/ (one file per statement) and keeps proofs/README.md in step."""

import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROOFS = sorted(p.stem for p in (ROOT / "proofs").glob("*.py") if not p.stem.startswith("_"))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def test_there_are_proofs():
    assert len(PROOFS) >= 10, PROOFS


@pytest.mark.parametrize("name", PROOFS)
def test_proof(name):
    module = importlib.import_module(f"proofs.{name}")
    doc = module.__doc__ or ""
    assert "Statement." in doc and "Proof." in doc, f"{name} must state its statement and its proof"
    module.check()


@pytest.mark.parametrize("name", PROOFS)
def test_readme_maps_every_proof(name):
    readme = (ROOT / "proofs" / "README.md").read_text()
    assert f"proofs/{name}.py" in readme, f"proofs/README.md does not list {name}"


def test_a_false_step_fails():
    import sympy as sp

    from proofs._common import equal, positive

    x = sp.symbols("x", positive=True)
    with pytest.raises(AssertionError, match="proof step failed: wrong"):
        equal(x + 1, x, "wrong")
    with pytest.raises(AssertionError, match="proof step failed: undecidable"):
        positive(x - 1, "undecidable")
