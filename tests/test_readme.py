"""Every example in README.md runs as written.

Python blocks are copied verbatim into a fresh folder, outside this project's tests (so none of its conftest
settings apply): a block that defines tests is run by pytest as a test file of its own, any other block by Python.
Command lines in shell blocks are run where they are cheap and CPU-only; every other command line is listed below
with the reason it is not run here, and the test fails if the README holds a command line that is in neither
group.
"""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)

NOT_RUN = {
    "python3 -m venv": "the set-up commands create a virtual environment; .ci/run runs them on a fresh clone",
    "python -m rdtheory.training.train": "training needs a GPU (245 s on an H100)",
    "python -m rdtheory.training.evaluate": "the full evaluation takes 7 minutes; its results are tested against "
                                            "the committed evaluation",
    "python -m rdtheory.bench": "the benchmark needs CUDA",
    "rdtheory bench": "the benchmark needs CUDA",
    "rdtheory report": "the report is .ci/run's main job and has tests of its own",
    "pip install": "installs packages",
}


def blocks(language: str) -> list[str]:
    return [code for lang, code in BLOCK.findall(README.read_text()) if lang == language]


def command_lines() -> list[str]:
    lines = [line.split("#")[0].strip() for code in blocks("bash") for line in code.splitlines()]
    return [line for line in lines if line]


def run(argv: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_python_example_runs_verbatim(index, tmp_path):
    code = blocks("python")[index]
    if re.search(r"^def test_", code, re.MULTILINE):
        (tmp_path / f"test_readme_example_{index}.py").write_text(code)
        result = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                      str(tmp_path)], tmp_path, timeout=600)
        assert result.returncode == 0 and " passed" in result.stdout, result.stdout[-3000:] + result.stderr[-2000:]
    else:
        (tmp_path / "example.py").write_text(code)
        result = run([sys.executable, "example.py"], tmp_path, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]


def test_the_examples_include_the_oracle_tests():
    tests = [code for code in blocks("python") if "def test_" in code]
    assert any("check_against_oracle" in code for code in tests)
    assert any("check_wavefront_one_limit" in code for code in tests)


def _runnable(line: str) -> bool:
    return line.startswith("rdtheory ") and not any(line.startswith(prefix) for prefix in NOT_RUN)


def test_every_command_line_is_run_or_has_a_reason_not_to_be():
    unaccounted = [line for line in command_lines()
                   if not _runnable(line) and not any(prefix in line for prefix in NOT_RUN)]
    assert not unaccounted, f"README command lines neither run by this test nor listed in NOT_RUN: {unaccounted}"
    assert any(_runnable(line) for line in command_lines())


@pytest.mark.parametrize("line", [line for line in command_lines() if _runnable(line)])
def test_command_line_runs_verbatim(line, tmp_path):
    argv = shlex.split(line)
    result = run([sys.executable, "-m", "rdtheory.cli", *argv[1:]], tmp_path, timeout=300)
    assert result.returncode == 0, f"{line}: exit {result.returncode}\n{result.stderr[-2000:]}"
    assert result.stdout.strip(), line
