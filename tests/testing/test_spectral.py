"""Matrix-free spectral norms of Jacobian blocks, against maps whose blocks are known exactly."""

import pytest
import torch

from rdtheory.testing.spectral import Block, block_norms

S, H, D = 4, 5, 3


def linear_map(seed: int) -> tuple[torch.Tensor, callable]:
    """f(z)_i = sum_{j <= i} A[i, j] z_j: a causal linear map with blocks A[i, j] [D, H]."""
    a = torch.randn(S, S, D, H, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    a = a * torch.tril(torch.ones(S, S, dtype=torch.float64))[..., None, None]
    return a, lambda z: torch.einsum("ijdh,rjh->rid", a, z)


@pytest.mark.parametrize("seed", range(5))
def test_block_norms_equal_the_singular_values_of_known_blocks(seed):
    a, f = linear_map(seed)
    blocks = [Block((i,), i) for i in range(S)] + [Block(tuple(range(i)), i) for i in range(1, S)] + \
        [Block((0, 2), 3)]
    got = block_norms(f, torch.zeros(S, H, dtype=torch.float64), blocks)
    want = [torch.linalg.matrix_norm(a[i, i], 2) for i in range(S)]
    want += [torch.linalg.matrix_norm(torch.cat(list(a[i, :i]), dim=1), 2) for i in range(1, S)]
    want += [torch.linalg.matrix_norm(torch.cat([a[3, 0], a[3, 2]], dim=1), 2)]
    assert got.converged and got.iterations > 1
    assert got.norms == pytest.approx([w.item() for w in want], rel=1e-8)


def test_an_unconverged_estimate_says_so_and_stays_below_the_norm():
    a, f = linear_map(0)
    got = block_norms(f, torch.zeros(S, H, dtype=torch.float64), [Block((0, 1, 2), 3)], max_iterations=1)
    assert not got.converged and got.iterations == 1 and got.change > 1e-10
    assert got.norms[0] <= torch.linalg.matrix_norm(torch.cat(list(a[3, :3]), dim=1), 2).item() * (1 + 1e-12)


def test_a_block_outside_the_sequence_is_refused():
    _, f = linear_map(0)
    with pytest.raises(ValueError, match=r"block Block\(inputs=\(4,\), output=0\) must name input and output "
                                         r"positions in \[0, 4\)"):
        block_norms(f, torch.zeros(S, H, dtype=torch.float64), [Block((4,), 0)])
