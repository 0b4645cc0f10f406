"""Run a Python script with the Python that runs Jobdeck, as a process job.

Its progress comes from its output (``42%``, ``12/100``, tqdm bars) or, richer, from
``jobdeck.worker`` (importable in the script: the job's ``PYTHONPATH`` includes Jobdeck).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import jobdeck
from jobdeck.core.job import Job
from jobdeck.core.process_spec import ProcessSpec
from jobdeck.core.registry import Param
from jobdeck.i18n import QT_TRANSLATE_NOOP

JOBDECK_SOURCE_ROOT = str(Path(jobdeck.__file__).resolve().parent.parent)


def python_script(
    job: Job,
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
) -> ProcessSpec:
    """Run a Python script; its output goes to the job's log and its progress is tracked."""
    script = script.expanduser()
    if not script.is_file():
        raise ValueError(f"script: no such file: {script}")
    folder = cwd.expanduser() if str(cwd) not in ("", ".") else script.resolve().parent
    pythonpath = os.pathsep.join(filter(None, [JOBDECK_SOURCE_ROOT, os.environ.get("PYTHONPATH")]))
    return ProcessSpec(
        (sys.executable, "-u", str(script.resolve()), *args),
        cwd=str(folder),
        env={"PYTHONPATH": pythonpath, "PYTHONUNBUFFERED": "1"},
    )
