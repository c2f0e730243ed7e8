"""Shipped hardware records carry datasheet values with sources; the lints catch the classic provenance bugs."""

import dataclasses
import json
from importlib import resources

import pytest

from rdtheory.costs import Hardware, get_hardware, lint, load_hardware
from rdtheory.costs.hardware import (
    PLAUSIBLE_RIDGE_FLOPS_PER_BYTE,
    lint_bandwidth_units,
    lint_memory,
    lint_ridge,
    lint_sparse_figure,
    parse_hardware,
)

# (dense bf16 FLOP/s, bytes/s, bytes) as the vendors print them.
EXPECTED = {
    "H100 SXM": (989.5e12, 3.35e12, 80e9),
    "H100 PCIe": (756.5e12, 2.0e12, 80e9),
    "H200 SXM": (989.5e12, 4.8e12, 141e9),
    "A100 40GB SXM": (312e12, 1.555e12, 40e9),
    "A100 80GB SXM": (312e12, 2.039e12, 80e9),
    "L40S": (362.05e12, 864e9, 48e9),
    "MI300X": (1307.4e12, 5.3e12, 192e9),
}


def test_shipped_records_hold_the_datasheet_values():
    records = load_hardware()
    assert set(EXPECTED) <= set(records)
    for name, (flops, bandwidth, memory) in EXPECTED.items():
        hw = records[name]
        assert (hw.dense_bf16_flops_per_s, hw.bandwidth_bytes_per_s, hw.memory_bytes) == (flops, bandwidth, memory)
        assert hw.sparse_bf16_flops_per_s is not None


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shipped_records_pass_every_lint(name):
    assert lint(get_hardware(name)) == []


def test_every_number_has_a_url_and_a_printed_figure():
    raw = json.loads(resources.files("rdtheory.costs").joinpath("data/hardware.json").read_text())
    for device in raw["devices"]:
        for key in ("dense_bf16_flops_per_s", "sparse_bf16_flops_per_s", "bandwidth_bytes_per_s", "memory_bytes"):
            assert device[key]["source"].startswith("https://"), (device["name"], key)
            assert device[key]["printed"], (device["name"], key)
        assert device["dense_bf16_flops_per_s"]["dense"] is True
        assert device["sparse_bf16_flops_per_s"]["dense"] is False


def test_lookup_ignores_case_and_punctuation():
    assert get_hardware("h100-sxm") is get_hardware("H100 SXM")
    hw = get_hardware("MI300X")
    assert get_hardware(hw) is hw


def test_unknown_hardware_names_the_known_ones():
    with pytest.raises(ValueError, match=r"hardware='B300' is unknown; known: \[.*'H100 SXM'"):
        get_hardware("B300")


def test_sparse_figure_entered_as_dense_is_flagged():
    h100 = get_hardware("H100 SXM")
    sparse_as_dense = dataclasses.replace(h100, dense_bf16_flops_per_s=1979e12)
    findings = lint(sparse_as_dense)
    assert any("with-sparsity" in f for f in findings)
    # Caught by the reference record alone, and by the record's own sparse figure alone.
    assert lint_sparse_figure(dataclasses.replace(sparse_as_dense, sparse_bf16_flops_per_s=None), h100)
    assert lint_sparse_figure(sparse_as_dense)
    # A made-up device's sparse-as-dense figure is caught through its own with-sparsity figure.
    custom = Hardware("X1", 2e15, 3e12, 96e9, "https://x", "https://x", "https://x", sparse_bf16_flops_per_s=2e15)
    assert lint_sparse_figure(custom)


