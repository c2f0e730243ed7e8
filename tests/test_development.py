"""The record of the last green environment: `.ci/constraints.txt` pins, with ==, every distribution that
pyproject.toml's dependencies and test extra name, at a version those requirements allow, and the README's
Development section gives the command that installs it."""

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _array(text: str, key: str) -> list[str]:
    """The strings of the TOML array `key = [...]` (pyproject's dependency lists hold only plain strings)."""
    match = re.search(rf"^{re.escape(key)} = \[(.*?)\]", text, re.M | re.S)
    assert match, f"pyproject.toml has no {key} array"
    return re.findall(r'"([^"]+)"', match.group(1))


def _requirements() -> list[Requirement]:
    text = (ROOT / "pyproject.toml").read_text()
    return [Requirement(r) for r in _array(text, "dependencies") + _array(text, "test")]


def _pins(path: Path = ROOT / ".ci" / "constraints.txt") -> dict[str, Version]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        req = Requirement(line)
        (spec,) = req.specifier
        assert spec.operator == "==" and "*" not in spec.version, f"{line!r} must pin one version with =="
        assert canonicalize_name(req.name) not in pins, f"{req.name} is pinned twice"
        pins[canonicalize_name(req.name)] = Version(spec.version)
    return pins


def test_every_dependency_is_pinned_at_an_allowed_version():
    pins = _pins()
    requirements = _requirements()
    assert {"torch", "numpy", "scipy", "sympy", "hypothesis", "transformers"} <= {canonicalize_name(r.name)
                                                                                   for r in requirements}
    for req in requirements:
        name = canonicalize_name(req.name)
        assert name in pins, f".ci/constraints.txt does not pin {req.name}"
        assert req.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} breaks {req}"
    assert "rdtheory" not in pins  # the project itself is installed from the working tree


def test_the_readme_installs_the_pinned_environment_with_the_pinned_torch():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Development"): readme.index("## Layout")]
    torch = _pins()["torch"]
    assert f"pip install -c .ci/constraints.txt torch=={torch} -e '.[test]'" in section
    assert f"pip install torch=={torch} -e '.[test]'" in readme  # the same torch as the two commands
    assert "RDTHEORY_HYPOTHESIS_PROFILE=thorough" in section
    ci = (ROOT / ".ci" / "run").read_text()
    assert "constraints" not in ci  # CI tests the newest versions pyproject allows


@pytest.mark.parametrize("line, match", [("numpy>=1.24", "must pin one version"), ("numpy==2.*", "must pin")])
def test_a_loose_pin_is_refused(tmp_path, line, match):
    path = tmp_path / "constraints.txt"
    path.write_text(f"# header\n{line}\n")
    with pytest.raises(AssertionError, match=match):
        _pins(path)
