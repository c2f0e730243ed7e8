"""Fixtures shared by the figure tests (one file per module of rdtheory.figures): the two slow model references,
computed once per test process, and the check that a figure rendered.

Data functions are checked against independent statements (the paper's numbers, closed forms of the theory, the
schedules the samplers actually ran); plotting functions must return a Figure with axes whose PNG is not empty.
"""

from collections.abc import Callable
from typing import Any

import pytest

from rdtheory.figures import convergence, limits, output


@pytest.fixture(scope="session")
def contractive_ref():
    return convergence.reference(convergence.contractive_model(0), (1, 2, 3), 4)


@pytest.fixture(scope="session")
def limit_checks():
    return limits.limit_checks(quick=True, n_new=5)


def _check_render(fig, name, folder):
    from matplotlib.figure import Figure

    assert isinstance(fig, Figure) and fig.axes, name
    assert any(ax.has_data() or ax.tables or ax.images for ax in fig.axes), name
    saved = output.save(fig, name, folder)
    assert saved.path.stat().st_size > 1000, name


@pytest.fixture(scope="session")
def check_render() -> Callable[[Any, str, Any], None]:
    """check_render(fig, name, folder): fig is a Figure with axes that hold something, and its PNG saved in folder
    is not empty."""
    return _check_render
