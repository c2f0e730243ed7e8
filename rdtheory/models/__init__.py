"""Models shipped with the package, loaded by name with `rdtheory.load_pretrained("rdtheory/<name>")`.

`rdtheory/looped-tiny`: a recurrent-depth model with Huginn's architecture (h = 128, 0/1/0 layers, 0.25M parameters)
trained with Huginn's recipe on grid reachability (`rdtheory.training`); its folder holds the checkpoint, the
tokenizer, the model card, the training log and the evaluation. No network is involved: the files are package data.
"""

from pathlib import Path

PREFIX = "rdtheory/"
BUNDLED = ("looped-tiny",)
"""Names of the shipped models (without the prefix)."""


def bundled_path(name: str) -> Path:
    """The folder of the shipped model `name` ("rdtheory/looped-tiny" or "looped-tiny")."""
    short = name[len(PREFIX):] if name.startswith(PREFIX) else name
    if short not in BUNDLED:
        raise ValueError(f"name={name!r} is not a shipped model; the shipped ones are "
                         f"{[PREFIX + b for b in BUNDLED]}")
    return Path(__file__).parent / short


def resolve(path: "str | Path") -> Path:
    """A checkpoint folder: an existing path as given, else a shipped model's folder for a "rdtheory/<name>" string."""
    if isinstance(path, str) and path.startswith(PREFIX) and not Path(path).exists():
        return bundled_path(path)
    return Path(path)
