"""rdtheory.figures.tables: the Pareto front, Table 1's rows explained by the cost model, and the figures'
legends and bars; the cost notebooks' text quotes no computed number."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from rdtheory.figures import tables
from rdtheory.figures.paper_tables import TABLE1


def test_pareto_front():
    assert tables.pareto_front([(1, 1), (2, 2), (3, 1), (1, 3)]) == [1, 2, 3]
    assert tables.pareto_front([(1, 1), (1, 1)]) == [0, 1]
    gsm = [(r.accuracy[0], r.tokens_per_s[0]) for r in TABLE1]
    front = {TABLE1[i].label for i in tables.pareto_front(gsm)}
    assert {"Speculative Decoding AR", "Static AR (r=4)", "Diff. Sampler (r'=2, beta=0.5)"} <= front
    assert "Static AR (r=64)" not in front and "Adaptive Compute AR" not in front


def test_explain_rows():
    explained = tables.explain_rows()
    base, *rest = explained
    assert base.predicted_speedup == pytest.approx(1.0)
    for e in explained:
        if e.row.knobs is None:
            assert e.prediction is None and e.predicted_speedup is None
        else:  # the bandwidth ceiling bounds every calibrated prediction
            assert e.prediction.tokens_per_s_range[1] <= e.ceiling_tokens_per_s
    df4 = next(e for e in explained if e.row.label.startswith("Diff. Sampler (r'=4"))
    assert 3 < df4.predicted_speedup < 6.6  # below the ideal (r + 1)/(r' + 1)
    with pytest.raises(ValueError, match=r"must start with the static AR r=32 row"):
        tables.table1_figure(explained[1:])


def test_table1_legend_carries_the_computed_speedups():
    """The model's and the reported speedups are printed by the figure, from the code that computes them."""
    explained = tables.explain_rows(hardware="A100 40GB SXM")
    fig = tables.table1_figure(explained)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    df4 = next(e for e in explained if e.row.label.startswith("Diff. Sampler (r'=4"))
    reported = np.array(df4.row.tokens_per_s) / np.array(TABLE1[0].tokens_per_s)
    assert (f"Diff. Sampler (r'=4, beta=0): reported {reported.min():.2f}x .. {reported.max():.2f}x; cost model "
            f"{df4.predicted_speedup:.2f}x") in legend
    assert "Adaptive Compute AR: reported 1.85x .. 1.93x" in legend  # no knobs, no model number
    assert len(legend) == len(TABLE1) - 1


def test_table1_draws_each_rows_accuracy_change_over_static_ar():
    """Section 6A.11: Table 1 as bars of speedup and of accuracy change (points over static AR r=32, per task)."""
    fig = tables.table1_figure(tables.explain_rows())
    bars: dict[str, list[float]] = {}
    for patch in fig.axes[2].patches:
        bars.setdefault(patch.get_gid(), []).append(patch.get_height())
    assert len(bars) == len(TABLE1) - 1
    for row in TABLE1[1:]:
        assert bars[f"delta:{row.label}"] == pytest.approx(np.array(row.accuracy) - np.array(TABLE1[0].accuracy))
    assert any(h != 0 for heights in bars.values() for h in heights)


@pytest.mark.parametrize("name", ["03_costs", "07_tables"])
def test_cost_notebooks_quote_no_number_the_code_computes(name):
    """Their text points to the figures for speedups and rates; a number typed into markdown goes stale."""
    cells = json.loads((Path(__file__).parents[2] / "notebooks" / f"{name}.ipynb").read_text())["cells"]
    text = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert "speedup" in text or "tokens/s" in text.lower()  # the text does talk about them
    assert re.findall(r"\d+(?:\.\d+)?\s*(?:×|x\b|tok(?:ens)?/s)", text) == []


RENDERERS = {
    "table1": lambda: tables.table1_figure(tables.explain_rows()),
    "table2": lambda: tables.table2_figure(),
}


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_figures_render(name, tmp_path, check_render):
    check_render(RENDERERS[name](), name, tmp_path)
