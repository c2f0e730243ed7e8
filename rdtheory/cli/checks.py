"""The command line's argument rules: each check raises `UsageError` naming the flag, its value and the rule.

Commands check every argument before they compute or print anything, so a bad one costs no work and leaves no
half-printed output. Files are checked as the command will use them: an input must be a readable JSON object (of
the expected `kind`, where the file format has one), an output must go into an existing folder. Knows nothing of
the commands themselves.
"""

import importlib.util
import json
import math
from pathlib import Path
from typing import Any


class UsageError(Exception):
    """A bad argument, an unusable input or output file, or a missing optional module: `main` prints it as one
    line and exits with status 2."""


def count(flag: str, value: int, low: int, high: int | None = None, why: str = "") -> None:
    """An int in [low, high] (high None: no upper bound); `why` explains the upper bound."""
    if value < low or (high is not None and value > high):
        rule = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise UsageError(f"{flag}={value!r} must be an int {rule}{why}")


def positive(flag: str, value: float) -> None:
    """A finite number > 0 (argparse's float also accepts nan and inf)."""
    if not (math.isfinite(value) and value > 0):
        raise UsageError(f"{flag}={value!r} must be a finite number > 0")


def json_object(flag: str, path: str, kind: str | None = None) -> dict[str, Any]:
    """The JSON object in file `path`, whose "kind" must be `kind` when given."""
    try:
        raw = json.loads(Path(path).read_text())
    except OSError as error:
        raise UsageError(f"{flag}={path!r} cannot be read: {error.strerror or error}") from error
    except UnicodeDecodeError as error:
        raise UsageError(f"{flag}={path!r} is not a text file: {error.reason}") from error
    except json.JSONDecodeError as error:
        raise UsageError(f"{flag}={path!r} is not JSON: {error.msg} at line {error.lineno} column "
                         f"{error.colno}") from error
    if not isinstance(raw, dict):
        raise UsageError(f"{flag}={path!r} holds a JSON {type(raw).__name__}; it must hold an object")
    if kind is not None and raw.get("kind") != kind:
        raise UsageError(f"{flag}={path!r} holds kind={raw.get('kind')!r}; it must be {kind!r}")
    return raw


def output_file(flag: str, path: str) -> None:
    """A file the command may create or replace: its folder exists and it is not itself a folder."""
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{flag}={path!r} is a folder; it must be a file name")
    if not target.parent.is_dir():
        raise UsageError(f"{flag}={path!r} cannot be written: its folder {str(target.parent)!r} does not exist")


def output_folder(flag: str, path: str) -> None:
    """A folder the command may create or write into: it is not a file."""
    if Path(path).exists() and not Path(path).is_dir():
        raise UsageError(f"{flag}={path!r} is a file; it must be a folder (created if missing)")


def write_error(flag: str, path: str, error: OSError) -> UsageError:
    """An output that could not be written, as one line naming the flag and the file that failed."""
    failed = f" ({error.filename})" if error.filename and str(error.filename) != path else ""
    return UsageError(f"{flag}={path!r} cannot be written: {error.strerror or error}{failed}")


def requires(module: str, purpose: str, install: str) -> None:
    """`module` is importable, else a one-line error saying what needs it and how to install it."""
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package that fails to import, or a module without a spec
        found = False
    if not found:
        raise UsageError(f"{purpose} needs {module}, which is not installed: {install}")
