"""rdtheory.figures.trained: the figures of the shipped trained model show what its evaluation says.

The live re-measurements agree with the committed evaluation (the model answers the held-out grids at r = 8, its
latents settle below the exit threshold); the schedules drawn are the ones the samplers ran; the trade-off data
holds the committed sweep. Kept small: one model load, a few examples, shallow depths.
"""

import subprocess
import sys

import pytest

from rdtheory.figures import trained, trained_plots
from rdtheory.figures.output import save
from rdtheory.paper import DF_DEFAULTS
from rdtheory.sampling.autoregressive import generate_ar
from rdtheory.theory import ar_schedule
from rdtheory.training.recipe import batch_tensors
from rdtheory.training.task import EOS, encode


@pytest.fixture(scope="module")
def model():
    return trained.load_model()


@pytest.fixture(scope="module")
def evaluation():
    return trained.load_evaluation()


@pytest.fixture(scope="module")
def runs(model):
    return trained.sampler_runs(model, example=0)


def _saves(fig, tmp_path, name):
    path = save(fig, name, tmp_path).path
    assert path.read_bytes().startswith(b"\x89PNG") and path.stat().st_size > 1000, path
    return path


# ------------------------------------------------------------------------------------------------ data


def test_sizes():
    assert trained.size(False) is trained.SMALL and trained.size(True) is trained.FULL
    assert max(trained.SMALL.depths) <= 8 and trained.SMALL.latent_depth <= 32
    assert set(trained.SMALL.depths) <= set(trained.FULL.depths)


def test_evaluation_has_what_the_figures_draw(evaluation):
    assert [row["depth"] for row in evaluation["depth_curve"]][:4] == [1, 2, 3, 4]
    assert len(evaluation["latent_convergence"]["median_relative_change"]) == 64
    assert evaluation["latent_convergence"]["threshold"] == DF_DEFAULTS.eps
    defaults = evaluation["paper_claim"]["df_paper_defaults"]
    assert {k: defaults[k] for k in trained.PAPER_DEFAULTS} == trained.PAPER_DEFAULTS


def test_held_out_are_the_evaluations_first_examples():
    from rdtheory.training.task import HELD_OUT_SEED, dataset

    assert trained.held_out(3) == dataset(HELD_OUT_SEED, 256)[:3]


def test_live_depth_curve_answers_the_subset_at_r16(model, evaluation, decision_margins, rounding_reach):
    """Every grid answered at r = 16, exactly: robust, because every greedy decision of the run has a logit margin
    (5.2 at the least) thousands of times the reach of float32 rounding (conftest.ROUNDING_REACH; 4e-4 here)."""
    curves = trained.depth_curves(model, evaluation, n_examples=8, depths=(16,))
    assert curves["committed"] == evaluation["depth_curve"]
    (row,) = curves["live"]
    assert row["depth"] == 16 and row["accuracy"] == 1.0 and row["cell_accuracy"] == 1.0
    assert row["teacher_forced_accuracy"] == 1.0
    examples = trained.held_out(8)
    run = generate_ar(model, [encode(ex.prompt) for ex in examples], len(examples[0].answer) + 1, depth=16,
                      stop_tokens=[EOS])
    reach = rounding_reach(model, batch_tensors(examples, "cpu")[0], 16)
    assert min(decision_margins(model, run)) > 100 * reach, (decision_margins(model, run), reach)
    committed = next(r for r in evaluation["depth_curve"] if r["depth"] == 16)
    assert row["core_passes_mean"] == committed["core_passes_mean"] == 16 * 13  # 12 answer cells and the end token


def test_live_latents_settle_below_the_threshold(model, evaluation):
    curves = trained.latent_curves(model, evaluation, n_examples=4, max_depth=16)
    live, committed = curves["live"], curves["committed"]
    assert committed == evaluation["latent_convergence"]
    assert len(live["median_relative_change"]) == len(live["p90_relative_change"]) == 16
    assert live["threshold"] == committed["threshold"] == DF_DEFAULTS.eps
    assert live["first_step_below_threshold"] is not None
    assert abs(live["first_step_below_threshold"] - committed["first_step_below_threshold"]) <= 2
    assert all(m <= p for m, p in zip(live["median_relative_change"], live["p90_relative_change"]))


def test_sampler_runs_answer_and_df_exits_early(model, runs, decision_margins, rounding_reach):
    df_name, ar_name = runs
    assert df_name.startswith("DF, r'=4") and ar_name == "AR, r=32"
    answer = trained.held_out(1)[0].answer
    assert trained.answers(runs) == {df_name: answer, ar_name: answer}
    # Exactly the answer on any CPU: every token was picked with a logit margin (7.3) far beyond the reach of float32
    # rounding at r = 32 (conftest.ROUNDING_REACH; 1e-4 here). DF's exit depths are checked below as ranges only.
    reach = rounding_reach(model, batch_tensors(trained.held_out(1), "cpu")[0], 32)
    for name, run in runs.items():
        assert min(decision_margins(model, run)) > 100 * reach, (name, decision_margins(model, run), reach)
    recurrences = trained.generated_recurrences(runs)
    prompt_len = runs[ar_name].trace.prompt_lengths[0]
    assert sorted(recurrences[ar_name]) == sorted(recurrences[df_name]) == list(range(prompt_len,
                                                                                      prompt_len + len(answer)))
    assert set(recurrences[ar_name].values()) == {32}
    assert all(1 <= n <= 32 for n in recurrences[df_name].values())
    assert sum(recurrences[df_name].values()) < sum(recurrences[ar_name].values())
    df, ar = (run.trace.to_schedule(0) for run in runs.values())
    assert df.n_passes < ar.n_passes == 32 * (len(answer) + 1)
    assert ar == ar_schedule(prompt_len, len(answer) + 1, 32)  # the AR run is the theory's static schedule
    for run in runs.values():  # the schedule drawn is the one the trace counted
        assert run.trace.to_schedule(0).depths() == run.trace.recurrences(0)


