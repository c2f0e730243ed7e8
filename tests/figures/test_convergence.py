"""rdtheory.figures.convergence: the converged limit's error shrinks with eps inside the theorem and breaks
outside it; its figure and the limits' figure render."""

import pytest

from rdtheory.figures import convergence, limits


def test_convergence_error_shrinks_with_eps(contractive_ref):
    ref = contractive_ref
    assert ref.settled and ref.lam < 1 and ref.lam**ref.depth < 1e-14
    run = convergence.converged_limit(ref, (1e-2, 1e-5, 1e-8))
    errors = [p.max_error for p in run.points]
    assert all(p.tokens_equal and p.within_bound for p in run.points)
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-7 and errors[0] > 1e-6
    assert run.points[0].ticks < run.points[-1].ticks  # a smaller eps takes more ticks


def test_convergence_breaks_outside_the_theorem(contractive_ref):
    noisy = convergence.converged_limit(contractive_ref, (1e-8,), noise=convergence.Constant(0.3), max_depth=40)
    assert noisy.points[0].max_error > 1e-3  # noise that never vanishes leaves an error floor
    assert not noisy.points[0].within_bound
    wild = convergence.reference(convergence.contractive_model(0, state_gain=5.0), (1, 2, 3), 4, depth=40,
                                 measure=False)
    assert not wild.settled and wild.lam is None


def test_convergence_large_eps_commits_other_tokens():
    ref = convergence.reference(convergence.contractive_model(11), (1, 2, 3), 5, measure=False)
    run = convergence.converged_limit(ref, (3.0, 1e-3))
    assert [p.tokens_equal for p in run.points] == [False, True]
    with pytest.raises(ValueError, match=r"eps=0 must be > 0"):
        convergence.converged_limit(ref, (0,))


def _small_sweeps(ref):
    return {"contractive": [convergence.converged_limit(ref, (1e-2, 1e-6), "c")],
            "breaking": [convergence.converged_limit(ref, (1e-2,), "noise", noise=convergence.Constant(0.3),
                                                     max_depth=30)]}


def test_model_figures_render(contractive_ref, limit_checks, tmp_path, check_render):
    check_render(convergence.convergence_figure(_small_sweeps(contractive_ref)), "convergence", tmp_path)
    check_render(limits.limits_figure(limit_checks), "limits", tmp_path)
    with pytest.raises(ValueError, match=r"checks=\[\] must hold at least one LimitCheck"):
        limits.limits_figure([])
