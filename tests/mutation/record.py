"""Write tests/mutation/record.json from the results of `mutmut run` (the configuration is pyproject's
[tool.mutmut]): every mutant of the diffusion-forcing tick's modules with its status, each survivor with its diff
and the reason it is equivalent or left, the score, and the hash of every mutated module (so that the record's test
notices when a module changed after the run). Run from the repository root: python tests/mutation/record.py
"""

import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import tomllib
from mutmut.stats import status_by_exit_code

ROOT = Path(__file__).resolve().parents[2]
RECORD = ROOT / "tests" / "mutation" / "record.json"

# Why a surviving mutant is left: (test on the removed and the added line of the mutant's diff, reason). The first
# rule that holds names the reason; a survivor that no rule explains is "unexplained", which the record's test
# refuses.
Rule = tuple[Callable[[str, str], bool], str]
REASONS: list[Rule] = [
    (lambda old, new: "device=" in old and ("device=None" in new or "device=" not in new),
     "device placement only: on the CPU, where the suite runs, every tensor is on the one device (the GPU tests in "
     "tests/gpu place them on CUDA)"),
    (lambda old, new: re.search(r"torch\.full\(shape, -1, dtype=torch\.long", old) is not None
     and re.search(r"torch\.full\(shape, -1, (dtype=None, )?device", new) is not None,
     "equivalent: torch.full with an integer fill value makes an int64 tensor without dtype=torch.long"),
]


def changed_pair(diff: str) -> tuple[str, str]:
    """The removed and the added line of a one-line mutant (joined where the mutant spans several lines)."""
    lines = diff.splitlines()
    old = " ".join(line[1:].strip() for line in lines if line.startswith("-") and not line.startswith("---"))
    new = " ".join(line[1:].strip() for line in lines if line.startswith("+") and not line.startswith("+++"))
    return old, new


def reason_for(diff: str) -> str:
    old, new = changed_pair(diff)
    return next((reason for holds, reason in REASONS if holds(old, new)), "unexplained")


def main() -> int:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    mutants, modules = [], {}
    for source in config["only_mutate"]:
        meta = json.loads((ROOT / "mutants" / (source + ".meta")).read_text())
        modules[source] = hashlib.sha256((ROOT / source).read_bytes()).hexdigest()
        for name, code in sorted(meta["exit_code_by_key"].items()):
            mutants.append({"name": name, "module": source, "status": status_by_exit_code[code]})
    for m in mutants:
        if m["status"] != "killed":
            shown = subprocess.run([sys.executable, "-m", "mutmut", "show", m["name"]], cwd=ROOT, check=True,
                                   capture_output=True, text=True).stdout
            m["diff"] = shown.split("\n", 1)[1] if "\n" in shown else shown
            m["reason"] = reason_for(m["diff"])
    killed = sum(m["status"] == "killed" for m in mutants)
    record = {"config": config, "modules": modules, "mutants": len(mutants), "killed": killed,
              "score": killed / len(mutants), "survivors": [m for m in mutants if m["status"] != "killed"],
              "statuses": {s: sum(m["status"] == s for m in mutants) for s in sorted({m["status"] for m in mutants})}}
    RECORD.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    print(f"{killed} of {len(mutants)} mutants killed ({record['score']:.1%}); {record['statuses']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