def test_cropped_keeps_passes_and_shifts_positions():
    schedule = ar_schedule(5, 3, 4)
    view = trained.cropped(schedule, 3)
    assert view.prompt_len == 2 and view.n_passes == schedule.n_passes and view.n_ticks == schedule.n_ticks
    assert view.depths() == {p - 3: n for p, n in schedule.depths().items() if p >= 3}
    assert view.commits() == tuple(c - 3 for c in schedule.commits())


def test_tradeoff_has_one_series_per_inner(evaluation):
    data = trained.tradeoff(evaluation)
    sweep = evaluation["sweep"]
    assert list(data["df"]) == sorted({row["inner"] for row in sweep})
    n_eps = len({row["eps"] for row in sweep})
    for inner, rows in data["df"].items():
        assert len(rows) == n_eps
        assert [r["eps"] for r in rows] == sorted((r["eps"] for r in rows), reverse=True)
        for r in rows:
            source = next(s for s in sweep if s["inner"] == inner and s["eps"] == r["eps"])
            assert (r["accuracy"], r["core_passes_mean"]) == (source["accuracy"], source["core_passes_mean"])
    assert [r["depth"] for r in data["ar"]] == [r["depth"] for r in evaluation["depth_curve"] if r["depth"] <= 32]
    claim = evaluation["paper_claim"]
    assert data["paper_defaults"]["accuracy"] == claim["df_paper_defaults"]["accuracy"]
    assert data["core_pass_ratio"] == claim["core_pass_ratio"]
    assert data["ar_r32"]["core_passes_mean"] == data["ar"][-1]["core_passes_mean"]


def test_data_functions_import_neither_matplotlib_nor_torch():
    code = (
        "import sys\n"
        "from rdtheory.figures import trained\n"
        "data = trained.tradeoff(trained.load_evaluation())\n"
        "assert data['df'], data\n"
        "assert 'matplotlib' not in sys.modules, 'a data function imported matplotlib'\n"
        "assert 'torch' not in sys.modules, 'the committed data imported torch'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


# ------------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize("call, match", [
    (lambda m, e: trained.depth_curves(m, e, n_examples=0), r"n_examples=0 must be an int >= 1"),
    (lambda m, e: trained.depth_curves(m, e, 4, depths=()), r"depths=\(\) must be a non-empty increasing"),
    (lambda m, e: trained.depth_curves(m, e, 4, depths=(4, 2)), r"depths=\(4, 2\) must be .*increasing"),
    (lambda m, e: trained.depth_curves(m, e, 4, depths=(0,)), r"depths=\(0,\) must be .*ints >= 1"),
    (lambda m, e: trained.latent_curves(m, e, 2, max_depth=0), r"max_depth=0 must be an int >= 1"),
    (lambda m, e: trained.latent_curves(m, e, n_examples=True), r"n_examples=True must be an int >= 1"),
    (lambda m, e: trained.sampler_runs(m, example=-1), r"example=-1 must be an int >= 0"),
    (lambda m, e: trained.sampler_runs(m, defaults={"inner": 4}), r"defaults=.* must set .* it lacks"),
    (lambda m, e: trained.tradeoff(e, max_ar_depth=0), r"max_ar_depth=0 must be an int >= 1"),
    (lambda m, e: trained.held_out(0), r"n=0 must be an int >= 1"),
    (lambda m, e: trained.model_folder("/nonexistent/folder"), r"name='/nonexistent/folder' must name"),
    (lambda m, e: trained.cropped(ar_schedule(3, 2, 2), 3), r"start=3 must be < prompt_len=3"),
    (lambda m, e: trained_plots.recurrences_figure({}), r"recurrences=\{\} must give at least one position"),
])
def test_bad_arguments_raise(model, evaluation, call, match):
    with pytest.raises(ValueError, match=match):
        call(model, evaluation)


def test_bad_row_and_context_raise(runs):
    with pytest.raises(ValueError, match=r"row=1 must lie in \[0, 0\]"):
        trained.generated_recurrences(runs, row=1)
    with pytest.raises(ValueError, match=r"context=0 must be an int >= 1"):
        trained_plots.sampler_schedules_figure(runs, context=0)


# ------------------------------------------------------------------------------------------------ figures


def test_figures_render(model, evaluation, runs, tmp_path):
    curves = {"committed": evaluation["depth_curve"], "live_examples": 2, "committed_examples": 256,
              "live": [r for r in evaluation["depth_curve"] if r["depth"] <= 8]}
    _saves(trained_plots.depth_curve_figure(curves), tmp_path, "depth")
    latents = {"committed": evaluation["latent_convergence"], "live_examples": 2,
               "live": evaluation["latent_convergence"]}
    _saves(trained_plots.latent_figure(latents), tmp_path, "latents")
    fig = trained_plots.sampler_schedules_figure(runs, context=2)
    prompt_len = runs["AR, r=32"].trace.prompt_lengths[0]
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert str(prompt_len - 2) in labels, labels  # absolute positions on the x axis
    _saves(fig, tmp_path, "schedules")
    answer = trained.held_out(1)[0].answer
    _saves(trained_plots.recurrences_figure(trained.generated_recurrences(runs), answer), tmp_path, "recurrences")
    _saves(trained_plots.tradeoff_figure(trained.tradeoff(evaluation)), tmp_path, "tradeoff")
