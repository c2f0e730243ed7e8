"""Tensor digests kept in a safetensors file's header metadata, so that changed bytes cannot load silently.

Owns the digest of a tensor (sha256 of its bytes as stored) and the metadata entry that carries the digests of a
file's tensors: one key, `rdtheory.sha256`, whose value is JSON {tensor name: hex digest} (safetensors metadata
maps str to str). Knows nothing about folders, configs or models. Files written by other tools carry no entry and
are not verified.
"""

import hashlib
import json

import torch
from torch import Tensor

DIGEST_KEY = "rdtheory.sha256"


def tensor_digest(t: Tensor) -> str:
    """sha256 of the tensor's bytes in its dtype, as safetensors stores them (row-major, little-endian)."""
    # bfloat16 has no numpy dtype: view the bytes as uint8 before leaving torch.
    data = t.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8).numpy()
    return hashlib.sha256(memoryview(data)).hexdigest()


def digest_metadata(tensors: dict[str, Tensor]) -> dict[str, str]:
    """The metadata entry holding the digest of every tensor of one file."""
    return {DIGEST_KEY: json.dumps({key: tensor_digest(t) for key, t in sorted(tensors.items())})}


def stored_digests(metadata: dict[str, str] | None) -> dict[str, str] | None:
    """The digests a file's metadata carries, or None for a file without them. ValueError if the entry is not
    JSON {name: 64 hex digits}."""
    if not metadata or DIGEST_KEY not in metadata:
        return None
    try:
        digests = json.loads(metadata[DIGEST_KEY])
    except json.JSONDecodeError as e:
        raise ValueError(f"metadata {DIGEST_KEY!r} is not valid JSON ({e})") from None
    if not isinstance(digests, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and len(v) == 64 for k, v in digests.items()
    ):
        raise ValueError(f"metadata {DIGEST_KEY!r} must map tensor names to sha256 hex digests")
    return digests


def check_digest(key: str, t: Tensor, digests: dict[str, str]) -> None:
    """ValueError unless `digests` records `key` with the digest of `t`."""
    if key not in digests:
        raise ValueError(f"tensor {key!r} has no digest in metadata {DIGEST_KEY!r}, which lists the file's tensors")
    actual = tensor_digest(t)
    if actual != digests[key]:
        raise ValueError(f"tensor {key!r} has sha256 {actual[:16]}..., but the file records {digests[key][:16]}...; "
                         "its bytes changed after it was written")
