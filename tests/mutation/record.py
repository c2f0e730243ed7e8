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
from pathlib import Path

import tomllib
from mutmut.stats import status_by_exit_code

ROOT = Path(__file__).resolve().parents[2]
RECORD = ROOT / "tests" / "mutation" / "record.json"

# Why a surviving mutant is left: (pattern that the mutant's diff lines match, reason). The first matching rule
# names the reason; a survivor that no rule matches is "unexplained", which the record's test refuses.
REASONS: list[tuple[str, str]] = [
    (r"device=(None|n\.device)|, \)$|device=\w+\.device",
     "device placement only: on the CPU, where the suite runs, every tensor is on the one device; the GPU tests "
     "(tests/gpu) place tensors on CUDA"),
]


def mutated_lines(diff: str) -> list[str]:
    return [line[1:].strip() for line in diff.splitlines() if line.startswith(("+", "-"))
            and not line.startswith(("+++", "---"))]


def reason_for(diff: str) -> str:
    changed = mutated_lines(diff)
    for pattern, reason in REASONS:
        if any(re.search(pattern, line) for line in changed):
            return reason
    return "unexplained"


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
