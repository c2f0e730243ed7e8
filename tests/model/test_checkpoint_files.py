"""The files of a checkpoint folder: no stale file wins, shards stay in their folder and hold what the index says,
corrupted or non-finite weights are refused, digests are stored and checked."""

import hashlib
import json
import shutil

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from rdtheory import TINY, load_pretrained, save_pretrained
from rdtheory.model.checkpoint import CheckpointError
from rdtheory.model.integrity import DIGEST_KEY
from rdtheory.testing.models import random_model

INDEX = "model.safetensors.index.json"


def same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(sa[k].dtype == sb[k].dtype and torch.equal(sa[k], sb[k]) for k in sa)


def model(seed):
    return random_model(TINY, seed, dtype=torch.float32)


def weight_map(folder):
    return json.loads((folder / INDEX).read_text())["weight_map"]


# ------------------------------------------------------------------------------------------------- stale files


@pytest.mark.parametrize("first,second", [(4096, None), (None, 4096), (4096, 30_000), (30_000, 4096)],
                         ids=["sharded-to-single", "single-to-sharded", "many-to-fewer-shards",
                              "fewer-to-many-shards"])
def test_saving_leaves_no_older_checkpoint_file_behind(tmp_path, first, second):
    save_pretrained(model(1), tmp_path, max_shard_bytes=first)
    (tmp_path / "tokenizer.json").write_text("{}")
    save_pretrained(model(0), tmp_path, max_shard_bytes=second)
    assert same_weights(load_pretrained(tmp_path), model(0))
    written = {"model.safetensors"} if second is None else {INDEX, *weight_map(tmp_path).values()}
    assert {p.name for p in tmp_path.iterdir()} == {"config.json", "tokenizer.json"} | written


def test_saving_removes_shards_an_old_index_names_whatever_their_names(tmp_path):
    save_pretrained(model(1), tmp_path, max_shard_bytes=30_000)
    renamed = {}
    for key, name in weight_map(tmp_path).items():
        renamed[key] = "weights-" + name.split("-")[1] + ".safetensors"
        if not (tmp_path / renamed[key]).exists():
            (tmp_path / name).rename(tmp_path / renamed[key])
    (tmp_path / INDEX).write_text(json.dumps({"weight_map": renamed}))
    save_pretrained(model(0), tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"config.json", "model.safetensors"}


def test_a_folder_with_both_layouts_is_ambiguous(tmp_path):
    save_pretrained(model(1), tmp_path / "sharded", max_shard_bytes=30_000)
    save_pretrained(model(0), tmp_path / "both")
    for file in (tmp_path / "sharded").glob("model*"):
        shutil.copy(file, tmp_path / "both")
    with pytest.raises(CheckpointError, match=f"{tmp_path / 'both'}.*model.safetensors.*{INDEX}.*ambiguous"):
        load_pretrained(tmp_path / "both")


def test_saving_the_same_model_gives_the_same_bytes(tmp_path):
    """Training records compare file digests: the header's metadata (digests and format) is written in one order."""
    saved = model(4)
    contents = set()
    for i in range(8):
        save_pretrained(saved, tmp_path / str(i), max_shard_bytes=None if i % 2 else 30_000)
        contents.add(tuple((p.name, p.read_bytes()) for p in sorted((tmp_path / str(i)).iterdir())))
    assert len(contents) == 2  # one per layout


# ------------------------------------------------------------------------------------------------- the index


def _sharded(tmp_path):
    folder = tmp_path / "ckpt"
    save_pretrained(model(1), folder, max_shard_bytes=30_000)
    return folder, weight_map(folder)


def _point(folder, key, target):
    index = json.loads((folder / INDEX).read_text())
    index["weight_map"][key] = target
    (folder / INDEX).write_text(json.dumps(index))


@pytest.mark.parametrize("where", ["parent", "absolute", "subfolder", "backslash"])
def test_an_index_entry_outside_the_folder_is_refused(tmp_path, where):
    folder, wmap = _sharded(tmp_path)
    key = "transformer.ln_f.weight"
    shard = folder / wmap[key]
    target = {"parent": tmp_path / "x.safetensors", "absolute": tmp_path / "y.safetensors",
              "subfolder": folder / "sub" / shard.name, "backslash": folder / f"sub\\{shard.name}"}[where]
    target.parent.mkdir(exist_ok=True)
    shutil.copy(shard, target)  # the entry would load: only its name is wrong
    entry = {"parent": "../x.safetensors", "absolute": str(target), "subfolder": f"sub/{shard.name}",
             "backslash": f"sub\\{shard.name}"}[where]
    _point(folder, key, entry)
    with pytest.raises(CheckpointError, match=rf"{INDEX}: entry '{key}' -> .*is not a plain file name"):
        load_pretrained(folder)


