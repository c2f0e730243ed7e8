"""rdtheory.figures: the data behind every figure against the theory and the cost model, and every plot renders.

Data functions are checked against independent statements (the paper's numbers, closed forms of the theory, the
schedules the samplers actually ran); plotting functions must return a Figure with axes whose PNG is not empty.
"""

import json
import math
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from rdtheory.config import HUGINN_0125, TINY
from rdtheory.costs.hardware import load_hardware
from rdtheory.costs.memory import kv_bytes_per_token, kv_cache_bytes, wavefront_state_bytes, weights_bytes
from rdtheory.costs.table1 import TABLE1_TOKENS_PER_S
from rdtheory.figures import (
    convergence,
    costs,
    counters,
    limits,
    memory,
    noise,
    output,
    predictions,
    prefill,
    schedules,
    speedup,
    tables,
    wavefront,
)
from rdtheory.figures.paper_tables import TABLE1, TABLE2
from rdtheory.model.cache import PerStep, ShareLast
from rdtheory.testing.models import random_model
from rdtheory.theory import (
    Scaling,
    TimeModel,
    ar_schedule,
    attention_pairs,
    df_schedule,
    lognormal_tail,
    pass_counters,
    width_per_time_ratio,
)

# ------------------------------------------------------------------------------------------------ output


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


# ------------------------------------------------------------------------------------------------ schedules


def test_ar_grid_fills_each_column_in_order():
    depth, prompt, n_new = 5, 3, 4
    grid = schedules.schedule_grid(ar_schedule(prompt, n_new, depth))
    assert grid.shape == (prompt + n_new - 1, depth) and not np.isnan(grid).any()
    assert (grid[:prompt] == np.arange(1, depth + 1)).all()  # the prompt: one prefill, all positions in parallel
    for p in range(prompt, grid.shape[0]):  # then one column at a time, bottom to top
        assert (grid[p] == grid[p - 1, -1] + np.arange(1, depth + 1)).all()
    ticks = schedules.schedule_grid(ar_schedule(prompt, n_new, depth), clock="tick")
    assert (ticks[:prompt] == 0).all() and (ticks[prompt:] == np.arange(1, n_new)[:, None]).all()


def test_df_grid_is_a_diagonal_wave_and_equals_ar_at_r_prime_r():
    depth, inner = 8, 2
    grid = schedules.schedule_grid(df_schedule(2, 6, inner, depth))
    new = grid[2:]
    assert (np.diff(new, axis=0) == inner).all()  # the next position runs r' passes behind, at every step
    assert np.nanmax(grid) < np.nanmax(schedules.schedule_grid(ar_schedule(2, 6, depth)))
    limit = schedules.schedule_grid(df_schedule(2, 6, depth, depth))
    assert np.array_equal(limit, schedules.schedule_grid(ar_schedule(2, 6, depth)))


def test_grid_matches_the_schedule_timeline():
    s = df_schedule(3, 7, 3, 7, headway=2, cap=3)
    grid = schedules.schedule_grid(s)
    assert np.count_nonzero(~np.isnan(grid)) == len(s.cells())
    assert all(grid[c.pos, c.step - 1] == g for c, (_, g) in s.timeline().items())


def test_paper_schedules_and_errors():
    named = schedules.paper_schedules(depth=4, inner=2, headway=2, cap=3, prompt_len=2, n_new=5)
    assert list(named.values()) == [ar_schedule(2, 5, 4), df_schedule(2, 5, 2, 4, 2, 3)]
    with pytest.raises(ValueError, match=r"clock='wall' must be one of"):
        schedules.schedule_grid(ar_schedule(1, 2, 2), clock="wall")
    with pytest.raises(ValueError, match=r"n_new=0 must be >= 1"):
        schedules.paper_schedules(n_new=0)
    with pytest.raises(ValueError, match=r"schedules=\{\} must name at least one"):
        schedules.schedules_figure({})


# ------------------------------------------------------------------------------------------------ wavefront


@pytest.fixture(scope="module")
def runs():
    return wavefront.wave_runs(prompt_len=4, n_new=32, inner=4, depth=32, cap=8, seed=0)


def test_wave_history_follows_the_schedule(runs):
    for name, s in runs.schedules.items():
        h = wavefront.wave_history(s)
        assert max(h.widths) <= runs.cap, name
        assert h.committed[-1] == 32 - 1, name  # the prefill commits the first token
        assert all(w == runs.cap for w, st in zip(h.widths, h.standing) if st), name
        for before, after in zip(h.counts[:-1], h.counts[1:]):  # a position present in two ticks gains r'
            both = ~np.isnan(before) & ~np.isnan(after)
            assert (after[both] - before[both] == 4).all(), name


