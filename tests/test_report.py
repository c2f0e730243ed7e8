"""`rdtheory report`: the checks pass and the folder holds the tables and figures; a failing check fails the
command; an interrupted run leaves a report.md that says so; the help and the argument errors."""

import io
import json
import re
import signal
import subprocess
import sys
import threading
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from types import SimpleNamespace

import pytest

import rdtheory.report as report
from rdtheory import TINY
from rdtheory.cli import main
from rdtheory.costs import load_calibration
from rdtheory.figures import limits, predictions
from rdtheory.report.sections import validation_note

pytestmark = pytest.mark.xdist_group("report")  # one worker: the runs share state and CPU

CACHED = ("exact_limit_checks", "boundary_checks", "converged_checks", "model_section")
ROOT = Path(__file__).resolve().parents[1]
EARLIER = "# rdtheory report\n\n**All 20 checks pass.**\n"
HEADLINE = {"headline": {"exact_match": {"ar": 0.984, "df": 0.969}, "speedup": 2.77}, "rows": [1, 2]}


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """One `rdtheory report --quick` run, with an evaluation file in the model folder; the results of its stages
    are kept for the failure test."""
    out, model_folder = tmp_path_factory.mktemp("report"), tmp_path_factory.mktemp("model")
    (model_folder / "evaluation.json").write_text(json.dumps(HEADLINE))
    results: dict[str, object] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(report.sections, "bundled_path", lambda name: model_folder)
        for name in CACHED:
            mp.setattr(report, name, lambda *a, _f=getattr(report, name), _n=name: results.setdefault(_n, _f(*a)))
        stdout, stderr = io.StringIO(), io.StringIO()
        with redirect_stdout(stdout), redirect_stderr(stderr):
            rc = main(["report", "--out", str(out), "--quick"])
    return SimpleNamespace(rc=rc, out=out, stdout=stdout.getvalue(), stderr=stderr.getvalue(), results=results,
                           md=(out / "report.md").read_text())


def test_report_passes_every_check_and_says_what_it_compared(quick):
    assert quick.rc == 0, quick.stdout
    lines = [line for line in quick.stdout.splitlines() if line.startswith(("PASS", "FAIL"))]
    families = {"exact AR limit", "limit boundary", "converged limit", "schedule"}
    assert lines and all(line.startswith("PASS") for line in lines), quick.stdout
    assert {f for f in families if any(f"  {f}: " in line for line in lines)} == families
    assert f"all {len(lines)} checks passed" in quick.stdout
    rows = re.findall(r"^\| (PASS|\*\*FAIL\*\*) \| ([^|]+) \|", quick.md, re.M)
    assert len(rows) == len(lines) and {r[0] for r in rows} == {"PASS"}
    assert f"**All {len(lines)} checks pass.**" in quick.md
    assert "tokens equal" in quick.md and "committed_error_bound" in quick.md
    # the quick run's contractive case is one where depth changes the tokens, so its token check could fail
    assert "AR at r=1 gives other tokens, so the token check is informative" in quick.stdout


def test_report_predicts_ar_and_df_with_bands(quick):
    number, band = r"(\d+\.\d)", r"(\d+\.\d) \.\. (\d+\.\d)"
    row = re.search(rf"^\| H100 SXM \| {number} \| {band} \| {number} \| {band} \| (\d+\.\d+)x \|$", quick.md, re.M)
    assert row, quick.md
    ar, ar_low, ar_high, df, df_low, df_high = map(float, row.groups()[:6])
    assert ar_low <= ar <= ar_high < df_low <= df <= df_high
    assert "| AR r=32 tokens/s |" in quick.md and "| DF fixed r'=4 tokens/s |" in quick.md
    assert len(re.findall(r"^\| (H100|H200|A100|L40S|MI300X)", quick.md, re.M)) >= 5
    assert "not fitted on: 5 of 5 cases within the band" in quick.md


def test_the_cases_shown_with_a_held_out_band_were_held_out_of_the_fit():
    """The report prices the batch-1 AR and DF cases with the band of held-out errors: neither was fitted on."""
    cal = load_calibration()
    cases = cal.residuals["end_to_end"]["cases"]
    assert cases[predictions.AR_CASE]["held_out"] and cases[predictions.DF_CASE]["held_out"]
    note = validation_note(cal)
    assert "(h100_generation_compiled_profiled.json, commit 2154c51), not fitted on: 5 of 5 cases within" in note
    assert validation_note(type(cal).from_json(cal.to_json() | {"provenance": {}})) == ""


