"""The README's GPU-speed section quotes the committed benchmark runs and the limits derived from them."""

import json
from importlib import resources
from pathlib import Path

import pytest

from rdtheory.costs.hardware import get_hardware
from rdtheory.costs.targets import benchmark_ceilings

DATA = resources.files("rdtheory.costs") / "data"
README = Path(__file__).resolve().parents[2] / "README.md"
CASES = ("AR r=32", "DF fixed r'=4", "DF LatentDiff(0.03) r'=4", "DF fixed r'=4 B=8", "DF fixed r'=4 B=32")


@pytest.fixture(scope="module")
def section() -> str:
    text = README.read_text()
    return text[text.index("## Speed on the GPU"): text.index("## Planning hardware")]


@pytest.mark.parametrize("name", ["h100_generation_compiled.json", "h100_generation_compiled_profiled.json"])
def test_every_measured_rate_and_ratio_is_quoted(section, name):
    run = json.loads(DATA.joinpath(name).read_text())
    for case in CASES:
        assert f"{run['cases'][case]['tokens_per_s']:.1f} tok/s" in section, (name, case)
    assert f"{run['df_over_ar']:.2f}x" in section and f"{run['b8_over_b1']:.2f}x" in section
    ar = run["cases"]["AR r=32"]
    assert f"{ar['fraction_of_datasheet_bandwidth']:.2f} of datasheet bandwidth" in section


def test_the_limits_quoted_for_the_missed_targets_follow_from_the_profiles_and_the_roofline(section):
    run = json.loads(DATA.joinpath("h100_generation_compiled_profiled.json").read_text())
    ar, df = run["cases"]["AR r=32"], run["cases"]["DF fixed r'=4"]
    prof = ar["profile"]
    assert f"{100 * prof['matmul_share_of_gpu_time']:.1f}%" in section
    assert f"{prof['gpu_busy_s']:.2f} s of the {ar['seconds']:.2f} s" in section
    assert f"48 / {prof['matmul_kernels_s']:.2f} = {48 / prof['matmul_kernels_s']:.1f} tok/s" in section
    assert f"at least {ar['bytes'] / prof['matmul_kernels_s'] / 1e12:.2f} TB/s" in section
    assert f"{run['ceilings']['copy_bytes_per_s'] / 1e12:.2f} TB/s copy bandwidth" in section
    assert f"other {ar['seconds'] - prof['matmul_kernels_s']:.2f} s" in section
    assert f"cut to {48 / 24 - prof['matmul_kernels_s']:.2f} s" in section
    assert f"{100 * df['profile']['matmul_share_of_gpu_time']:.1f}% of that" in section
    assert f"{df['profile']['gpu_busy_s']:.2f} s of the {df['seconds']:.2f} s" in section
    measured, datasheet = benchmark_ceilings(), benchmark_ceilings("H100 SXM")
    assert f"{datasheet.df_tokens_per_s:.1f} tok/s at the" in section
    assert f"{measured.df_tokens_per_s:.1f} tok/s at the measured" in section
    assert f"{measured.df_over_ar:.2f}x" in section and f"{datasheet.df_over_ar:.2f}x" in section
    need = 150 / datasheet.df_tokens_per_s
    assert f"{100 * need:.0f}% of the datasheet" in section
    assert f"{df['bytes'] / 1e12:.2f} TB" in section
    assert f"{get_hardware('H100 SXM').bandwidth_bytes_per_s / 1e12:.2f} TB/s" in section
