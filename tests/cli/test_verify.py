"""`rdtheory verify`: the oracle against a checkpoint folder, verdicts printed and written as markdown and JSON."""

import json

import pytest
import torch

import rdtheory.testing.verify as checks
from rdtheory.cli import main
from rdtheory.config import ModelConfig
from rdtheory.model.checkpoint import save_pretrained
from rdtheory.sampling.diffusion_forcing import generate_df
from rdtheory.testing.scale import contractive_model
from rdtheory.testing.verify import CHECKS

SMALL = ModelConfig(vocab_size=48, n_embd=16, n_heads=2, n_layers_in_prelude=1, n_layers_in_recurrent_block=2,
                    n_layers_in_coda=1, intermediate_size=32, block_size=64, mean_recurrence=8, mean_backprop_depth=2)


def run(argv, capsys):
    status = main(argv)
    out = capsys.readouterr()
    return status, out.out, out.err


def test_the_shipped_model_passes_and_the_folder_holds_both_verdicts(tmp_path, capsys):
    status, out, err = run(["verify", "rdtheory/looped-tiny", "--out", str(tmp_path), "--examples", "2"], capsys)
    assert status == 0, out + err
    record = json.loads((tmp_path / "verify.json").read_text())
    assert record["passed"] and [v["check"] for v in record["verdicts"]] == list(CHECKS)
    verdicts = {v["check"]: v["verdict"] for v in record["verdicts"]}
    assert all(verdicts[c] == "PASS" for c in CHECKS[:4]) and verdicts["converged limit"] in ("PASS", "n/a")
    assert all(v["examples"] == 2 for v in record["verdicts"])
    assert "| DF reference | PASS | 2 |" in (tmp_path / "verify.md").read_text()
    assert "5/5 converged limit" in err and "PASS  oracle" in out


def test_a_contractive_checkpoint_gets_its_converged_limit_checked(tmp_path, capsys):
    save_pretrained(contractive_model(SMALL, seed=2, dtype=torch.float64).model, tmp_path / "model")
    status, out, err = run(["verify", str(tmp_path / "model"), "--out", str(tmp_path / "v"), "--examples", "3"],
                           capsys)
    assert status == 0, out + err
    limit = json.loads((tmp_path / "v" / "verify.json").read_text())["verdicts"][-1]
    assert limit["verdict"] == "PASS" and limit["numbers"]["prompts_checked"] >= 1
    assert all(0 < t <= 1 for t in limit["numbers"]["tightness"])


def test_a_wrong_sampler_fails_with_exit_status_one(tmp_path, capsys, monkeypatch):
    def swapped_ema(model, prompts, n, **kw):  # the EMA's two weights swapped (where it acts)
        ema = kw.get("ema", 0.1)
        return generate_df(model, prompts, n, **(kw | dict(ema=1 - ema if ema else 0.0)))

    monkeypatch.setattr(checks, "generate_df", swapped_ema)
    status, out, _ = run(["verify", "rdtheory/looped-tiny", "--out", str(tmp_path), "--examples", "8"], capsys)
    record = json.loads((tmp_path / "verify.json").read_text())
    verdicts = {v["check"]: v for v in record["verdicts"]}
    assert status == 1 and not record["passed"]
    assert verdicts["DF reference"]["verdict"] == "FAIL"
    assert "AssertionError: DF reference row" in verdicts["DF reference"]["detail"]
    assert "FAIL  DF reference" in out and "At least one check FAILED." in (tmp_path / "verify.md").read_text()


def test_the_checks_need_a_float64_model():
    from rdtheory import load_pretrained

    with pytest.raises(TypeError, match="model dtype=torch.float32 must be torch.float64"):
        checks.verify_model(load_pretrained("rdtheory/looped-tiny", dtype=torch.float32))