def test_standing_waves_and_early_commits(runs):
    fixed, contiguous, rightmost = runs.schedules.values()
    assert not any(wavefront.wave_history(fixed).standing)  # cap 8 = ceil(32/4): the fixed wave never stands
    assert sum(wavefront.wave_history(contiguous).standing) > 0  # a hard position holds the wave at its cap
    assert wavefront.early_commits(contiguous, runs.needed["adaptive, contiguous prefix (Eq. 3)"]) == 0
    assert wavefront.early_commits(rightmost, runs.needed["adaptive, rightmost (Algorithm 2)"]) > 0
    assert wavefront.early_commits(fixed, runs.needed["fixed rule, exit at r=32"]) == 0


def test_synthetic_exit_depths():
    a = wavefront.synthetic_exit_depths(5, 400, seed=1, typical=(2, 4), hard_share=0.25, hard=(10, 12))
    assert a == wavefront.synthetic_exit_depths(5, 400, seed=1, typical=(2, 4), hard_share=0.25, hard=(10, 12))
    assert sorted(a) == list(range(5, 405)) and set(a.values()) <= {2, 3, 4, 10, 11, 12}
    assert 0.15 < sum(v >= 10 for v in a.values()) / 400 < 0.35
    with pytest.raises(ValueError, match=r"hard_share=2 must lie in \[0, 1\]"):
        wavefront.synthetic_exit_depths(0, 3, hard_share=2)
    with pytest.raises(ValueError, match=r"count=-1 must be >= 0"):
        wavefront.synthetic_exit_depths(0, -1)
    with pytest.raises(ValueError, match=r"typical=\(5, 2\) must satisfy"):
        wavefront.synthetic_exit_depths(0, 3, typical=(5, 2))


# ------------------------------------------------------------------------------------------------ counters


def test_counter_comparison_matches_the_theory():
    c = counters.counter_comparison(depth=8, inner=2, n_new=8, prompt_len=4, cap=128, l_star=64)
    assert c.ar_counters == pass_counters(ar_schedule(4, 8, 8))
    assert c.df_counters == pass_counters(df_schedule(4, 8, 2, 8))
    assert c.ar_counters.updates_hold() and c.df_counters.updates_hold()
    assert c.df_counters.steps < c.ar_counters.steps and c.df_counters.work >= c.ar_counters.work
    assert c.theorem_holds and not c.premises
    assert c.decoding.equal_depth and c.decoding.work_at_least and not c.decoding.width_strictly_greater
    narrow = counters.counter_comparison(depth=8, inner=2, l_star=1)
    assert any("wider than l_star=1" in p for p in narrow.premises)


def test_claims_grid():
    g = counters.claims_grid(depths=(1, 2, 3, 4, 6), inners=(1, 2, 3, 4, 5))
    assert g.theorem.all() and not g.literal_strict_width.any()
    expected = np.array([[d % i == 0 for i in g.inners] for d in g.depths])
    assert np.array_equal(g.tokens_never_behind, expected)  # the token lead holds iff r' divides r
    with pytest.raises(ValueError, match=r"depths=\(\) must hold at least one r"):
        counters.claims_grid(depths=())


# ------------------------------------------------------------------------------------------------ costs


def test_pass_time_curve_on_the_calibration_device():
    c = costs.pass_time_curve()
    assert c.hardware == "H100 SXM" and len(c.measured_widths) >= 8
    model, roof = dict(zip(c.widths, c.calibrated_s)), dict(zip(c.widths, c.roofline_s))
    for w, t in zip(c.measured_widths, c.measured_s):
        assert roof[w] <= t if w in roof else True  # the datasheet roofline is a lower bound
        if w in model:
            assert abs(model[w] / t - 1) < 0.1, w
    assert 16 < c.l_star.measured < 1024 and c.l_star.calibrated < c.l_star.roofline
    off = costs.pass_time_curve(hardware="A100 40GB SXM")
    assert off.measured_widths == () and off.l_star.measured is None
    with pytest.raises(ValueError, match=r"context=0 must be >= 1"):
        costs.pass_time_curve(context=0)


