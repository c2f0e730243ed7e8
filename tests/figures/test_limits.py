"""rdtheory.figures.limits: the exact AR limits hold and are not vacuous; the samplers ran the theory's schedules."""

import torch

from rdtheory.config import TINY
from rdtheory.figures import limits
from rdtheory.testing.models import random_model
from rdtheory.theory import ar_schedule, df_schedule


def test_limit_checks_hold_and_are_not_vacuous(limit_checks):
    assert len(limit_checks) == 2
    for c in limit_checks:
        assert c.passed and c.nontrivial and c.latent_difference <= limits.LATENT_RTOL, c


def test_sampler_schedules_equal_the_theory():
    torch.manual_seed(0)
    named = limits.sampler_schedules(random_model(TINY, 0), [1, 2, 3], n_new=5, depth=6, inner=2, eps=0.3)
    ar, fixed, latent = named.values()
    assert ar == ar_schedule(3, 5, 6) and fixed == df_schedule(3, 5, 2, 6)
    assert latent.depths() != fixed.depths()  # the latent-difference exit moved some exits
