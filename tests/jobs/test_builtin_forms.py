"""The built-in job types in the launch form, as a user fills it in: what is wrong is said
under the field it is about, in plain words, and nothing is queued.

A Runner is built (it installs the tracker's enqueue checks, as in the app) but never
started, so nothing runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from jobdeck.core import JobTracker
from jobdeck.jobs import builtin_registry
from jobdeck.runtime import Runner
from jobdeck.ui.launch_form import LaunchForm


@pytest.fixture
def runner(qapp: Any, tmp_path: Path) -> Iterator[Runner]:
    tracker = JobTracker.open(tmp_path / "jobs.db", registry=builtin_registry())
    runner = Runner(tracker, log_dir=tmp_path / "logs")
    yield runner
    runner.shutdown(timeout=5)
    tracker.close()


def form_for(qtbot: Any, runner: Runner, type_name: str) -> LaunchForm:
    job_type = runner.job_type(type_name)
    assert job_type is not None
    form = LaunchForm(job_type, runner.tracker)
    qtbot.addWidget(form)
    return form


def start(qtbot: Any, form: LaunchForm) -> None:
    qtbot.mouseClick(form.start_button, Qt.MouseButton.LeftButton)


def errors(form: LaunchForm) -> dict[str, str]:
    """The messages shown under fields."""
    return {
        name: label.text() for name, label in form.error_labels.items() if label.isVisibleTo(form)
    }


def test_command_form_says_enter_a_command_and_checks_the_working_directory(
    qtbot: Any, runner: Runner, tmp_path: Path
) -> None:
    form = form_for(qtbot, runner, "command")
    start(qtbot, form)
    assert errors(form) == {"argv": "Enter a command"}
    form.fields["argv"].set_value(["rsync", "-a", "src/", "dst/"])
    form.fields["cwd"].set_value(str(tmp_path / "nowhere"))
    start(qtbot, form)
    assert errors(form) == {"cwd": f"no such folder: {tmp_path / 'nowhere'}"}
    assert runner.tracker.count_jobs() == 0

    form.fields["cwd"].set_value(str(tmp_path))
    with qtbot.waitSignal(form.jobQueued) as queued:
        start(qtbot, form)
    assert errors(form) == {}
    job = runner.tracker.get_job(queued.args[0])
    assert job is not None and job.title == "rsync -a src/ dst/"  # titled by its command line


@pytest.mark.parametrize(
    ("type_name", "field", "message"),
    [
        ("copy", "source", "no such file or folder: {missing}"),
        ("checksum", "folder", "no such file or folder: {missing}"),
        ("compress", "folder", "no such folder: {missing}"),
        ("python", "script", "no such file: {missing}"),
    ],
)
def test_a_missing_path_is_reported_under_its_field(
    qtbot: Any, runner: Runner, tmp_path: Path, type_name: str, field: str, message: str
) -> None:
    form = form_for(qtbot, runner, type_name)
    missing = tmp_path / "missing"
    form.fields[field].set_value(str(missing))
    if "destination" in form.fields:
        form.fields["destination"].set_value(str(tmp_path))
    start(qtbot, form)
    assert errors(form) == {field: message.format(missing=missing)}
    assert runner.tracker.count_jobs() == 0