def test_throughput_grid():
    g = costs.throughput_grid(caps=(1, 2, 4, 8, 16))
    assert g.inners == (1, 2, 4, 8, 16, 32)
    assert np.allclose(g.tokens_per_s[:, -1], g.ar.tokens_per_s)  # r' = r is AR
    for j, inner in enumerate(g.inners):
        full = [i for i, cap in enumerate(g.caps) if cap >= math.ceil(32 / inner)]
        if full:  # caps from K = ceil(r/r') on never fill: they price the same
            assert np.allclose(g.tokens_per_s[full, j], g.tokens_per_s[full[0], j])
        assert (np.diff(g.tokens_per_s[:, j]) >= -1e-9).all()  # a larger cap never slows the wave
    assert (g.low <= g.tokens_per_s).all() and (g.tokens_per_s <= g.high).all()
    # the calibration is of the compiled blocks: it prices their measured DF rate
    compiled_df = next(m for m in g.measured if m.kind == "compiled" and m.case == predictions.DF_CASE)
    assert abs(g.tokens_per_s[g.caps.index(8), g.inners.index(4)] / compiled_df.tokens_per_s - 1) < 0.1
    with pytest.raises(ValueError, match=r"caps=\(\) must hold at least one wavefront cap"):
        costs.throughput_grid(caps=())


def test_speedup_curves_reproduce_remark_3_2():
    c = speedup.speedup_curves()
    assert c.inners == (1, 2, 4, 8, 16, 32)
    assert [round(v, 3) for v in c.paper_flop_ratio] == [1.939, 1.455, 1.212, 1.091, 1.030, 1.0]
    assert [round(v, 2) for v in c.ideal] == [16.5, 11.0, 6.6, 3.67, 1.94, 1.0]
    assert c.flop_ratio == c.paper_flop_ratio  # r' divides r: the exact ratio is the paper's
    assert all(f <= i for f, i in zip(c.finite, c.ideal)) and c.calibrated[-1] == pytest.approx(1.0)
    assert all(cal <= roof * 1.0001 for cal, roof in zip(c.calibrated, c.roofline))
    table = {label.split(" (")[0]: ratio for label, inner, ratio in c.measured if inner == 4}
    assert [round(table[f"Table 1 {t}"], 2) for t in ("GSM8K", "MATH500", "HumanEval", "MBPP")] == [
        4.36, 4.73, 4.81, 4.59]  # the paper's "Relative diff to AR (r=32)" row
    h100 = [ratio for label, _, ratio in c.measured if label.startswith("H100")]
    assert len(h100) == 2 and all(3 < r < c.ideal[2] for r in h100)
    with pytest.raises(ValueError, match=r"inner=64 must be an int in \[1, r=32\]"):
        speedup.speedup_curves(inners=(64,))


def test_hardware_predictions_follow_bandwidth():
    preds = {p.hardware: p for p in predictions.hardware_predictions()}
    assert set(preds) == set(load_hardware()) and all(p.error is None for p in preds.values())
    by_bandwidth = sorted(preds, key=lambda n: load_hardware()[n].bandwidth_bytes_per_s)
    assert by_bandwidth == sorted(preds, key=lambda n: preds[n].ar.tokens_per_s)  # AR at batch 1 is memory-bound
    assert all(p.speedup > 3 for p in preds.values())
    assert predictions.workload() == (64, 48)
    with pytest.raises(ValueError, match=r"kind='fp8' must be one of"):
        predictions.measured_rate("fp8", predictions.AR_CASE)


# ------------------------------------------------------------------------------------------------ prefill


@pytest.mark.parametrize("length,copies", [(1, 1), (3, 2), (4, 3)])
def test_masks_count_the_attention_pairs(length, copies):
    depth = prefill.mask_matrix(Scaling.DEPTH, length, copies)
    share = prefill.mask_matrix(Scaling.WIDTH_KV_SHARE, length, copies)
    no_share = prefill.mask_matrix(Scaling.WIDTH_NO_SHARE, length, copies)
    assert depth.sum() * copies == attention_pairs(Scaling.DEPTH, length, copies)
    assert share.sum() == attention_pairs(Scaling.WIDTH_KV_SHARE, length, copies)
    assert no_share.sum() == attention_pairs(Scaling.WIDTH_NO_SHARE, length, copies)
    assert not (share & ~no_share).any()  # KVShare attends to a subset of NoShare's keys
    assert not np.triu(no_share, 1).any() and np.diag(no_share).all()  # causal in the flattened order


