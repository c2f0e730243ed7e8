"""Writing the report's folder all or nothing: a report.md in it always describes the figures beside it.

`staged(folder, where)` removes an earlier report.md at once, hands out a staging folder inside `folder` for the
figures and report.md, and on success moves the figures into `folder` and report.md last. If the run stops
(Ctrl-C or any exception), the staging folder is deleted, report.md says the run is incomplete and where it stopped
(`where()`), and the exception goes on. Figures of an earlier run are never replaced by a run that does not finish.
Knows nothing of what the report computes.
"""

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

REPORT = "report.md"
STAGING_PREFIX = ".report-tmp-"


def incomplete(where: str, error: BaseException) -> str:
    """report.md of a run that stopped: the first line says so and claims no verdict."""
    return (f"# INCOMPLETE: the run was interrupted during {where} ({type(error).__name__}); no check verdict is "
            "claimed.\n\nFigures in this folder, if any, may come from an earlier run. Run `rdtheory report` again "
            "for a complete report.\n")


def publish(staging: Path, folder: Path) -> None:
    """Every file of `staging` into `folder`, report.md last, then the empty staging folder removed."""
    for path in sorted(staging.iterdir()):
        if path.name != REPORT:
            os.replace(path, folder / path.name)
    os.replace(staging / REPORT, folder / REPORT)
    staging.rmdir()


@contextmanager
def staged(folder: Path, where: Callable[[], str]) -> Iterator[Path]:
    """A staging folder for the report's files (module doc); `where()` names the step a stop happened in."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / REPORT).unlink(missing_ok=True)  # from here on, no report.md claims the old run's verdict
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=folder))
    try:
        yield staging
        publish(staging, folder)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        with suppress(OSError):  # an unwritable folder must not hide the error that stopped the run
            (folder / REPORT).write_text(incomplete(where(), error))
        raise
