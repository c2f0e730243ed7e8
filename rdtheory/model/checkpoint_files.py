"""The files of a checkpoint folder: config.json and safetensors weights (one file, or shards with an index).

Owns which files make up a checkpoint, how they are read (only safetensors, never pickle; only the keys the index
assigns to each shard; digests verified where stored; only finite floating-point tensors) and written (stale
checkpoint files removed first, digests stored). Knows nothing about the model's keys or shapes: `checkpoint`
checks those. Every problem is a `FileNotFoundError` (something missing) or a `CheckpointError` naming the file.
"""

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor

from rdtheory.config import ModelConfig
from rdtheory.model.integrity import check_digest, digest_metadata, stored_digests

CONFIG_NAME = "config.json"
SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
SHARD_NAME = re.compile(r"model-\d{5}-of-\d{5}\.safetensors")
STORAGE_DTYPES = (torch.float32, torch.float64, torch.bfloat16, torch.float16)
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


class CheckpointError(ValueError):
    """A checkpoint folder's files are malformed, inconsistent or corrupted; the message names the file."""


# --------------------------------------------------------------------------------------------------------- reading


def read_config(folder: Path) -> ModelConfig:
    """The `ModelConfig` of config.json; FileNotFoundError if absent, CheckpointError if malformed."""
    file = Path(folder) / CONFIG_NAME
    if not file.is_file():
        raise FileNotFoundError(f"path={str(folder)!r} has no {CONFIG_NAME}; a checkpoint directory needs one")
    raw = _read_json(file)
    try:
        return ModelConfig.from_huggingface(raw)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{file}: {e}") from None


def weight_layout(folder: Path) -> tuple[dict[Path, list[str]], Path]:
    """Which keys to read from which file, and the file that says so (the index, or the single file)."""
    index, single = folder / INDEX_FILE, folder / SINGLE_FILE
    if index.is_file() and single.is_file():
        raise CheckpointError(f"{folder} holds both {SINGLE_FILE} and {INDEX_FILE}; it is ambiguous which is the "
                              "checkpoint: remove the stale one")
    if index.is_file():
        return _read_index(index), index
    if single.is_file():
        with _open(single) as f:
            return {single: list(f.keys())}, single
    pickles = sorted(p.name for p in folder.iterdir() if p.suffix in _PICKLE_SUFFIXES)
    hint = f"; found {pickles}, which are pickle files and are never read" if pickles else ""
    raise FileNotFoundError(f"path={str(folder)!r} holds neither {SINGLE_FILE} nor {INDEX_FILE}{hint}")


def read_tensors(folder: Path, only: set[str] | None = None) -> tuple[dict[str, Tensor], dict[str, Path]]:
    """Every tensor of the checkpoint (or those in `only`) on the CPU as stored, and the file each came from.

    Digests are verified where the file stores them; every tensor must be floating point and finite."""
    layout, source = weight_layout(folder)
    tensors: dict[str, Tensor] = {}
    files: dict[str, Path] = {}
    for file, keys in layout.items():
        wanted = [k for k in keys if only is None or k in only]
        if not wanted:
            continue
        with _open(file) as f:
            try:
                digests = stored_digests(f.metadata())
            except ValueError as e:
                raise CheckpointError(f"{file}: {e}") from None
            present = set(f.keys())
            for key in wanted:
                if key not in present:
                    raise CheckpointError(f"{source} assigns tensor {key!r} to {file}, which does not hold it")
                tensors[key] = _checked(file, key, f.get_tensor(key), digests)
                files[key] = file
    return tensors, files


def _checked(file: Path, key: str, t: Tensor, digests: dict[str, str] | None) -> Tensor:
    try:
        if digests is not None:
            check_digest(key, t, digests)
        if t.dtype not in STORAGE_DTYPES:
            raise ValueError(f"tensor {key!r} has dtype {t.dtype}; checkpoint tensors are one of {STORAGE_DTYPES}")
        if not bool(torch.isfinite(t).all()):
            bad = int((~torch.isfinite(t)).sum())
            raise ValueError(f"tensor {key!r} holds {bad} non-finite values (NaN or inf); refusing to load it")
    except ValueError as e:
        raise CheckpointError(f"{file}: {e}") from None
    return t