def test_prefill_curves():
    c = prefill.prefill_curves(lengths=(1, 2, 16, 1024, 65536), copies=4, ratio_copies=(2, 4))
    d, kv, no = (np.array(c.costs[s]) for s in Scaling)
    assert (d <= kv).all() and (kv[1:] < no[1:]).all() and kv[0] == no[0]  # equal at L = 1
    assert 2 < no[-1] / d[-1] < 4  # attention dominates long prompts: NoShare tends to s times depth
    model = TimeModel(c.l_star)
    for s, values in c.ratios.items():
        assert values == tuple(float(width_per_time_ratio(n, s, model)) for n in c.lengths)
        assert values[0] == s * s and values[-1] == s
    with pytest.raises(ValueError, match=r"lengths=\(\) must hold at least one prompt length"):
        prefill.prefill_curves(lengths=())


def test_probability_curves():
    c = prefill.probability_curves(((256.0, 1.0), (1024.0, 0.5)))
    assert set(c.l_stars) == set(load_hardware())
    for (median, sigma), tail in c.tails.items():
        assert all(a >= b for a, b in zip(tail, tail[1:]))
        assert lognormal_tail(median, math.log(median), sigma) == pytest.approx(0.5)
        for name, p in c.at_l_star[(median, sigma)].items():
            assert p == lognormal_tail(c.l_stars[name], math.log(median), sigma)
    assert all(c.at_l_star[(1024.0, 0.5)][n] > c.at_l_star[(256.0, 1.0)][n] for n in c.l_stars)
    with pytest.raises(ValueError, match=r"median=0.0 must be > 0"):
        prefill.probability_curves(((0.0, 1.0),))


# ------------------------------------------------------------------------------------------------ noise


def test_noise_curves():
    c = noise.noise_curves(beta0=0.5, depth=32, inner=4, ticks=12)
    constant, dampened, linear = c.betas.values()
    assert set(constant) == {0.5} and dampened == tuple(0.5 / (1 + n) for n in c.counts)
    assert linear[0] == 0.5 and all(b == 0 for n, b in zip(c.counts, linear) if n >= 32)
    for name in c.betas:
        assert c.variances[(name, True)] == pytest.approx([1.0] * 12)  # variance preserving
    # plain mixing with constant beta: v -> beta / (2 - beta) sigma², 1/3 at beta = 1/2
    assert c.variances[(next(iter(c.betas)), False)][-1] == pytest.approx(1 / 3, rel=1e-6)
    with pytest.raises(ValueError, match=r"ticks=0 must be >= 1"):
        noise.noise_curves(ticks=0)


def test_ema_curves():
    c = noise.ema_curves(etas=(0.1, 0.5, 0.8), lags=30)
    for eta in (0.1, 0.5, 0.8):
        assert np.cumsum(c.impulse[eta]) == pytest.approx(c.step[eta])  # a step is the sum of impulses
        assert c.new_position[(eta, True)] == pytest.approx(c.step[eta])  # shrinkage: a start from e = 0
        assert c.new_position[(eta, False)] == pytest.approx([1.0] * 30)
    assert c.step[0.8][5] < c.step[0.1][5]
    with pytest.raises(ValueError, match=r"eta=1.0 must lie in \[0, 1\)"):
        noise.ema_curves(etas=(1.0,))


# ------------------------------------------------------------------------------------------------ memory


def test_memory_curves_equal_the_cost_model():
    c = memory.memory_curves(depth=32, batch=2, positions=(16, 1024), wavefronts=(8, 128))
    assert c.share_last == tuple(kv_cache_bytes(HUGINN_0125, ShareLast(), 2, n, 32, "bfloat16") for n in (16, 1024))
    assert c.per_step == tuple(kv_cache_bytes(HUGINN_0125, PerStep(), 2, n, 32, "bfloat16") for n in (16, 1024))
    assert c.states == {w: wavefront_state_bytes(HUGINN_0125, 2, w, "bfloat16", vectors=4) for w in (8, 128)}
    # the numbers themselves: 8 shared slots, 132 unshared at r = 32, 2h bf16 bytes each; 7.13 GB of weights
    assert kv_bytes_per_token(HUGINN_0125, ShareLast(), 32, "bfloat16") == 168_960
    assert c.share_last[1] == 2 * 1024 * 168_960 and c.per_step[1] == 2 * 1024 * 2_787_840
    assert c.states[128] == 4 * 2 * 128 * 5280 * 2 and c.weights == weights_bytes(HUGINN_0125, "bfloat16")
    assert c.weights == 7_129_953_600
    steps = np.diff(c.per_step_by_depth) / np.diff(c.depths)
    assert np.allclose(steps, steps[0])  # unshared memory grows linearly in r
    assert c.per_step_by_depth[0] == c.share_last[-1]  # at r = 1 sharing changes nothing
    with pytest.raises(ValueError, match=r"positions=\(\) must hold at least one"):
        memory.memory_curves(positions=())


