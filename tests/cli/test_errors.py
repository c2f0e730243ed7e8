"""Every error of the `rdtheory` command is one line on stderr naming the argument and the rule, with exit status
2 and nothing on stdout; a closed output pipe ends a command quietly; `rdtheory bench` without CUDA."""

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
import torch

from rdtheory.cli import main
from rdtheory.gpu import bench

DATA = resources.files("rdtheory.costs") / "data"
STAGES, GENERATION = str(DATA / "h100_stage_latency_compiled.json"), str(DATA / "h100_generation_compiled.json")
ROOT = Path(__file__).resolve().parents[2]
FIT = ["--stages", STAGES, "--generation", GENERATION]

# (argv with {tmp} for a folder holding list.json, bad.json, file.txt and calibration-like files; what names the
# argument; what states the rule)
PATHS = [
    (["plan", "--calibration", "{tmp}/missing.json"], "--calibration='", "cannot be read: No such file"),
    (["plan", "--calibration", "{tmp}/bad.json"], "--calibration='", "is not JSON: "),
    (["plan", "--calibration", "{tmp}/list.json"], "--calibration='", "holds a JSON list; it must hold an object"),
    (["plan", "--calibration", STAGES], "--calibration='", "kind='stage_latency'; it must be 'calibration'"),
    (["plan", "--calibration", "{tmp}/no_fields.json"], "--calibration='", "lacks the field 'hardware'"),
    (["plan", "--calibration", "{tmp}/bad_field.json"], "--calibration='", "is not a valid calibration: "),
    (["plan", "--roofline", "--calibration", "{tmp}/list.json"], "--roofline", "exclude each other"),
    (["plan", "--target", "0"], "--target=0.0", "must be a finite number > 0"),
    (["plan", "--target", "-5"], "--target=-5.0", "must be a finite number > 0"),
    (["plan", "--target", "nan"], "--target=nan", "must be a finite number > 0"),
    (["plan", "--search", "--show", "-1"], "--show=-1", "must be an int >= 1"),
    (["plan", "--search", "--show", "0"], "--show=0", "must be an int >= 1"),
    (["plan", "--batch", "0"], "--batch=0", "must be an int >= 1"),
    (["plan", "--prompt", "0"], "--prompt=0", "must be an int >= 1"),
    (["plan", "--tokens", "-3"], "--tokens=-3", "must be an int >= 1"),
    (["plan", "--depth", "0"], "--depth=0", "must be an int >= 1"),
    (["plan", "--sampler", "ar", "--inner", "0"], "--inner=0", "must be an int >= 1"),
    (["plan", "--cap", "0"], "--cap=0", "must be an int >= 1"),
    (["plan", "--headway", "0"], "--headway=0", "must be an int >= 1"),
    (["plan", "--cap", "1", "--headway", "2"], "--cap=1", "must be >= --headway=2"),
    (["plan", "--prompt", "4000", "--tokens", "200"], "--prompt=4000 + --tokens=200", "must be <= 4096"),
    (["plan", "--model", "tiny", "--prompt", "100"], "--prompt=100 + --tokens=48", "must be <= 128"),
    (["plan", "--hardware", "TPU v9", "--target", "10"], "--hardware='TPU v9'", "is unknown; known: "),
    (["plan", "--hardware", "L40S", "--batch", "64", "--prompt", "3000", "--tokens", "1000", "--search"],
     "lower batch, prompt_length or new_tokens", "> memory_bytes=48 GB of L40S"),
    (["report", "--out", "/proc/x"], "--out='/proc/x'", "cannot be written"),
    (["report", "--out", "{tmp}/file.txt"], "--out='", "is a file; it must be a folder"),
    (["report", "--out", "{tmp}/file.txt/sub"], "--out='", "cannot be written"),
    (["demo", "--depth", "0"], "--depth=0", "must be an int >= 1"),
    (["demo", "--inner", "0"], "--inner=0", "must be an int >= 1"),
    (["demo", "--tokens", "-1"], "--tokens=-1", "must be an int in [0, 122]"),
    (["demo", "--tokens", "123"], "--tokens=123", "share the tiny model's 128 positions"),
    (["demo", "--seed", "-1"], "--seed=-1", "must be an int in [0, 2**64)"),
    (["calibrate", *FIT, "--out", "/proc/x/c.json"], "--out='/proc/x/c.json'", "its folder '/proc/x' does not exist"),
    (["calibrate", *FIT, "--out", "/proc/c.json"], "--out='/proc/c.json'", "cannot be written"),
    (["calibrate", *FIT, "--out", "{tmp}"], "--out='", "is a folder; it must be a file name"),
    (["calibrate", *FIT, "--validation", "{tmp}/generation.json", "--out", "{tmp}/generation.json"], "--out='",
     "is also --validation: writing it would destroy that measurement file"),
    (["calibrate", "--stages", "{tmp}/list.json", "--generation", GENERATION, "--out", "{tmp}/c.json"],
     "--stages='", "holds a JSON list; it must hold an object"),
    (["calibrate", "--stages", STAGES, "--generation", "{tmp}/list.json", "--out", "{tmp}/c.json"],
     "--generation='", "holds a JSON list; it must hold an object"),
    (["calibrate", *FIT, "--validation", "{tmp}/list.json", "--out", "{tmp}/c.json"],
     "--validation='", "holds a JSON list; it must hold an object"),
    (["calibrate", "--stages", GENERATION, "--generation", GENERATION, "--out", "{tmp}/c.json"],
     "--stages='", "kind='generation_speed'; it must be 'stage_latency'"),
    (["calibrate", "--stages", "{tmp}/bad.json", "--generation", GENERATION, "--out", "{tmp}/c.json"],
     "--stages='", "is not JSON: "),
    (["calibrate", "--stages", "{tmp}/missing.json", "--generation", GENERATION, "--out", "{tmp}/c.json"],
     "--stages='", "cannot be read: No such file"),
    (["calibrate", "--stages", "{tmp}/no_records.json", "--generation", GENERATION, "--out", "{tmp}/c.json"],
     "--stages, --generation or --validation", "lacks the field 'records'"),
    (["calibrate", *FIT, "--hardware", "nope", "--out", "{tmp}/c.json"], "--hardware='nope'", "is unknown; known: "),
    (["bench", "--out", "{tmp}/b.json"], "bench: error: needs a CUDA device", "torch.cuda.is_available() is False"),
    (["bench", "--out", "{tmp}/b.json", "--only", "nope"], "--only='nope'", "is not a case; cases: 'AR r=32'"),
    (["bench", "--out", "{tmp}/b.json", "--profile", "DF fixed r'=4"] + ["--only", "AR r=32"],
     "--profile=\"DF fixed r'=4\"", "must also be in --only"),
    (["bench", "--out", "{tmp}/missing/b.json"], "--out='", "must be a file in an existing folder"),
    (["verify", "{tmp}/missing"], "checkpoint='", "cannot be loaded: "),
    (["verify", "{tmp}/list.json"], "checkpoint='", "cannot be loaded: "),
    (["verify", "rdtheory/looped-tiny", "--examples", "0"], "--examples=0", "must be an int >= 1"),
    (["verify", "rdtheory/looped-tiny", "--tokens", "0"], "--tokens=0", "must be an int >= 1"),
    (["verify", "rdtheory/looped-tiny", "--max-depth", "0"], "--max-depth=0", "must be an int >= 1"),
    (["verify", "rdtheory/looped-tiny", "--seed", "-1"], "--seed=-1", "must be an int >= 0"),
    (["verify", "rdtheory/looped-tiny", "--out", "{tmp}/list.json"], "--out='", "is a file; it must be a folder"),
    (["verify", "rdtheory/looped-tiny", "--prompt-tokens", "190"], "--prompt-tokens=190", "must fit the model's "
     "block_size=192"),
]


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "file.txt").write_text("")
    (tmp_path / "no_fields.json").write_text(json.dumps({"kind": "calibration"}))
    shipped = json.loads((resources.files("rdtheory.costs") / "data" / "h100_calibration.json").read_text())
    (tmp_path / "bad_field.json").write_text(json.dumps(shipped | {"band": {"low": 0.5, "high": -0.5}}))
    (tmp_path / "no_records.json").write_text(json.dumps({"kind": "stage_latency"}))
    (tmp_path / "generation.json").write_text(Path(GENERATION).read_text())
    return tmp_path