def test_a_cache_snapshot_of_symlinks_into_a_blobs_folder_loads(tmp_path):
    """Hugging Face's cache: snapshots/<rev>/<file> are symlinks to ../../blobs/<hash>."""
    folder, _ = _sharded(tmp_path)
    blobs, snapshot = tmp_path / "blobs", tmp_path / "snapshots" / "rev"
    blobs.mkdir()
    snapshot.mkdir(parents=True)
    for file in folder.iterdir():
        blob = blobs / hashlib.sha256(file.read_bytes()).hexdigest()
        shutil.copy(file, blob)
        (snapshot / file.name).symlink_to(f"../../blobs/{blob.name}")
    assert same_weights(load_pretrained(snapshot), model(1))


def test_only_the_keys_the_index_assigns_are_read(tmp_path):
    folder, wmap = _sharded(tmp_path)
    key = "transformer.coda.0.norm_1.weight"
    last = max(set(wmap.values()))
    assert wmap[key] != last
    rogue = load_file(folder / last) | {key: torch.zeros(TINY.n_embd)}
    save_file(rogue, folder / last)  # a stray copy in another shard, read last
    assert same_weights(load_pretrained(folder), model(1))


def test_a_shard_lacking_a_key_the_index_assigns_to_it_is_an_error(tmp_path):
    folder, wmap = _sharded(tmp_path)
    key = "transformer.ln_f.weight"
    other = next(name for name in sorted(set(wmap.values())) if name != wmap[key])
    _point(folder, key, other)
    with pytest.raises(CheckpointError, match=rf"{INDEX} assigns tensor '{key}' to .*{other}, which does not hold"):
        load_pretrained(folder)


# ------------------------------------------------------------------------------------------------- weights


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("shard", [None, 30_000])
def test_non_finite_weights_are_refused_naming_tensor_and_file(tmp_path, value, shard):
    bad = model(2)
    with torch.no_grad():
        bad.transformer.core_block[1].mlp.proj.weight[3, 5] = value
    save_pretrained(bad, tmp_path, max_shard_bytes=shard)
    file = "model.safetensors" if shard is None else weight_map(tmp_path)["transformer.core_block.1.mlp.proj.weight"]
    with pytest.raises(CheckpointError, match=rf"{tmp_path / file}: tensor 'transformer\.core_block\.1\.mlp\.proj"
                                              r"\.weight' holds 1 non-finite values"):
        load_pretrained(tmp_path)


def test_non_finite_bfloat16_weights_are_refused(tmp_path):
    bad = random_model(TINY, 2, dtype=torch.bfloat16)
    with torch.no_grad():
        bad.transformer.ln_f.weight[7] = float("nan")
    save_pretrained(bad, tmp_path)
    with pytest.raises(CheckpointError, match="tensor 'transformer.ln_f.weight' holds 1 non-finite"):
        load_pretrained(tmp_path)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_every_tensor_digest_is_stored_in_the_header(tmp_path, dtype):
    saved = random_model(TINY, 5, dtype=dtype)
    save_pretrained(saved, tmp_path)
    with safe_open(tmp_path / "model.safetensors", framework="pt") as f:
        digests = json.loads(f.metadata()[DIGEST_KEY])
        keys = set(f.keys())
    assert set(digests) == keys
    # Independently of the code under test: the digest of the bytes safetensors stores for each tensor.
    raw = (tmp_path / "model.safetensors").read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    for key in keys:
        start, end = header[key]["data_offsets"]
        assert digests[key] == hashlib.sha256(raw[8 + n + start:8 + n + end]).hexdigest(), key


@pytest.mark.parametrize("at", [-1, -200, 0.5])
def test_a_changed_payload_byte_is_refused(tmp_path, at):
    save_pretrained(model(3), tmp_path)
    file = tmp_path / "model.safetensors"
    raw = bytearray(file.read_bytes())
    n = int.from_bytes(raw[:8], "little")
    i = int(8 + n + (len(raw) - 8 - n) * at) if isinstance(at, float) else at
    raw[i] ^= 0x01  # the lowest mantissa bit: the weight still looks plausible
    file.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=rf"{file}: tensor '.*' has sha256 .*its bytes changed"):
        load_pretrained(tmp_path)


def test_a_corrupt_digest_entry_is_refused(tmp_path):
    save_pretrained(model(3), tmp_path)
    tensors = load_file(tmp_path / "model.safetensors")
    save_file(tensors, tmp_path / "model.safetensors", metadata={DIGEST_KEY: "{not json"})
    with pytest.raises(CheckpointError, match=f"model.safetensors: metadata '{DIGEST_KEY}' is not valid JSON"):
        load_pretrained(tmp_path)


def test_a_truncated_file_is_refused_naming_it(tmp_path):
    save_pretrained(model(3), tmp_path)
    file = tmp_path / "model.safetensors"
    file.write_bytes(file.read_bytes()[:-7])
    with pytest.raises(CheckpointError, match=f"{file}: not a readable safetensors file"):
        load_pretrained(tmp_path)
