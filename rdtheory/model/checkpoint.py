"""Huginn-layout checkpoints: a directory with config.json and safetensors (one file, or shards with an index).

Owns `load_pretrained` and `save_pretrained`. Only safetensors are read (never pickle). The layout is the released
Huginn-0125's: both copies of the tied embedding (`transformer.wte.weight` and `lm_head.weight`) and the rotary
table `freqs_cis` [1, block_size, 1, head_dim/2, 2] (float32 cos and sin) are stored; on load the table is checked
against the config and otherwise ignored.
"""

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor

from rdtheory.config import ModelConfig
from rdtheory.model.layers import rotary_table
from rdtheory.model.recurrent import SUPPORTED_DTYPES, RecurrentDepthLM

CONFIG_NAME = "config.json"
SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
ROTARY_KEY = "freqs_cis"
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


def expected_tensors(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Every key of a checkpoint for `config` and its shape (77 tensors for Huginn-0125)."""
    with torch.device("meta"):
        model = RecurrentDepthLM(config)
    shapes = {name: tuple(t.shape) for name, t in model.state_dict(keep_vars=True).items()}
    shapes[ROTARY_KEY] = (1, config.block_size, 1, config.head_dim // 2, 2)
    return shapes


def save_pretrained(
    model: RecurrentDepthLM, path: str | Path, max_shard_bytes: int | None = None, dtype: torch.dtype | None = None
) -> Path:
    """Write config.json and the weights in Huginn's layout; shard when the weights exceed `max_shard_bytes`."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    dtype = dtype or model.dtype
    tensors = {k: v.detach().to(dtype).contiguous().cpu().clone() for k, v in model.state_dict().items()}
    tensors[ROTARY_KEY] = rotary_table(model.config, torch.float32).contiguous()
    hf = model.config.to_huggingface() | {"torch_dtype": str(dtype).removeprefix("torch.")}
    (path / CONFIG_NAME).write_text(json.dumps(hf, indent=2) + "\n")
    shards = _split(tensors, max_shard_bytes)
    if len(shards) == 1:
        save_file(shards[0], path / SINGLE_FILE, metadata={"format": "pt"})
        return path
    weight_map, total = {}, 0
    for i, shard in enumerate(shards, start=1):
        name = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, path / name, metadata={"format": "pt"})
        weight_map |= {key: name for key in shard}
        total += sum(t.numel() * t.element_size() for t in shard.values())
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    (path / INDEX_FILE).write_text(json.dumps(index, indent=2) + "\n")
    return path


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


def read_config(path: str | Path) -> ModelConfig:
    path = Path(path)
    if not (path / CONFIG_NAME).is_file():
        raise FileNotFoundError(f"path={str(path)!r} has no {CONFIG_NAME}; a checkpoint directory needs one")
    return ModelConfig.from_huggingface(json.loads((path / CONFIG_NAME).read_text()))


def weight_files(path: Path) -> dict[str, Path]:
    """Map each tensor key to the safetensors file that holds it."""
    if (path / INDEX_FILE).is_file():
        weight_map = json.loads((path / INDEX_FILE).read_text())["weight_map"]
        return {key: path / name for key, name in weight_map.items()}
    if (path / SINGLE_FILE).is_file():
        with safe_open(path / SINGLE_FILE, framework="pt") as f:
            return {key: path / SINGLE_FILE for key in f.keys()}
    pickles = sorted(p.name for p in path.iterdir() if p.suffix in _PICKLE_SUFFIXES)
    hint = f"; found {pickles}, which are pickle files and are never read" if pickles else ""
    raise FileNotFoundError(f"path={str(path)!r} holds neither {SINGLE_FILE} nor {INDEX_FILE}{hint}")


def load_pretrained(
    path: str | Path, dtype: torch.dtype | None = None, device: torch.device | str = "cpu"
) -> RecurrentDepthLM:
    """Load a Huginn-layout checkpoint directory, or a shipped model by name ("rdtheory/looped-tiny"; a local folder
    of that name wins). dtype defaults to the stored dtype."""
    from rdtheory.models import resolve

    path = resolve(path)
    config = read_config(path)
    files = weight_files(path)
    expected = expected_tensors(config)
    missing = sorted(set(expected) - set(files))
    if missing:
        key = missing[0]
        raise KeyError(f"checkpoint {str(path)!r} lacks tensor {key!r} (expected shape {list(expected[key])}); "
                       f"{len(missing)} missing in all")
    unexpected = sorted(set(files) - set(expected))
    if unexpected:
        raise KeyError(f"checkpoint {str(path)!r} has unexpected tensors {unexpected[:5]} "
                       f"({len(unexpected)} in all) for this config")
    tensors: dict[str, Tensor] = {}
    for file in sorted(set(files.values())):
        with safe_open(file, framework="pt", device=str(device)) as f:
            for key in f.keys():
                tensors[key] = f.get_tensor(key)
    for key, shape in expected.items():
        if tuple(tensors[key].shape) != shape:
            raise ValueError(f"tensor {key!r} has shape {list(tensors[key].shape)}; the config needs {list(shape)}")
    _check_rotary(tensors.pop(ROTARY_KEY), config)
    if config.tie_embeddings and not torch.equal(tensors["lm_head.weight"], tensors["transformer.wte.weight"]):
        raise ValueError("tie_embeddings=True but lm_head.weight differs from transformer.wte.weight in the checkpoint")
    dtype = dtype or tensors["transformer.adapter.weight"].dtype
    if dtype not in SUPPORTED_DTYPES:
        raise TypeError(f"dtype={dtype} is not supported; use one of {SUPPORTED_DTYPES}")
    with torch.device("meta"):
        model = RecurrentDepthLM(config)
    model.load_state_dict({k: v.to(dtype) for k, v in tensors.items()}, assign=True, strict=True)
    if config.tie_embeddings:
        model.lm_head.weight = model.transformer.wte.weight
    return model.eval()


def _check_rotary(stored: Tensor, config: ModelConfig) -> None:
    # The table is recomputed, but a stored table that disagrees means the config does not describe these weights.
    ours = rotary_table(config, torch.float64)
    err = (stored.double().cpu() - ours).abs().max().item()
    if err > 1e-2:
        raise ValueError(f"stored freqs_cis differs from the table for rope_base={config.rope_base} by {err:.3g}; "
                         "config.json does not match these weights")
