"""Where figures go and how they are drawn: the figure canvas, the output folder, the full-size switch, saving.

Every figure of `rdtheory.figures` is a plain `matplotlib.figure.Figure` on an Agg canvas, made here: nothing
touches pyplot's global state or the user's backend, so figures render the same headless, in CI and in a notebook.
matplotlib is imported inside the functions, so the data functions of the figure modules work without it.

Environment: RDTHEORY_FIGURES names the folder figures are saved in (default `figures` under the working folder,
which for a notebook is `notebooks/figures/`, ignored by git); RDTHEORY_FULL=1 asks for full-size figures.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIGURES_ENV = "RDTHEORY_FIGURES"
FULL_ENV = "RDTHEORY_FULL"
DEFAULT_FOLDER = "figures"


def full_size() -> bool:
    """Whether RDTHEORY_FULL asks for full-size figures ("1", "true", "yes" or "on", any case)."""
    return os.environ.get(FULL_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def figures_dir(default: str | Path = DEFAULT_FOLDER) -> Path:
    """The folder RDTHEORY_FIGURES names (else `default`), created if missing."""
    folder = Path(os.environ.get(FIGURES_ENV) or default)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def new_figure(nrows: int = 1, ncols: int = 1, width: float = 6.0, height: float = 4.0, **subplots: Any
               ) -> tuple[Any, Any]:
    """(figure, axes) on an Agg canvas; axes as `Figure.subplots` returns them (squeezed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    for name, value in (("nrows", nrows), ("ncols", ncols)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}={value!r} must be an int >= 1")
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, **subplots)


@dataclass(frozen=True)
class SavedFigure:
    """A figure written to `path`; shows itself in a notebook."""

    path: Path

    def _repr_png_(self) -> bytes:
        return self.path.read_bytes()


def save(fig: Any, name: str, folder: str | Path | None = None, dpi: int = 110) -> SavedFigure:
    """Write `fig` to folder/name.png (folder: `figures_dir()` by default) and return where."""
    if not name or "/" in name or "\\" in name or name.endswith(".png"):
        raise ValueError(f"name={name!r} must be a plain file name without folder or .png suffix")
    target = (figures_dir() if folder is None else Path(folder)) / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=dpi)
    return SavedFigure(target)
