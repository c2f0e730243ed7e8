"""The loader's error contract under random single mutations of a valid checkpoint folder.

Oracle: `load_pretrained` either raises FileNotFoundError or CheckpointError with the folder's path in the message,
or returns a model whose weights and rotary table are bit-identical to the saved model's and whose config is what
the (possibly edited) config.json says. Any other exception, or a silently different model, fails.
"""

import json
import shutil
import warnings
from collections import Counter
from pathlib import Path

import hypothesis.strategies as st
import torch
from hypothesis import event, given, settings

from rdtheory import TINY, ModelConfig, load_pretrained, save_pretrained
from rdtheory.model.checkpoint import CheckpointError
from rdtheory.testing.models import random_model

INDEX = "model.safetensors.index.json"
SHARD_BYTES = 30_000
NAMES = ["model.safetensors", INDEX, "model-00009-of-00009.safetensors", "copy.safetensors", "config.json"]
INT_FIELDS = ["n_embd", "n_heads", "n_layers_in_prelude", "n_layers_in_recurrent_block", "n_layers_in_coda",
              "intermediate_size", "block_size", "mean_recurrence", "mean_backprop_depth", "vocab_size",
              "padded_vocab_size", "bos_token_id", "pad_token_id", "head_dim", "n_layers"]
TYPED_FIELDS = INT_FIELDS + ["rope_base", "norm_eps", "qk_bias", "tie_embeddings", "eos_token_id"]
VALID_EDITS = [("mean_recurrence", 1), ("mean_recurrence", 20), ("eos_token_id", [5]), ("eos_token_id", 3),
               ("eos_token_id", []), ("bos_token_id", None), ("bos_token_id", 63), ("pad_token_id", 7),
               ("norm_eps", 1e-5), ("mean_backprop_depth", 0), ("tie_embeddings", False), ("rope_base", 50_000.5),
               ("torch_dtype", "bfloat16"), ("qk_bias", False), ("rope_base", 10_000.0), ("block_size", 256),
               ("n_embd", 64), ("n_layers_in_coda", 2), ("mean_recurrence", 32)]


def _bits(t: torch.Tensor) -> bytes:
    return t.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def _fingerprint(model) -> dict[str, tuple]:
    """Every tensor's dtype, shape and bytes, and the rotary table the model uses."""
    state = {k: (v.dtype, tuple(v.shape), _bits(v)) for k, v in model.state_dict().items()}
    return state | {"freqs_cis": (torch.float32, (), _bits(model.freqs_cis()))}


def _mutate(data: st.DataObject, work: Path, elsewhere: Path) -> str:
    """Apply one random mutation to the folder `work`; return its label."""
    files = sorted(p.name for p in work.iterdir())
    shards = sorted(n for n in files if n.startswith("model-"))
    kinds = ["byte", "truncate", "delete", "duplicate", "rename", "config"] + (["index"] if shards else [])
    kind = data.draw(st.sampled_from(kinds), label="kind")
    if kind in ("byte", "truncate", "delete", "duplicate", "rename"):
        name = data.draw(st.sampled_from(files), label="file")
        file = work / name
        raw = bytearray(file.read_bytes())
        if kind == "byte":
            region = "text"
            lo, hi = 0, len(raw)
            if name.endswith(".safetensors"):
                n = int.from_bytes(raw[:8], "little")
                region = data.draw(st.sampled_from(["length", "header", "payload"]), label="region")
                lo, hi = {"length": (0, 8), "header": (8, 8 + n), "payload": (8 + n, len(raw))}[region]
            i = data.draw(st.integers(lo, hi - 1), label="offset")
            if data.draw(st.booleans(), label="flip"):
                raw[i] ^= 1 << data.draw(st.integers(0, 7), label="bit")
            else:
                raw[i] = data.draw(st.integers(0, 255), label="value")
            file.write_bytes(bytes(raw))
            return f"byte:{region}"
        if kind == "truncate":
            file.write_bytes(bytes(raw[:data.draw(st.integers(0, len(raw) - 1), label="length")]))
        elif kind == "delete":
            file.unlink()
        else:
            target = data.draw(st.sampled_from([n for n in NAMES + shards if n != name]), label="to")
            (shutil.copy if kind == "duplicate" else shutil.move)(file, work / target)
        return kind
    if kind == "index":
        return _edit_index(data, work, shards, elsewhere)
    return _edit_config(data, work)


