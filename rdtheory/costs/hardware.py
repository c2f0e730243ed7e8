"""Accelerator records: peak dense bf16 FLOP/s, memory bandwidth and capacity, each with the URL it came from.

Owns `Hardware`, the shipped records in `data/hardware.json`, name lookup, and lints that catch the two classic
provenance bugs of hardware tables: a with-sparsity FLOP figure entered as dense (2x too fast) and a bandwidth in
bits per second entered as bytes (8x too fast). Knows nothing about models or time.
"""

import functools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

# A ridge point (peak FLOP/s over bytes/s) outside this range is implausible for a dense bf16 tensor-core peak of
# any accelerator of the last decade: the shipped records span 153 (A100 80GB) to 419 (L40S). The upper end sits
# close above them because a with-sparsity figure doubles the ridge: H100 SXM's reads 591, a B200's (4.5e15 at
# 8e12 B/s) 562. Doubling a low ridge stays inside (H200 SXM 412, MI300X 493); the sparse-figure lint catches those
# through the record's own with-sparsity figure or the shipped record of the same device.
PLAUSIBLE_RIDGE_FLOPS_PER_BYTE = (50.0, 500.0)
# The fastest device memory shipping is about 8 TB/s (HBM3e); a figure above this is most likely bits per second.
MAX_PLAUSIBLE_BANDWIDTH_BYTES_PER_S = 2e13
PLAUSIBLE_MEMORY_BYTES = (1e9, 2e12)


@dataclass(frozen=True)
class Hardware:
    """One accelerator. Rates are decimal units as vendors print them (1 TB/s = 1e12 bytes/s, 1 GB = 1e9 bytes)."""

    name: str
    dense_bf16_flops_per_s: float
    bandwidth_bytes_per_s: float
    memory_bytes: float
    flops_source: str
    bandwidth_source: str
    memory_source: str
    sparse_bf16_flops_per_s: float | None = None
    memory_kind: str = ""

    def __post_init__(self) -> None:
        for field in ("dense_bf16_flops_per_s", "bandwidth_bytes_per_s", "memory_bytes"):
            value = getattr(self, field)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{field}={value!r} of {self.name!r} must be a finite number > 0")
        for field in ("flops_source", "bandwidth_source", "memory_source"):
            if not getattr(self, field):
                raise ValueError(f"{field} of {self.name!r} is empty; every number needs a source")

    @property
    def ridge_flops_per_byte(self) -> float:
        """Arithmetic intensity at which the roofline turns compute-bound: peak FLOP/s / bytes/s."""
        return self.dense_bf16_flops_per_s / self.bandwidth_bytes_per_s


# ---------------------------------------------------------------------------------------------------- records

def _figure(entry: dict, key: str, device: str) -> tuple[float, str]:
    if key not in entry:
        raise ValueError(f"hardware record {device!r} lacks {key!r}")
    figure = entry[key]
    if not figure.get("source"):
        raise ValueError(f"{key} of hardware record {device!r} has no source")
    return float(figure["value"]), figure["source"]


def parse_hardware(raw: Mapping) -> dict[str, Hardware]:
    """Records from the JSON layout of `data/hardware.json`, keyed by name."""
    records = {}
    for entry in raw["devices"]:
        name = entry["name"]
        if not entry["dense_bf16_flops_per_s"].get("dense", False):
            raise ValueError(f"dense_bf16_flops_per_s of hardware record {name!r} is not marked dense=true")
        flops, flops_source = _figure(entry, "dense_bf16_flops_per_s", name)
        bandwidth, bandwidth_source = _figure(entry, "bandwidth_bytes_per_s", name)
        memory, memory_source = _figure(entry, "memory_bytes", name)
        sparse = _figure(entry, "sparse_bf16_flops_per_s", name)[0] if "sparse_bf16_flops_per_s" in entry else None
        records[name] = Hardware(name, flops, bandwidth, memory, flops_source, bandwidth_source, memory_source,
                                 sparse, entry.get("memory_kind", ""))
    return records


def load_hardware(path: str | Path | None = None) -> dict[str, Hardware]:
    """Read hardware records from a JSON file (default: the shipped `data/hardware.json`)."""
    if path is None:
        return dict(_shipped())
    return parse_hardware(json.loads(Path(path).read_text()))


@functools.cache
def _shipped() -> dict[str, Hardware]:
    text = resources.files("rdtheory.costs").joinpath("data/hardware.json").read_text()
    return parse_hardware(json.loads(text))


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


