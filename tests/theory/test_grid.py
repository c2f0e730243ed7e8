import pytest

from rdtheory.theory import Cell, Span, ceil_div


def test_cells_and_spans_validate_with_named_arguments():
    with pytest.raises(ValueError, match=r"step=0 must be >= 1"):
        Cell(0, 0)
    with pytest.raises(ValueError, match=r"pos=-1 must be >= 0"):
        Cell(-1, 1)
    with pytest.raises(ValueError, match=r"count=0 must be >= 1"):
        Span(0, 1, 0)
    with pytest.raises(TypeError, match=r"first=True must be an int"):
        Span(0, True, 1)


def test_span_cells_and_pass_lookup():
    span = Span.of((3, 5, 2))
    assert span == Span(3, 5, 2) and span.last == 6
    assert span.cells() == (Cell(3, 5), Cell(3, 6))
    assert [span.cell_at(j) for j in (1, 2, 3)] == [Cell(3, 5), Cell(3, 6), None]


def test_ceil_div():
    assert [ceil_div(a, 4) for a in (0, 1, 4, 5, 8, 9)] == [0, 1, 1, 2, 2, 3]
