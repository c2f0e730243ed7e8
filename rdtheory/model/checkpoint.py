"""Huginn-layout checkpoints: a directory with config.json and safetensors (one file, or shards with an index).

Owns `load_pretrained` and `save_pretrained`: which tensors a checkpoint for a config holds, their shapes, the tied
embedding and the rotary table. The files themselves (layout, reading, digests, writing) are `checkpoint_files`'.
The layout written is the released Huginn-0125's: both copies of the tied embedding (`transformer.wte.weight` and
`lm_head.weight`) and the rotary table `freqs_cis` [1, block_size, 1, head_dim/2, 2] (float32 cos, sin). Read are
also the layouts transformers writes: without `lm_head.weight` when the embedding is tied, without `freqs_cis`.

Error contract of `load_pretrained`: a missing folder, config.json or weight file is a `FileNotFoundError`; any
malformed, inconsistent or corrupted checkpoint is a `CheckpointError` (a `ValueError`); both name the path. A bad
`dtype` argument is a `TypeError` or `ValueError` about the argument.
"""

import json
from pathlib import Path

import torch
from torch import Tensor

from rdtheory.config import ModelConfig
from rdtheory.model.checkpoint_files import (
    CONFIG_NAME,
    INDEX_FILE,
    SINGLE_FILE,
    STORAGE_DTYPES,
    CheckpointError,
    read_config,
    read_tensors,
    write_weights,
)
from rdtheory.model.layers import check_rotary_table
from rdtheory.model.recurrent import SUPPORTED_DTYPES, RecurrentDepthLM

__all__ = [
    "CONFIG_NAME", "INDEX_FILE", "ROTARY_KEY", "SINGLE_FILE", "CheckpointError", "expected_tensors", "load_pretrained",
    "parse_dtype", "read_config", "save_pretrained", "stored_rotary_table",
]

ROTARY_KEY = "freqs_cis"
_LM_HEAD, _WTE = "lm_head.weight", "transformer.wte.weight"
_DTYPE_NAMES = {
    "float32": torch.float32, "fp32": torch.float32, "float": torch.float32,
    "float64": torch.float64, "fp64": torch.float64, "double": torch.float64,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
}


def parse_dtype(dtype: torch.dtype | str | None, allowed: tuple[torch.dtype, ...]) -> torch.dtype | None:
    """A torch dtype or its name ("bfloat16", "bf16", "torch.float32", ...) as a dtype in `allowed`; None stays
    None. An unknown name is a ValueError listing the accepted names; a dtype not in `allowed` is a TypeError."""
    if dtype is None:
        return None
    if isinstance(dtype, str):
        found = _DTYPE_NAMES.get(dtype.removeprefix("torch."))
        if found is None:
            names = sorted(name for name, d in _DTYPE_NAMES.items() if d in allowed)
            raise ValueError(f"dtype={dtype!r} is not a dtype name; accepted names are {names}")
        dtype = found
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype={dtype!r} must be a torch.dtype or its name, not {type(dtype).__name__}")
    if dtype not in allowed:
        raise TypeError(f"dtype={dtype} is not supported; use one of {allowed}")
    return dtype