# ------------------------------------------------------------------------------------------------ convergence


@pytest.fixture(scope="module")
def contractive_ref():
    return convergence.reference(convergence.contractive_model(0), (1, 2, 3), 4)


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


# ------------------------------------------------------------------------------------------------ limits


@pytest.fixture(scope="module")
def limit_checks():
    return limits.limit_checks(quick=True, n_new=5)


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


# ------------------------------------------------------------------------------------------------ tables


def test_paper_tables_agree_with_the_cost_module():
    rows = {r.knobs: r.tokens_per_s for r in TABLE1 if r.knobs is not None}
    assert rows == dict(TABLE1_TOKENS_PER_S)
    assert all(len(r.accuracy) == len(r.tokens_per_s) == 4 for r in TABLE1)
    assert TABLE2["Huginn-0125"][0].tokens_per_s[0] == TABLE1[0].tokens_per_s[0]


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
    cells = json.loads((Path(__file__).parents[1] / "notebooks" / f"{name}.ipynb").read_text())["cells"]
    text = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert "speedup" in text or "tokens/s" in text.lower()  # the text does talk about them
    assert re.findall(r"\d+(?:\.\d+)?\s*(?:×|x\b|tok(?:ens)?/s)", text) == []


# ------------------------------------------------------------------------------------------------ rendering


def _small_sweeps(ref):
    return {"contractive": [convergence.converged_limit(ref, (1e-2, 1e-6), "c")],
            "breaking": [convergence.converged_limit(ref, (1e-2,), "noise", noise=convergence.Constant(0.3),
                                                     max_depth=30)]}


RENDERERS = {
    "schedule_diagram": lambda: schedules.schedule_diagram(depth=4, inner=2, n_new=4),
    "wavefront": lambda: wavefront.wavefront_figure(wavefront.wave_runs(n_new=8, depth=8, inner=2, cap=3)),
    "counters": lambda: counters.counters_figure(counters.counter_comparison()),
    "claims": lambda: counters.claims_figure(counters.claims_grid(depths=(1, 2, 4), inners=(1, 2))),
    "pass_time": lambda: costs.pass_time_figure([costs.pass_time_curve()]),
    "throughput": lambda: costs.throughput_figure(costs.throughput_grid(caps=(1, 8))),
    "speedup": lambda: speedup.speedup_figure(speedup.speedup_curves()),
    "predictions": lambda: predictions.predictions_figure(
        predictions.hardware_predictions(), [predictions.measured_rate("eager", predictions.AR_CASE)]),
    "masks": lambda: prefill.masks_figure(3, 2),
    "prefill": lambda: prefill.prefill_figure(prefill.prefill_curves(lengths=(1, 64, 4096))),
    "probability": lambda: prefill.probability_figure(prefill.probability_curves()),
    "noise": lambda: noise.noise_figure(noise.noise_curves()),
    "ema": lambda: noise.ema_figure(noise.ema_curves()),
    "memory": lambda: memory.memory_figure(memory.memory_curves()),
    "table1": lambda: tables.table1_figure(tables.explain_rows()),
    "table2": lambda: tables.table2_figure(),
}


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_figures_render(name, tmp_path):
    _check_render(RENDERERS[name](), name, tmp_path)


def test_model_figures_render(contractive_ref, limit_checks, tmp_path):
    _check_render(convergence.convergence_figure(_small_sweeps(contractive_ref)), "convergence", tmp_path)
    _check_render(limits.limits_figure(limit_checks), "limits", tmp_path)
    with pytest.raises(ValueError, match=r"checks=\[\] must hold at least one LimitCheck"):
        limits.limits_figure([])


def _check_render(fig, name, folder):
    from matplotlib.figure import Figure

    assert isinstance(fig, Figure) and fig.axes, name
    assert any(ax.has_data() or ax.tables or ax.images for ax in fig.axes), name
    saved = output.save(fig, name, folder)
    assert saved.path.stat().st_size > 1000, name


def test_fractions_are_exact_where_the_theory_is():
    # Remark 3.2 at r = 32, r' = 4 in exact arithmetic, as the figures plot it (floats of Fractions)
    c = speedup.speedup_curves(inners=(4,))
    assert c.paper_flop_ratio[0] == float(Fraction(32 + 8, 33)) and c.ideal[0] == float(Fraction(33, 5))