def _read_index(index: Path) -> dict[Path, list[str]]:
    raw = _read_json(index)
    weight_map = raw.get("weight_map") if isinstance(raw, dict) else None
    if not isinstance(weight_map, dict):
        raise CheckpointError(f"{index}: must be a JSON object with a 'weight_map' object mapping tensor names to "
                              "shard file names")
    layout: dict[Path, list[str]] = {}
    for key, name in weight_map.items():
        if not _plain_file_name(name):
            raise CheckpointError(f"{index}: entry {key!r} -> {name!r} is not a plain file name; shards must lie "
                                  "in the index's folder, so a name may not hold a path")
        shard = index.parent / name
        if not shard.is_file():
            raise FileNotFoundError(f"{index}: entry {key!r} names shard {name!r}, but {shard} does not exist")
        layout.setdefault(shard, []).append(key)
    return layout


def _plain_file_name(name: Any) -> bool:
    # Containment is judged on the name, never by resolving symlinks: Hugging Face cache snapshots are symlinks
    # into a blobs folder and must keep loading.
    return (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\\" not in name
            and "\0" not in name and Path(name).name == name and not Path(name).is_absolute())


def _read_json(file: Path) -> Any:
    try:
        return json.loads(file.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{file}: not valid JSON ({e})") from None


@contextmanager
def _open(file: Path) -> Iterator[Any]:
    """safe_open on the CPU; safetensors' errors (a bad header, a short file) become CheckpointErrors naming it."""
    try:
        with safe_open(file, framework="pt", device="cpu") as f:
            yield f
    except SafetensorError as e:
        raise CheckpointError(f"{file}: not a readable safetensors file ({e})") from None


# --------------------------------------------------------------------------------------------------------- writing


def write_weights(folder: Path, tensors: dict[str, Tensor], max_shard_bytes: int | None) -> None:
    """Write `tensors` as one file or as shards with an index, each file with its digests. Checkpoint files already
    in the folder are removed first, so that none of them can shadow (or be shadowed by) the new ones."""
    shards = _split(tensors, max_shard_bytes)
    remove_checkpoint_files(folder)
    if len(shards) == 1:
        _save(shards[0], folder / SINGLE_FILE)
        return
    weight_map, total = {}, 0
    for i, shard in enumerate(shards, start=1):
        name = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        _save(shard, folder / name)
        weight_map |= {key: name for key in shard}
        total += sum(t.numel() * t.element_size() for t in shard.values())
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    (folder / INDEX_FILE).write_text(json.dumps(index, indent=2) + "\n")


def _save(tensors: dict[str, Tensor], file: Path) -> None:
    save_file(tensors, file, metadata={"format": "pt"} | digest_metadata(tensors))
    # safetensors writes the metadata from a hash map, in an order that changes from one call to the next. The same
    # tensors must give the same bytes (training records compare file digests), so the entries are sorted in place;
    # the header keeps its length because only the order of its entries changes.
    with open(file, "r+b") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
        text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
        assert len(text) <= n, f"the rewritten header of {file} grew from {n} to {len(text)} bytes"
        f.seek(8)
        f.write(text.ljust(n, b" "))


def remove_checkpoint_files(folder: Path) -> list[str]:
    """Remove model.safetensors, the index, the shards the index names and any file named like a shard; return
    the names removed. Other files (config.json, a tokenizer, a model card) stay."""
    names = {SINGLE_FILE, INDEX_FILE} | {p.name for p in folder.iterdir() if SHARD_NAME.fullmatch(p.name)}
    index = folder / INDEX_FILE
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text()).get("weight_map", {})
            names |= {n for n in weight_map.values() if _plain_file_name(n) and n.endswith(".safetensors")}
        except (ValueError, AttributeError, TypeError):
            pass  # an unreadable old index names nothing more to remove; it is removed itself
    removed = []
    for name in sorted(names):
        file = folder / name
        if file.is_file() or file.is_symlink():
            file.unlink()
            removed.append(name)
    return removed


def _split(tensors: dict[str, Tensor], max_shard_bytes: int | None) -> list[dict[str, Tensor]]:
    if max_shard_bytes is not None and max_shard_bytes < 1:
        raise ValueError(f"max_shard_bytes={max_shard_bytes} must be >= 1 or None")
    shards: list[dict[str, Tensor]] = [{}]
    size = 0
    for key, t in tensors.items():
        nbytes = t.numel() * t.element_size()
        if max_shard_bytes is not None and shards[-1] and size + nbytes > max_shard_bytes:
            shards.append({})
            size = 0
        shards[-1][key] = t
        size += nbytes
    return shards
