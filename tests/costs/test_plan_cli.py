"""Calibrated planning: bands, the knob and hardware searches, clear errors, and the `rdtheory plan` command."""

import dataclasses
import json

import pytest

from rdtheory.cli import main
from rdtheory.config import HUGINN_0125
from rdtheory.costs import (
    Correction,
    DiffusionForcing,
    StaticAR,
    best_df_knobs,
    df_candidates,
    get_hardware,
    hardware_for_target,
    load_calibration,
    plan,
)

CAL = load_calibration()
BENCH = dict(prompt_length=64, new_tokens=48)
DF = DiffusionForcing(32, 4, 1, 128)


def test_calibrated_plan_matches_the_measured_benchmark_within_its_band():
    """Measured on the H100 with compiled blocks: DF 100.5 tokens/s, AR 22.1 tokens/s, both held out of the fit
    (predicted 95.0 and 21.9)."""
    df = plan(HUGINN_0125, "H100 SXM", DF, calibration=CAL, **BENCH)
    ar = plan(HUGINN_0125, "H100 SXM", StaticAR(32), calibration=CAL, **BENCH)
    for prediction, measured in ((ar, 22.1), (df, 100.5)):
        low, high = prediction.tokens_per_s_range
        assert low <= measured <= high
        assert prediction.tokens_per_s == pytest.approx(measured, rel=0.07)
    assert df.tokens_per_s / ar.tokens_per_s == pytest.approx(100.5 / 22.1, rel=0.10)
    roofline = plan(HUGINN_0125, "H100 SXM", DF, **BENCH)
    assert roofline.band is None and roofline.tokens_per_s_range is None
    assert df.tokens_per_s < 0.7 * roofline.tokens_per_s  # the implementation is well below the roofline


def test_band_widens_off_the_calibration_device():
    h100 = plan(HUGINN_0125, "H100 SXM", DF, calibration=CAL, **BENCH)
    h200 = plan(HUGINN_0125, "H200 SXM", DF, calibration=CAL, **BENCH)
    width = [hi / lo for lo, hi in (h100.tokens_per_s_range, h200.tokens_per_s_range)]
    assert width[1] > 1.4 > width[0]
    assert h200.tokens_per_s > h100.tokens_per_s  # more bandwidth, same efficiencies


def test_correction_and_calibration_exclude_each_other():
    with pytest.raises(ValueError, match=r"correction=Correction\(efficiency=0.5.*both given"):
        plan(HUGINN_0125, "H100 SXM", DF, correction=Correction(0.5), calibration=CAL, **BENCH)


def test_df_candidates_cover_the_caps_that_change_the_wave():
    knobs = df_candidates(32, inners=[4], headways=[1, 2])
    assert [(k.headway, k.max_wavefront) for k in knobs] == [(1, 1), (1, 2), (1, 4), (1, 8), (2, 2), (2, 4),
                                                            (2, 8), (2, 16)]
    assert {k.inner for k in df_candidates(12)} == {1, 2, 3, 4, 6, 12}