def _edit_index(data: st.DataObject, work: Path, shards: list[str], elsewhere: Path) -> str:
    index = json.loads((work / INDEX).read_text())
    wmap = index["weight_map"]
    op = data.draw(st.sampled_from(["drop-key", "wrong-shard", "extra-key", "parent", "absolute", "subfolder",
                                    "not-json"]), label="index-op")
    key = data.draw(st.sampled_from(sorted(wmap)), label="key")
    if op == "not-json":
        (work / INDEX).write_bytes(data.draw(st.binary(max_size=30), label="bytes"))
        return "index:not-json"
    if op == "drop-key":
        del wmap[key]
    elif op == "wrong-shard":
        wmap[key] = data.draw(st.sampled_from([s for s in shards if s != wmap[key]]), label="shard")
    elif op == "extra-key":
        wmap["transformer.extra.weight"] = wmap[key]
    else:
        # The file the entry points to exists and holds the key, from another model: following it would load.
        shard = wmap[key]
        target = {"parent": work.parent / shard, "absolute": elsewhere / shard, "subfolder": work / "sub" / shard}[op]
        target.parent.mkdir(exist_ok=True)
        if target != elsewhere / shard:
            shutil.copy(elsewhere / shard, target)
        wmap[key] = {"parent": f"../{shard}", "absolute": str(target), "subfolder": f"sub/{shard}"}[op]
    (work / INDEX).write_text(json.dumps(index))
    return f"index:{op}"


def _edit_config(data: st.DataObject, work: Path) -> str:
    file = work / "config.json"
    config = json.loads(file.read_text())
    op = data.draw(st.sampled_from(["delete", "wrong-type", "out-of-range", "valid", "not-json"]), label="config-op")
    if op == "delete":
        del config[data.draw(st.sampled_from(sorted(config)), label="field")]
    elif op == "wrong-type":
        field = data.draw(st.sampled_from(TYPED_FIELDS), label="field")
        config[field] = data.draw(st.sampled_from(["32", 3.5, True, None, [1], {"a": 1}]), label="value")
    elif op == "out-of-range":
        field = data.draw(st.sampled_from(INT_FIELDS), label="field")
        config[field] = data.draw(st.sampled_from([0, -1, -64, 10**6]), label="value")
    elif op == "valid":
        field, value = data.draw(st.sampled_from(VALID_EDITS), label="edit")
        config[field] = value
    if op == "not-json":
        file.write_bytes(data.draw(st.binary(max_size=30), label="bytes"))
    else:
        file.write_text(json.dumps(config))
    return f"config:{op}"


def test_single_mutations_raise_a_documented_error_or_load_the_saved_model(tmp_path):
    saved = random_model(TINY, 11, dtype=torch.float32)
    other = random_model(TINY, 12, dtype=torch.float32)
    pristine = {layout: save_pretrained(saved, tmp_path / layout, max_shard_bytes=shard)
                for layout, shard in (("single", None), ("sharded", SHARD_BYTES))}
    elsewhere = save_pretrained(other, tmp_path / "other", max_shard_bytes=SHARD_BYTES)
    expected = _fingerprint(saved)
    outcomes: Counter = Counter()

    @settings(max_examples=300)
    @given(layout=st.sampled_from(sorted(pristine)), data=st.data())
    def check(layout: str, data: st.DataObject) -> None:
        sandbox = tmp_path / "sandbox"
        shutil.rmtree(sandbox, ignore_errors=True)
        work = sandbox / "ckpt"
        shutil.copytree(pristine[layout], work)
        label = _mutate(data, work, elsewhere)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unknown config.json keys warn; the warning is not under test
            try:
                model = load_pretrained(work)
            except (FileNotFoundError, CheckpointError) as e:
                assert str(work) in str(e), f"{label}: the message does not name the folder: {e}"
                outcomes["raised"] += 1
                outcomes[f"raised:{label}"] += 1
                event(f"{label}: raised")
                return
            config = ModelConfig.from_huggingface(json.loads((work / "config.json").read_text()))
        assert model.config == config, label
        assert _fingerprint(model) == expected, f"{label}: loaded a model other than the saved one"
        outcomes["loaded"] += 1
        outcomes[f"loaded:{label}"] += 1
        event(f"{label}: loaded")

    check()
    total = outcomes["raised"] + outcomes["loaded"]
    # Not vacuous: most mutations must be caught, and harmless ones (a valid config edit, a deleted optional field,
    # a stray copy of a file, a dropped index entry for the tied lm_head) must still load. The derandomized default
    # profile gives 261 raised and 39 loaded of 300 (87% / 13%).
    assert outcomes["raised"] >= 0.5 * total, outcomes
    assert outcomes["loaded"] >= 0.05 * total, outcomes
    for label in ("byte:length", "byte:header", "byte:payload", "truncate", "delete", "rename", "index:parent",
                  "index:absolute", "index:subfolder", "index:wrong-shard", "config:out-of-range"):
        assert outcomes[f"raised:{label}"] >= 1, (label, outcomes)
    assert outcomes["loaded:config:valid"] >= 1 and outcomes["loaded:config:delete"] >= 1, outcomes
