"""Reachability on a grid: a task whose answers need serial steps, with a character vocabulary built in code.

An example is a 12 x 12 grid of open cells (".") and walls ("#"), written row by row, and asks which cells of the
last row can be reached from the top-left corner by moves right and down through open cells ("1" reachable, "0"
not); a 4 x 4 grid reads

    <bos>..#.;.#..;...#;#...;=0111<eos>

A cell is reachable when it is open and the cell above it or to its left is reachable. Each of those neighbours sits
a fixed distance back in the text, so a model can settle the grid a few rows at a time: the depth an answer needs
grows with the grid, and the latents reach a fixed point once the whole grid is settled. The wall density is drawn
around the directed-percolation threshold (about 0.3), where reachability depends on long paths, and grids whose
last row has no reachable cell (an all-zero answer) are drawn again.
"""

import random
from dataclasses import dataclass

SPECIALS = ("<pad>", "<bos>", "<eos>")
SYMBOLS = ".#;=01"
VOCAB = (*SPECIALS, *SYMBOLS)
PAD, BOS, EOS = 0, 1, 2
_INDEX = {s: i for i, s in enumerate(VOCAB)}

SIZE = 12
"""Rows and columns of the grid."""
HELD_OUT_SEED = 10_007
"""Seed of the held-out examples (training draws its batches from the training seed's stream)."""
WALLS = (0.25, 0.35)
"""Range of the wall density, drawn uniformly per example."""
MIN_REACHABLE = 1
"""Grids whose last row has fewer reachable cells than this are drawn again."""
MAX_DRAWS = 10_000


def encode(text: str) -> list[int]:
    """Characters to ids (specials are written out, e.g. "<eos>")."""
    ids, i = [], 0
    while i < len(text):
        special = next((s for s in SPECIALS if text.startswith(s, i)), None)
        token = special or text[i]
        if token not in _INDEX:
            raise ValueError(f"text holds {token!r} at {i}, which is not in the vocabulary {''.join(VOCAB[3:])}")
        ids.append(_INDEX[token])
        i += len(token)
    return ids


def decode(ids: list[int]) -> str:
    return "".join(VOCAB[i] for i in ids)


@dataclass(frozen=True)
class Example:
    prompt: str  # "<bos>row;row;...;="
    answer: str  # one "0"/"1" per cell of the last row

    @property
    def text(self) -> str:
        return self.prompt + self.answer + "<eos>"


def reachable(walls: list[list[bool]]) -> list[list[bool]]:
    """Cells reachable from (0, 0) by moves right and down through open cells."""
    rows, cols = len(walls), len(walls[0])
    reach = [[False] * cols for _ in range(rows)]
    for i in range(rows):
        for j in range(cols):
            if not walls[i][j]:
                reach[i][j] = (i == 0 and j == 0) or (i > 0 and reach[i - 1][j]) or (j > 0 and reach[i][j - 1])
    return reach


def example(rng: random.Random, size: int = SIZE, walls: tuple[float, float] = WALLS,
            min_reachable: int = MIN_REACHABLE) -> Example:
    """A size x size grid with a wall density drawn from `walls` (the corner is always open), drawn again until
    at least `min_reachable` cells of its last row are reachable."""
    if isinstance(size, bool) or not isinstance(size, int) or not 2 <= size <= 16:
        raise ValueError(f"size={size!r} must be an int in [2, 16]")
    if not 0.0 <= walls[0] <= walls[1] < 1.0:
        raise ValueError(f"walls={walls!r} must be a range (low, high) with 0 <= low <= high < 1")
    if isinstance(min_reachable, bool) or not isinstance(min_reachable, int) or not 0 <= min_reachable <= size:
        raise ValueError(f"min_reachable={min_reachable!r} must be an int in [0, size={size}]")
    for _ in range(MAX_DRAWS):
        density = rng.uniform(*walls)
        grid = [[rng.random() < density for _ in range(size)] for _ in range(size)]
        grid[0][0] = False
        last = reachable(grid)[-1]
        if sum(last) >= min_reachable:
            break
    else:
        raise ValueError(f"no grid in {MAX_DRAWS} draws with walls={walls!r} has min_reachable={min_reachable} "
                         "reachable cells in its last row; lower the walls or min_reachable")
    prompt = "<bos>" + "".join("".join("#" if w else "." for w in row) + ";" for row in grid) + "="
    answer = "".join("1" if r else "0" for r in last)
    return Example(prompt, answer)


def dataset(seed: int, n: int, **task: object) -> list[Example]:
    """`n` examples drawn from `seed` (`task`: the knobs of `example`, its defaults where not given)."""
    rng = random.Random(seed)
    return [example(rng, **task) for _ in range(n)]
