"""rdtheory.figures.output: the full-size switch, the figures folder and saving; matplotlib only to draw."""

import subprocess
import sys

import pytest

from rdtheory.figures import output


def test_full_size_reads_the_environment(monkeypatch):
    for value, expected in (("1", True), ("TRUE", True), (" on ", True), ("0", False), ("", False), ("no", False)):
        monkeypatch.setenv("RDTHEORY_FULL", value)
        assert output.full_size() is expected, value
    monkeypatch.delenv("RDTHEORY_FULL")
    assert output.full_size() is False


def test_figures_dir_and_save(tmp_path, monkeypatch):
    monkeypatch.setenv("RDTHEORY_FIGURES", str(tmp_path / "out"))
    assert output.figures_dir() == tmp_path / "out" and (tmp_path / "out").is_dir()
    fig, ax = output.new_figure()
    ax.plot([0, 1], [1, 0])
    saved = output.save(fig, "line")
    assert saved.path == tmp_path / "out" / "line.png"
    assert saved._repr_png_().startswith(b"\x89PNG") and saved.path.stat().st_size > 1000
    for bad in ("", "a/b", "x.png"):
        with pytest.raises(ValueError, match=rf"name={bad!r} must be a plain file name"):
            output.save(fig, bad)
    with pytest.raises(ValueError, match=r"ncols=0 must be an int >= 1"):
        output.new_figure(1, 0)


def test_matplotlib_is_imported_only_to_draw():
    code = (
        "import sys, rdtheory\n"
        "from rdtheory.figures import schedules, wavefront, counters, costs, speedup, predictions, prefill, noise, "
        "memory, convergence, limits, tables\n"
        "schedules.schedule_grid(schedules.paper_schedules()['AR, r=8'])\n"
        "counters.counter_comparison(); noise.noise_curves(); memory.memory_curves(); prefill.prefill_curves()\n"
        "assert 'matplotlib' not in sys.modules, 'a data function imported matplotlib'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