def test_report_shows_the_shipped_model_and_quotes_its_evaluation(quick):
    assert "## 4. The shipped model `rdtheory/looped-tiny`" in quick.md
    curve = re.search(r"^\| accuracy \| (.+) \|$", quick.md, re.M)
    assert curve and len(curve.group(1).split(" | ")) == len(report.DEPTHS)
    ar_row = rf"^\| AR r={report.PAPER_DEPTH} \| `[01]{{12}}<eos>` \| \d+ \| \d+ \| (yes|no) \|$"
    assert re.search(ar_row, quick.md, re.M)
    passes = re.search(r"^\| DF \(paper defaults\) \| `[01]{12}<eos>` \| (\d+) \|", quick.md, re.M)
    assert passes and int(passes.group(1)) < quick.results["model_section"].ar.trace.core_passes
    assert "| exact_match.ar | 0.984 |" in quick.md and "| speedup | 2.77 |" in quick.md


def test_report_writes_the_figures_it_links(quick):
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", quick.md)
    names = {"schedules.png", "sampler_schedules.png", "convergence.png", "predictions.png", "depth_curve.png"}
    assert set(links) == names
    for name in names:
        assert (quick.out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_progress_goes_to_stderr(quick):
    steps = [line for line in quick.stderr.splitlines() if line.startswith("[")]
    assert len(steps) == len(report.STEPS)
    assert steps[-1] == f"[##########] {len(report.STEPS)}/{len(report.STEPS)} writing report.md"
    assert not any(line.startswith("[") for line in quick.stdout.splitlines())


def test_a_failing_check_makes_the_exit_status_nonzero(quick, tmp_path, monkeypatch, capsys):
    """A DF sampler that changes one committed token breaks the exact limits; the report says so and exits 1."""
    real = limits.generate_df

    def broken(*args, **kwargs):
        run = real(*args, **kwargs)
        run.tokens[0][-1] = (run.tokens[0][-1] + 1) % TINY.vocab_size
        return run

    monkeypatch.setattr(limits, "generate_df", broken)
    for name in CACHED[1:]:
        monkeypatch.setattr(report, name, lambda *a, _v=quick.results[name]: _v)
    assert main(["report", "--out", str(tmp_path), "--quick"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  exact AR limit: DF r'=r FixedDepth(r) = static AR" in out and "tokens DIFFER" in out
    assert re.search(r"\d+ of \d+ checks FAILED", out)
    md = (tmp_path / "report.md").read_text()
    assert "| **FAIL** | exact AR limit |" in md and re.search(r"\*\*\d+ of \d+ checks FAIL\.\*\*", md)


def earlier_report(folder: Path) -> None:
    """A folder as an earlier, complete run left it."""
    (folder / "report.md").write_text(EARLIER)
    (folder / "convergence.png").write_bytes(b"an earlier run's figure")


def assert_incomplete(folder: Path, step: str) -> None:
    """The earlier verdict is gone, report.md says where the run stopped, the earlier figure is untouched and no
    staging folder is left."""
    first = (folder / "report.md").read_text().splitlines()[0]
    assert re.fullmatch(rf"# INCOMPLETE: the run was interrupted during step {step}.*; no check verdict is "
                        "claimed.", first), first
    assert "checks pass" not in (folder / "report.md").read_text()
    assert (folder / "convergence.png").read_bytes() == b"an earlier run's figure"
    assert sorted(p.name for p in folder.iterdir()) == ["convergence.png", "report.md"]


@pytest.mark.parametrize("stop", [KeyboardInterrupt, RuntimeError])
def test_a_stopped_run_leaves_a_report_that_says_so(stop, quick, tmp_path, monkeypatch, capsys):
    """Stopped while drawing schedules, after the convergence figure was drawn: the earlier run's figure stays,
    its report.md does not. Ctrl-C is one line and exit status 130; another exception goes on."""
    earlier_report(tmp_path)
    for name in CACHED[:3]:
        monkeypatch.setattr(report, name, lambda *a, _v=quick.results[name]: _v)

    def stopped(folder: Path) -> None:
        assert folder.parent == tmp_path and (folder / "convergence.png").exists(), "figures are staged first"
        raise stop("stopped")

    monkeypatch.setattr(report, "schedule_checks_and_figures", stopped)
    argv = ["report", "--out", str(tmp_path), "--quick"]
    if stop is KeyboardInterrupt:
        assert main(argv) == 130
        assert capsys.readouterr().err.splitlines()[-1] == "rdtheory report: interrupted"
    else:
        with pytest.raises(RuntimeError, match="stopped"):
            main(argv)
    assert_incomplete(tmp_path, f'4 of 7 "drawing schedules" \\({stop.__name__}\\)')


def test_ctrl_c_during_a_run_leaves_a_report_that_says_so(tmp_path):
    """The real signal, once the first progress line shows the run has started."""
    earlier_report(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "rdtheory.cli", "report", "--quick", "--out", str(tmp_path)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(60, proc.kill)  # a run that never shows progress must not hang the suite
    watchdog.start()
    try:
        first = proc.stderr.readline()
        assert first.startswith("[") and "1/7 checking exact AR limits" in first, first
        proc.send_signal(signal.SIGINT)
        rest = proc.stderr.read()
        assert proc.wait() == 130, rest
    finally:
        watchdog.cancel()
    assert rest.splitlines()[-1] == "rdtheory report: interrupted" and "Traceback" not in rest, rest
    assert_incomplete(tmp_path, r"\d of 7 ")


def test_report_help_is_fast_and_imports_no_torch():
    code = ("import sys\nfrom rdtheory.cli import main\ntry:\n    main(['report', '--help'])\n"
            "except SystemExit as e:\n    print('exit', e.code, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "usage: rdtheory report" in done.stdout and "--out" in done.stdout and "--quick" in done.stdout
    assert done.stdout.strip().endswith("exit 0 False"), done.stdout + done.stderr


def test_out_must_be_a_folder(tmp_path, capsys):
    file = tmp_path / "taken.txt"
    file.write_text("")
    assert main(["report", "--out", str(file)]) == 2
    assert capsys.readouterr().err == f"rdtheory report: error: --out={str(file)!r} is a file; it must be a folder " \
        "(created if missing)\n"
    with pytest.raises(ValueError, match=r"out='.*taken.txt' is a file; it must be a folder"):
        report.run(file)


def test_progress_bar_text():
    stream = io.StringIO()
    bar = report.Progress(10, stream)
    for label in ("one", "two", "three", "four", "checking AR limits"):
        bar.step(label)
    bar.close()
    assert stream.getvalue().splitlines()[-1] == "[#####.....] 5/10 checking AR limits"


def test_evaluation_headline(tmp_path: Path):
    assert report.evaluation_headline(tmp_path / "missing.json") is None
    (tmp_path / "bad.json").write_text("{not json")
    assert report.evaluation_headline(tmp_path / "bad.json") is None
    (tmp_path / "e.json").write_text(json.dumps(HEADLINE))
    assert report.evaluation_headline(tmp_path / "e.json") == [("exact_match.ar", "0.984"), ("exact_match.df", "0.969"),
                                                              ("speedup", "2.77")]
    (tmp_path / "flat.json").write_text(json.dumps({"accuracy": 1.0, "depth": {"r": 4}, "log": [1]}))
    assert report.evaluation_headline(tmp_path / "flat.json") == [("accuracy", "1"), ("depth.r", "4")]
    claim = {"held_out": {"seed": 10_007, "examples": 256}, "depth_curve": [{"depth": 1}], "environment": {"os": "x"},
             "paper_claim": {"ar_r32": {"accuracy": 0.98}, "core_pass_ratio": 2.5}}
    (tmp_path / "claim.json").write_text(json.dumps(claim))
    assert report.evaluation_headline(tmp_path / "claim.json") == [
        ("held_out.seed", "10007"), ("held_out.examples", "256"), ("paper_claim.ar_r32.accuracy", "0.98"),
        ("paper_claim.core_pass_ratio", "2.5")]