class UnknownHardware(ValueError):
    """A hardware name no record matches; `name` as given, `known` the record names. The message suggests the
    Python API's alternative, a `Hardware` record; a command line names only `known`."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name, self.known = name, known
        super().__init__(f"hardware={name!r} is unknown; known: {known} (or pass a Hardware record)")


def get_hardware(name: str | Hardware, table: Mapping[str, Hardware] | None = None) -> Hardware:
    """A record by name, ignoring case, spaces and punctuation ("h100-sxm" finds "H100 SXM"). A `Hardware`
    passes through unchanged."""
    if isinstance(name, Hardware):
        return name
    table = _shipped() if table is None else table
    matches = [hw for key, hw in table.items() if _key(key) == _key(name)]
    if not matches:
        raise UnknownHardware(name, sorted(table))
    return matches[0]


# ------------------------------------------------------------------------------------------------------ lints

def lint_sparse_figure(hw: Hardware, reference: Hardware | None = None) -> list[str]:
    """Flag a dense figure that is not half the record's with-sparsity figure, or about 2x the dense figure of a
    reference record of the same device (the with-sparsity number entered as dense)."""
    found = []
    if hw.sparse_bf16_flops_per_s is not None:
        ratio = hw.dense_bf16_flops_per_s / hw.sparse_bf16_flops_per_s
        if not 0.45 <= ratio <= 0.55:
            found.append(f"{hw.name}: dense_bf16_flops_per_s={hw.dense_bf16_flops_per_s:.4g} is {ratio:.2f}x the "
                         f"with-sparsity figure {hw.sparse_bf16_flops_per_s:.4g}; dense should be half of it")
    if reference is not None:
        ratio = hw.dense_bf16_flops_per_s / reference.dense_bf16_flops_per_s
        if 1.8 <= ratio <= 2.2:
            found.append(f"{hw.name}: dense_bf16_flops_per_s={hw.dense_bf16_flops_per_s:.4g} is {ratio:.2f}x the "
                         f"dense figure of {reference.name} ({reference.dense_bf16_flops_per_s:.4g}); it looks "
                         "like the with-sparsity number")
    return found


def lint_bandwidth_units(hw: Hardware, reference: Hardware | None = None) -> list[str]:
    """Flag a bandwidth above any shipping device's, or about 8x a reference record's: bits taken for bytes."""
    found = []
    if hw.bandwidth_bytes_per_s > MAX_PLAUSIBLE_BANDWIDTH_BYTES_PER_S:
        found.append(f"{hw.name}: bandwidth_bytes_per_s={hw.bandwidth_bytes_per_s:.4g} exceeds "
                     f"{MAX_PLAUSIBLE_BANDWIDTH_BYTES_PER_S:.0e}, more than any shipping memory; bits per second?")
    if reference is not None:
        ratio = hw.bandwidth_bytes_per_s / reference.bandwidth_bytes_per_s
        if 7.0 <= ratio <= 9.0:
            found.append(f"{hw.name}: bandwidth_bytes_per_s={hw.bandwidth_bytes_per_s:.4g} is {ratio:.1f}x that of "
                         f"{reference.name} ({reference.bandwidth_bytes_per_s:.4g}); bits per second taken as bytes?")
    return found


def lint_ridge(hw: Hardware) -> list[str]:
    """Flag a ridge point outside PLAUSIBLE_RIDGE_FLOPS_PER_BYTE (a sparse, fp8 or bits-for-bytes figure)."""
    low, high = PLAUSIBLE_RIDGE_FLOPS_PER_BYTE
    if low <= hw.ridge_flops_per_byte <= high:
        return []
    return [f"{hw.name}: ridge point {hw.ridge_flops_per_byte:.0f} FLOP/byte lies outside the plausible "
            f"[{low:.0f}, {high:.0f}] for dense bf16; check both figures' units and sparsity"]


def lint_memory(hw: Hardware) -> list[str]:
    """Flag a capacity outside PLAUSIBLE_MEMORY_BYTES (a figure in GB or GiB rather than bytes)."""
    low, high = PLAUSIBLE_MEMORY_BYTES
    if low <= hw.memory_bytes <= high:
        return []
    return [f"{hw.name}: memory_bytes={hw.memory_bytes:.4g} lies outside [{low:.0e}, {high:.0e}]; bytes expected"]


def lint_sources(hw: Hardware) -> list[str]:
    """Flag sources that are not https URLs."""
    return [f"{hw.name}: {field}={getattr(hw, field)!r} is not an https URL"
            for field in ("flops_source", "bandwidth_source", "memory_source")
            if not getattr(hw, field).startswith("https://")]


def lint(hw: Hardware, references: Mapping[str, Hardware] | None = None) -> list[str]:
    """Every lint; the reference is the record of the same name in `references` (default: the shipped ones)."""
    references = _shipped() if references is None else references
    same = [r for key, r in references.items() if _key(key) == _key(hw.name)]
    reference = same[0] if same else None
    return (lint_sparse_figure(hw, reference) + lint_bandwidth_units(hw, reference) + lint_ridge(hw)
            + lint_memory(hw) + lint_sources(hw))