def test_knob_search_ranks_by_predicted_speed():
    found = best_df_knobs(HUGINN_0125, "H100 SXM", calibration=CAL, **BENCH)
    rates = [p.tokens_per_s for p in found.candidates]
    assert rates == sorted(rates, reverse=True) and len(rates) == len(df_candidates(32))
    best = found.best.sampler
    assert best.max_wavefront == best.headway * -(-32 // best.inner)  # a binding cap only slows the wave
    assert found.best.tokens_per_s > plan(HUGINN_0125, "H100 SXM", DF, calibration=CAL, **BENCH).tokens_per_s


def test_knob_search_with_no_room_raises():
    tiny = dataclasses.replace(get_hardware("H100 SXM"), name="H100 8GB", memory_bytes=7.2e9)
    with pytest.raises(ValueError, match=r"no DF candidate .* fits memory_bytes=7 GB of H100 8GB"):
        best_df_knobs(HUGINN_0125, tiny, batch=64, prompt_length=512, new_tokens=512)


def test_hardware_for_target():
    checks = hardware_for_target(HUGINN_0125, DF, 110.0, calibration=CAL, **BENCH)
    rates = [c.prediction.tokens_per_s for c in checks]
    assert rates == sorted(rates, reverse=True)
    verdicts = {c.hardware.name: (c.reaches, c.surely) for c in checks}
    assert verdicts["H100 SXM"] == (False, False) and verdicts["H200 SXM"] == (True, False)
    assert all(c.reaches for c in hardware_for_target(HUGINN_0125, DF, 10.0, calibration=CAL, **BENCH))
    assert sum(c.surely for c in hardware_for_target(HUGINN_0125, DF, 40.0, calibration=CAL, **BENCH)) >= 3
    with pytest.raises(ValueError, match=r"target_tokens_per_s=0.0 must be a finite number > 0"):
        hardware_for_target(HUGINN_0125, DF, 0.0, **BENCH)


def test_hardware_for_target_reports_what_does_not_fit():
    checks = hardware_for_target(HUGINN_0125, StaticAR(64), 1.0, batch=8, prompt_length=2000, new_tokens=1000,
                                 kv=_per_step())
    missing = {c.hardware.name for c in checks if c.prediction is None}
    assert "L40S" in missing and "MI300X" not in missing
    assert checks[-1].prediction is None and not checks[-1].reaches


def _per_step():
    from rdtheory.model.cache import PerStep

    return PerStep()


def test_cli_plan_prints_prediction_band_and_memory(capsys):
    assert main(["plan", "--sampler", "df", "--inner", "4", "--prompt", "64", "--tokens", "48"]) == 0
    out = capsys.readouterr().out
    assert "DF r'=4 FixedDepth(32) headway=1 cap=128, batch 1, prompt 64, 48 new tokens, on H100 SXM" in out
    assert "tokens/s        95.0   (89.8 .. 100.8; roofline bound 156.1)" in out
    assert "held-out relative error -5.5% .. +6.1%" in out and "memory" in out and "of 80 GB" in out


def test_cli_plan_json_search_and_target(capsys):
    assert main(["plan", "--hardware", "h200-sxm", "--search", "--target", "110", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["prediction"]["hardware"] == "H200 SXM"
    low, high = report["prediction"]["tokens_per_s_range"]
    assert low < report["prediction"]["tokens_per_s"] < high
    assert report["search"][0]["tokens_per_s"] >= max(c["tokens_per_s"] for c in report["search"])
    assert {t["hardware"]: t["reaches"] for t in report["target"]}["H100 SXM"] is False


def test_cli_plan_target_no_accelerator_reaches_exits_1(capsys):
    assert main(["plan", "--target", "100000"]) == 1
    captured = capsys.readouterr()
    assert "accelerators against 100000 tokens/s:" in captured.out and " reaches" not in captured.out
    assert captured.err == "rdtheory plan: no bundled accelerator reaches 100000 tokens/s with these settings\n"
    assert main(["plan", "--target", "100000", "--json"]) == 1
    captured = capsys.readouterr()
    assert not any(t["reaches"] for t in json.loads(captured.out)["target"])
    assert "no bundled accelerator" in captured.err
    assert main(["plan", "--target", "10"]) == 0  # some reach it
    assert capsys.readouterr().err == ""


def test_cli_plan_unknown_hardware_names_the_records_without_api_advice(capsys):
    assert main(["plan", "--hardware", "TPU v9"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rdtheory plan: error: --hardware='TPU v9' is unknown; known: A100 40GB SXM, ")
    assert "H100 SXM" in err and "Hardware record" not in err


def test_cli_plan_roofline_has_no_band(capsys):
    assert main(["plan", "--sampler", "ar", "--roofline"]) == 0
    assert "uncalibrated roofline" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["plan", "--hardware", "TPU v9"], "hardware='TPU v9' is unknown"),
    (["plan", "--hardware", "L40S", "--batch", "64", "--prompt", "3000", "--tokens", "1000"],
     "> memory_bytes=48 GB of L40S"),
    (["plan", "--inner", "0"], "--inner=0 must be an int >= 1"),
    (["plan", "--prompt", "4000", "--tokens", "200"], "--prompt=4000 + --tokens=200 - 1 must be <= 4096"),
])
def test_cli_plan_errors_are_clear(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("rdtheory plan: error: ") and message in err


def test_cli_demo_still_runs(capsys):
    assert main(["demo", "--tokens", "2", "--depth", "2", "--inner", "1"]) == 0
    assert "AR, r=2" in capsys.readouterr().out


def test_cli_calibrate_unknown_hardware_or_missing_file_is_a_clear_error(tmp_path, capsys):
    from importlib import resources

    data = resources.files("rdtheory.costs") / "data"
    stages, generation = str(data / "h100_stage_latency_compiled.json"), str(data / "h100_generation_compiled.json")
    assert main(["calibrate", "--stages", stages, "--generation", generation, "--hardware", "nope",
                 "--out", str(tmp_path / "c.json")]) == 2
    err = capsys.readouterr().err
    assert "--hardware='nope' is unknown; known:" in err and "H100 SXM" in err
    assert main(["calibrate", "--stages", str(tmp_path / "missing.json"), "--generation", generation,
                 "--out", str(tmp_path / "c.json")]) == 2
    assert "missing.json" in capsys.readouterr().err
    assert not (tmp_path / "c.json").exists()
