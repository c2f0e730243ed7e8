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


def test_the_contraction_constant_is_declared_in_0_1():
    """lam = 1 - delta with delta > 0 allows lam < -1, where lam^m can be negative; Remark 3.1's proof declares
    lam = y/(1 + y), y >= 0, which is exactly 0 <= lam < 1."""
    import sympy as sp

    from proofs._common import nonnegative, positive
    from proofs.remark_3_1_convergence import contraction

    m = sp.symbols("m", integer=True, positive=True)
    loose = 1 - sp.symbols("delta", positive=True)
    with pytest.raises(AssertionError, match=r"proof step failed: lam\^m >= 0"):
        nonnegative(loose**m, "lam^m >= 0")
    lam = contraction()
    nonnegative(lam**m, "lam^m >= 0")
    positive(1 - lam, "lam < 1")
    assert lam.subs(sp.Symbol("y", nonnegative=True), 3) == sp.Rational(3, 4)