def one_error_line(capsys: pytest.CaptureFixture[str], command: str) -> str:
    """The single stderr line of a failed command, after checking that nothing else was printed."""
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert captured.out == "", captured.out
    assert lines[0].startswith(f"rdtheory {command}: error: "), lines[0]
    return lines[0]


@pytest.mark.parametrize("argv, argument, rule", PATHS, ids=[" ".join(p[0]).replace(str(DATA), "DATA") for p in PATHS])
def test_every_error_is_one_line_naming_the_argument_and_the_rule(argv, argument, rule, inputs, capsys,
                                                                   monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    argv = [a.replace("{tmp}", str(inputs)) for a in argv]
    assert main(argv) == 2
    line = one_error_line(capsys, argv[0])
    assert argument in line and rule in line, line
    assert not (inputs / "c.json").exists() and not (inputs / "b.json").exists()


def test_calibrate_without_scipy_names_the_module_and_how_to_install_it(tmp_path, capsys, monkeypatch):
    for name in ("scipy", "scipy.optimize"):
        monkeypatch.setitem(sys.modules, name, None)  # the import fails as if scipy were not installed
    assert main(["calibrate", *FIT, "--out", str(tmp_path / "c.json")]) == 2
    line = one_error_line(capsys, "calibrate")
    assert "needs scipy, which is not installed: pip install scipy" in line
    assert not (tmp_path / "c.json").exists()


def test_bench_keeps_its_module_entry_point_with_the_same_options(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert bench.main(["--out", str(tmp_path / "b.json"), "--compile"]) == 2
    captured = capsys.readouterr()
    assert captured.err == "rdtheory bench: error: needs a CUDA device; torch.cuda.is_available() is False\n"
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    text = capsys.readouterr().out
    assert all(flag in text for flag in ("--out", "--only", "--profile", "--compile")), text


@pytest.mark.parametrize("argv, unbuffered", [(["plan"], False), (["plan"], True),
                                              (["plan", "--search", "--json"], False)])
def test_a_closed_output_pipe_ends_the_command_quietly(argv, unbuffered):
    """The reader closes its end before the command writes (as `| head` does once it has read enough), so the
    command's first write meets a closed pipe: at the final flush for the short text on a buffered stdout, during
    the command for the long JSON or an unbuffered stdout."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"} | ({"PYTHONUNBUFFERED": "1"}
                                                                           if unbuffered else {})
    proc = subprocess.Popen([sys.executable, "-m", "rdtheory.cli", *argv], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 141, err
    assert err == "", err
