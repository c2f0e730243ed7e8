"""Figures of the paper's theory and of the cost model, as functions: every computation and every plot the
notebooks show lives here, and the notebooks only call these functions and save what they return.

One module per figure family, each with data functions (plain values, tested) and plotting functions that return
a `matplotlib.figure.Figure` on an Agg canvas (`output`): `schedules` (Figure 1), `wavefront`, `counters`,
`costs`, `speedup`, `predictions`, `prefill`, `noise`, `memory`, `convergence`, `limits`, `tables` (with the
paper's numbers in `paper_tables`). `import rdtheory` imports none of them; matplotlib is imported only when a
figure is drawn. Re-exports the output functions; defines nothing.
"""

from rdtheory.figures.output import SavedFigure, figures_dir, full_size, new_figure, save

__all__ = ["SavedFigure", "figures_dir", "full_size", "new_figure", "save"]