@pytest.mark.parametrize("hw", [
    Hardware("B200-like", 4.5e15, 8e12, 192e9, "https://x", "https://x", "https://x"),  # ridge 562
    dataclasses.replace(get_hardware("H100 SXM"), name="H100 SXM clone", dense_bf16_flops_per_s=1979e12,
                        sparse_bf16_flops_per_s=None),  # ridge 591
], ids=["B200-like", "H100 SXM clone"])
def test_sparse_figure_as_dense_without_a_reference_fails_the_ridge_lint(hw):
    """Neither record has a with-sparsity figure nor a shipped record of its name: only the ridge can tell."""
    assert not lint_sparse_figure(hw, None) and not lint_bandwidth_units(hw, None)
    findings = lint(hw)
    assert findings and all("ridge point" in f for f in findings), findings
    assert lint(dataclasses.replace(hw, dense_bf16_flops_per_s=hw.dense_bf16_flops_per_s / 2)) == []


def test_every_shipped_ridge_sits_below_the_upper_bound_with_a_margin():
    ridges = {name: hw.ridge_flops_per_byte for name, hw in load_hardware().items()}
    assert max(ridges.values()) == pytest.approx(419, abs=1)  # L40S
    assert max(ridges.values()) < 0.9 * PLAUSIBLE_RIDGE_FLOPS_PER_BYTE[1]


def test_bandwidth_in_bits_is_flagged():
    for name in ("H100 SXM", "L40S", "A100 40GB SXM"):
        hw = get_hardware(name)
        bits = dataclasses.replace(hw, bandwidth_bytes_per_s=8 * hw.bandwidth_bytes_per_s)
        assert any("bits" in f for f in lint(bits)), name
    # Without a reference, a bits figure of a fast device exceeds any shipping memory.
    h200_bits = dataclasses.replace(get_hardware("H200 SXM"), bandwidth_bytes_per_s=38.4e12)
    assert lint_bandwidth_units(h200_bits)


def test_implausible_ridge_and_memory_are_flagged():
    hw = get_hardware("A100 40GB SXM")
    assert lint_ridge(dataclasses.replace(hw, bandwidth_bytes_per_s=12.44e12))  # ridge 25: bits for bytes
    assert lint_ridge(dataclasses.replace(hw, dense_bf16_flops_per_s=2e15))  # ridge 1286
    assert lint_ridge(dataclasses.replace(hw, dense_bf16_flops_per_s=624e12, bandwidth_bytes_per_s=1.2e12))  # 520
    assert lint_memory(dataclasses.replace(hw, memory_bytes=40.0))  # GB count, not bytes
    assert not lint_ridge(hw) and not lint_memory(hw)


def test_records_validate_their_numbers():
    with pytest.raises(ValueError, match="bandwidth_bytes_per_s=0 of 'X' must be a finite number > 0"):
        Hardware("X", 1e15, 0, 1e10, "https://a", "https://b", "https://c")
    with pytest.raises(ValueError, match="memory_source of 'X' is empty"):
        Hardware("X", 1e15, 1e12, 1e10, "https://a", "https://b", "")


def test_parsing_refuses_a_figure_not_marked_dense():
    entry = {"name": "X", "dense_bf16_flops_per_s": {"value": 1e15, "dense": False, "source": "https://a"},
             "bandwidth_bytes_per_s": {"value": 1e12, "source": "https://a"},
             "memory_bytes": {"value": 1e10, "source": "https://a"}}
    with pytest.raises(ValueError, match="not marked dense=true"):
        parse_hardware({"devices": [entry]})
    entry["dense_bf16_flops_per_s"]["dense"] = True
    del entry["memory_bytes"]["source"]
    with pytest.raises(ValueError, match="memory_bytes of hardware record 'X' has no source"):
        parse_hardware({"devices": [entry]})


def test_load_from_a_file(tmp_path):
    path = tmp_path / "hw.json"
    path.write_text(json.dumps({"devices": [{
        "name": "Toy", "dense_bf16_flops_per_s": {"value": 1e14, "dense": True, "source": "https://t"},
        "bandwidth_bytes_per_s": {"value": 1e12, "source": "https://t"},
        "memory_bytes": {"value": 1e10, "source": "https://t"}}]}))
    assert load_hardware(path)["Toy"].ridge_flops_per_byte == 100.0
