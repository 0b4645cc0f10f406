"""Run a Python script as a process job, with a real Python interpreter.

Its progress comes from its output (``42%``, ``12/100``, tqdm bars) or, richer, from
``jobdeck.worker`` (importable in the script: the job's ``PYTHONPATH`` includes Jobdeck).

The interpreter (:func:`python_interpreter`) is the one that runs Jobdeck. A frozen bundle
has none (its program is ``jobdeck`` itself), so it uses ``$JOBDECK_PYTHON``, else the
``python3`` on ``PATH``, and says so clearly when there is neither; ``jobdeck.worker``
comes from the bundle's ``pylib`` folder (standard library only, it runs on any Python 3).
"""

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import jobdeck
from jobdeck.core.registry import Param
from jobdeck.i18n import QT_TRANSLATE_NOOP

if TYPE_CHECKING:
    from jobdeck.core.job import Job
    from jobdeck.core.process_spec import ProcessSpec

JOBDECK_SOURCE_ROOT = str(Path(jobdeck.__file__).resolve().parent.parent)
#: Names the interpreter a frozen bundle runs scripts with (else ``python3`` on ``PATH``).
ENV_PYTHON = "JOBDECK_PYTHON"


def python_interpreter() -> str:
    """The Python that runs scripts: Jobdeck's own, or in a frozen bundle
    ``$JOBDECK_PYTHON`` / ``python3`` on ``PATH``. ValueError saying why when there is none."""
    if not getattr(sys, "frozen", False):
        return sys.executable
    chosen = os.environ.get(ENV_PYTHON, "").strip()
    if chosen:
        found = shutil.which(chosen)
        if found is None:
            raise ValueError(f"{ENV_PYTHON}={chosen} is not an executable Python interpreter")
        return found
    for name in ("python3", "python"):
        found = shutil.which(name)
        if found is not None:
            return found
    raise ValueError(
        "no Python interpreter to run the script: this Jobdeck is a self-contained bundle "
        f"without one; install Python 3 (python3 on PATH) or set {ENV_PYTHON} to one"
    )


def worker_path() -> str:
    """Where scripts import ``jobdeck.worker`` from: Jobdeck's source root, or the bundle's
    ``pylib`` folder (a copy of the standard-library-only worker package)."""
    if getattr(sys, "frozen", False):
        return str(Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) / "pylib")
    return JOBDECK_SOURCE_ROOT


def python_script(
    job: "Job",
    script: Annotated[
        Path,
        Param(
            help=QT_TRANSLATE_NOOP("JobType", "The .py file to run"),
            exists="file",
            missing="Choose a Python script",
        ),
    ],
    args: Annotated[
        list[str], Param(help=QT_TRANSLATE_NOOP("JobType", "Command-line arguments, one per line"))
    ] = (),  # type: ignore[assignment]
    cwd: Annotated[
        Path,
        Param(
            label=QT_TRANSLATE_NOOP("JobType", "Working directory"),
            help=QT_TRANSLATE_NOOP("JobType", "Where it runs; empty: the script's folder"),
            exists="dir",
        ),
    ] = Path(),
) -> "ProcessSpec":
    """Run a Python script; its output goes to the job's log and its progress is tracked."""
    from jobdeck.core.process_spec import ProcessSpec  # (when a job starts, not at import)

    script = script.expanduser()
    if not script.is_file():
        raise ValueError(f"script: no such file: {script}")
    folder = cwd.expanduser() if str(cwd) not in ("", ".") else script.resolve().parent
    pythonpath = os.pathsep.join(filter(None, [worker_path(), os.environ.get("PYTHONPATH")]))
    return ProcessSpec(
        (python_interpreter(), "-u", str(script.resolve()), *args),
        cwd=str(folder),
        env={"PYTHONPATH": pythonpath, "PYTHONUNBUFFERED": "1"},
    )