def expected_tensors(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Every key of a checkpoint for `config` and its shape (77 tensors for Huginn-0125)."""
    with torch.device("meta"):
        model = RecurrentDepthLM(config)
    shapes = {name: tuple(t.shape) for name, t in model.state_dict(keep_vars=True).items()}
    shapes[ROTARY_KEY] = (1, config.block_size, 1, config.head_dim // 2, 2)
    return shapes


def save_pretrained(
    model: RecurrentDepthLM, path: str | Path, max_shard_bytes: int | None = None,
    dtype: torch.dtype | str | None = None,
) -> Path:
    """Write config.json and the weights in Huginn's layout (stored in `dtype`, default the model's; float16 is
    allowed for storage), sharded when they exceed `max_shard_bytes`. The rotary table written is the one the model
    uses (`model.freqs_cis()`). Checkpoint files already in the folder are replaced, never left to shadow these."""
    path = Path(path)
    storage = parse_dtype(dtype, STORAGE_DTYPES) or model.dtype
    path.mkdir(parents=True, exist_ok=True)
    # One clone per key: the tied copies become two tensors, which safetensors requires.
    tensors = {k: v.detach().to("cpu", storage).contiguous().clone() for k, v in model.state_dict().items()}
    tensors[ROTARY_KEY] = model.freqs_cis().contiguous()
    write_weights(path, tensors, max_shard_bytes)
    hf = model.config.to_huggingface() | {"torch_dtype": str(storage).removeprefix("torch.")}
    (path / CONFIG_NAME).write_text(json.dumps(hf, indent=2) + "\n")
    return path


def load_pretrained(
    path: str | Path, dtype: torch.dtype | str | None = None, device: torch.device | str = "cpu"
) -> RecurrentDepthLM:
    """Load a Huginn-layout checkpoint directory, or a shipped model by name ("rdtheory/looped-tiny"; a local folder
    of that name wins).

    dtype (a torch dtype or a name such as "bfloat16") defaults to the stored dtype, except that weights stored in
    float16 load as float32 (an exact upcast: float16 is not a compute dtype here). Tensors are read to the CPU,
    checked, then cast and moved to `device`. Checks: the key set and shapes the config needs; every tensor finite;
    the sha256 digests save_pretrained stores (files written by other tools carry none and load unverified); a
    stored rotary table within tolerance of the config's (the stored table is then used); tied copies equal. A
    tied checkpoint without lm_head.weight takes it from the embedding; one without freqs_cis computes the table.
    Raises FileNotFoundError or CheckpointError naming the path (see the module docstring).
    """
    from rdtheory.models import resolve

    folder = resolve(path)
    want = parse_dtype(dtype, SUPPORTED_DTYPES)
    if not folder.is_dir():
        raise FileNotFoundError(f"path={str(folder)!r} is not a directory; a checkpoint is a folder with "
                                f"{CONFIG_NAME} and safetensors weights")
    config = read_config(folder)
    tensors, files = read_tensors(folder)
    _check_keys_and_shapes(folder, config, tensors, files)
    table = tensors.pop(ROTARY_KEY, None)
    if table is not None:
        _check_table(table, config, files[ROTARY_KEY])
    _tie(folder, config, tensors, files)
    stored = tensors["transformer.adapter.weight"].dtype
    dtype = want or (torch.float32 if stored == torch.float16 else stored)
    with torch.device("meta"):
        model = RecurrentDepthLM(config)
    model.load_state_dict({k: v.to(device=device, dtype=dtype) for k, v in tensors.items()}, assign=True, strict=True)
    if config.tie_embeddings:
        model.lm_head.weight = model.transformer.wte.weight
    if table is not None:
        model.use_rotary_table(table)
    return model.eval()


def stored_rotary_table(path: str | Path) -> Tensor | None:
    """The checkpoint's `freqs_cis`, checked against its config.json, or None when it stores none."""
    folder = Path(path)
    config = read_config(folder)
    tensors, files = read_tensors(folder, only={ROTARY_KEY})
    if ROTARY_KEY not in tensors:
        return None
    _check_table(tensors[ROTARY_KEY], config, files[ROTARY_KEY])
    return tensors[ROTARY_KEY]


def _check_keys_and_shapes(folder: Path, config: ModelConfig, tensors: dict[str, Tensor], files: dict[str, Path]
                           ) -> None:
    expected = expected_tensors(config)
    optional = {ROTARY_KEY} | ({_LM_HEAD} if config.tie_embeddings else set())
    missing = sorted(set(expected) - set(tensors) - optional)
    if missing:
        key = missing[0]
        hint = "; config.json has tie_embeddings=false, so it must be stored" if key == _LM_HEAD else ""
        raise CheckpointError(f"checkpoint {str(folder)!r} lacks tensor {key!r} (expected shape "
                              f"{list(expected[key])}); {len(missing)} missing in all{hint}")
    unexpected = sorted(set(tensors) - set(expected))
    if unexpected:
        raise CheckpointError(f"checkpoint {str(folder)!r} has unexpected tensors {unexpected[:5]} "
                              f"({len(unexpected)} in all) for the config in {CONFIG_NAME}")
    for key, t in tensors.items():
        if tuple(t.shape) != expected[key]:
            raise CheckpointError(f"{files[key]}: tensor {key!r} has shape {list(t.shape)}; the config needs "
                                  f"{list(expected[key])}")


def _check_table(table: Tensor, config: ModelConfig, file: Path) -> None:
    try:
        check_rotary_table(table, config)
    except ValueError as e:
        raise CheckpointError(f"{file}: {e}; {CONFIG_NAME} does not match these weights") from None


def _tie(folder: Path, config: ModelConfig, tensors: dict[str, Tensor], files: dict[str, Path]) -> None:
    if not config.tie_embeddings:
        return
    if _LM_HEAD not in tensors:
        tensors[_LM_HEAD] = tensors[_WTE]  # transformers drops the tied copy when it saves
    elif not torch.equal(tensors[_LM_HEAD], tensors[_WTE]):
        raise CheckpointError(f"{files[_LM_HEAD]}: tie_embeddings=True but {_LM_HEAD} differs from {_WTE} in "
                              f"checkpoint {str(folder)!r}")
