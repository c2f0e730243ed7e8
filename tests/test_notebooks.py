"""The notebooks: committed without outputs, free of logic, and each runs top to bottom and saves its figures.

Each notebook is executed with nbclient on the `python3` kernel, in a temporary working folder, with
RDTHEORY_FIGURES pointing into it. RDTHEORY_FULL is passed through: unset, the notebooks run at their small size
(all of them in well under two minutes on two CPU cores); RDTHEORY_FULL=1 runs the full-size versions.
"""

import ast
import os
import time
from pathlib import Path

import nbclient
import nbformat
import pytest

pytestmark = pytest.mark.xdist_group("notebook-kernels")  # one worker: the runs share state and CPU

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
FIGURES = {
    "01_schedules": ("fig1_schedule", "fig1_headway2", "fig1_cap2", "fig1_ar_limit", "fig1_sampler_traces"),
    "02_counters_and_wavefronts": ("wavefront", "counters", "claims"),
    "03_costs": ("pass_time", "throughput", "speedup", "hardware_predictions"),
    "04_prefill": ("prefill_masks", "prefill_costs", "remark_4_3"),
    "05_noise_and_memory": ("noise_schedules", "ema_response", "kv_memory"),
    "06_convergence": ("convergence", "ar_limits"),
    "07_tables": ("table1", "table2"),
    "08_trained_model": ("trained_depth_curve", "trained_latents", "trained_schedules", "trained_recurrences",
                         "trained_tradeoff"),
}
# Statements that would put logic in a notebook; a conditional expression choosing a size is allowed.
LOGIC = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.For, ast.While, ast.If, ast.With, ast.Try,
         ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Lambda)


BUDGET_S = 120.0
"""All notebooks together, at the small size, on two CPU cores (kernel start-up included)."""


def _read(name: str):
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def test_every_notebook_is_listed():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(FIGURES)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_notebook_is_committed_clean(name):
    nb = _read(name)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "full_size()" in code[0].source, "the first code cell reads the size"
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, f"{name}: outputs committed"
        logic = [type(node).__name__ for node in ast.walk(ast.parse(cell.source)) if isinstance(node, LOGIC)]
        assert not logic, f"{name}: logic in a notebook cell ({logic}): move it to rdtheory.figures"
        assert "import matplotlib" not in cell.source and "plt." not in cell.source, f"{name}: draws by itself"


def _run(name: str, folder: Path) -> float:
    """Execute one notebook in `folder` (its figures under folder/figures); check its figures; return seconds."""
    figures = folder / "figures"
    nb = _read(name)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(folder)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, (name, errors)
    for figure in FIGURES[name]:
        png = figures / f"{figure}.png"
        assert png.is_file(), f"{name} did not save {png.name}"
        assert png.stat().st_size > 5000 and png.read_bytes().startswith(b"\x89PNG"), png
    assert sorted(p.stem for p in figures.glob("*.png")) == sorted(FIGURES[name]), name
    return seconds


def test_notebooks_run_save_their_figures_and_fit_the_budget(tmp_path, monkeypatch):
    """Every notebook runs top to bottom (kernel start-up included) and saves exactly its figures; at the small
    size all of them together take at most BUDGET_S."""
    durations = {}
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the kernels' tiny models: one thread, as in the test processes
    # The kernels import this checkout's rdtheory, as the test processes do, whichever copy the environment installed.
    paths = [str(NOTEBOOKS.parent), os.environ.get("PYTHONPATH")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
    for name in sorted(FIGURES):
        folder = tmp_path / name
        folder.mkdir()
        monkeypatch.setenv("RDTHEORY_FIGURES", str(folder / "figures"))
        durations[name] = _run(name, folder)
    total = sum(durations.values())
    if os.environ.get("RDTHEORY_FULL") != "1":  # the budget is for the small size
        assert total <= BUDGET_S, f"notebooks took {total:.0f} s together: " + ", ".join(
            f"{k} {v:.0f} s" for k, v in durations.items())
