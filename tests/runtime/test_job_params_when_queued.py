"""The built-in job types check their params when a job is queued, and speak plainly.

A missing working directory, copy source, folder or script is refused by
``tracker.enqueue`` (as the launch form and the CLI queue jobs) with a ValueError naming the
field, and nothing is queued; a path that disappears between queueing and starting fails
the job with a sentence, never a traceback. An untitled command job is titled by its
command line, and runs in the user's home folder unless told otherwise.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jobdeck.core import JobStatus, JobTracker
from jobdeck.core.registry import JobRegistry, ParamError
from jobdeck.jobs import builtin_registry, register_builtin_jobs
from jobdeck.jobs.command import TITLE_CHARS, command_spec, command_title
from jobdeck.runtime import Runner

from .conftest import finished

WAIT_MS = 15_000


@pytest.fixture
def builtins(make_runner: Callable[..., Runner], registry: JobRegistry) -> Runner:
    register_builtin_jobs(registry)
    return make_runner()


def refused(tracker: JobTracker, type_name: str, params: dict[str, Any]) -> ParamError:
    before = tracker.count_jobs()
    with pytest.raises(ParamError) as info:
        tracker.enqueue(type_name, params)
    assert tracker.count_jobs() == before, "a refused job was queued"
    return info.value


def test_missing_paths_are_refused_when_queued_naming_the_field(
    builtins: Runner, tracker: JobTracker, tmp_path: Path
) -> None:
    gone = tmp_path / "gone"
    a_file = tmp_path / "a.txt"
    a_file.write_text("a")
    cases: list[tuple[str, dict[str, Any], str, str]] = [
        ("command", {"argv": ["ls"], "cwd": str(gone)}, "cwd", f"no such folder: {gone}"),
        ("command", {"argv": ["ls"], "cwd": str(a_file)}, "cwd", f"not a folder: {a_file}"),
        (
            "copy",
            {"source": str(gone), "destination": str(tmp_path)},
            "source",
            f"no such file or folder: {gone}",
        ),
        ("checksum", {"folder": str(gone)}, "folder", f"no such file or folder: {gone}"),
        ("compress", {"folder": str(gone)}, "folder", f"no such folder: {gone}"),
        ("compress", {"folder": str(a_file)}, "folder", f"not a folder: {a_file}"),
        ("python", {"script": str(gone)}, "script", f"no such file: {gone}"),
        ("python", {"script": str(tmp_path)}, "script", f"a folder, not a file: {tmp_path}"),
        (
            "python",
            {"script": str(a_file), "cwd": str(gone)},
            "cwd",
            f"no such folder: {gone}",
        ),
    ]
    for type_name, params, field, problem in cases:
        error = refused(tracker, type_name, params)
        assert (error.field, error.problem) == (field, problem), (type_name, params)
        assert str(error) == f"{field}: {problem}"
    assert tracker.count_jobs() == 0


def test_required_fields_say_what_to_do(builtins: Runner, tracker: JobTracker) -> None:
    cases: list[tuple[str, dict[str, Any], str, str]] = [
        ("command", {}, "argv", "Enter a command"),
        ("command", {"argv": "   "}, "argv", "Enter a command"),
        ("command", {"argv": []}, "argv", "Enter a command"),
        ("copy", {"destination": "/tmp"}, "source", "Choose what to copy"),
        ("checksum", {}, "folder", "Choose a file or folder"),
        ("compress", {}, "folder", "Choose a folder"),
        ("python", {}, "script", "Choose a Python script"),
    ]
    for type_name, params, field, problem in cases:
        error = refused(tracker, type_name, params)
        assert (error.field, error.problem) == (field, problem), type_name


@pytest.mark.parametrize(
    ("env", "field", "problem"),
    [
        ({"A=B": "1"}, "env['A=B']", "is not a usable variable name: it contains '='"),
        ({"": "1"}, "env['']", "is not a usable variable name: it is empty"),
        ({"A\0B": "1"}, "env['A\\x00B']", "is not a usable variable name: it contains NUL"),
        ({"A": "1\0"}, "env['A']", "contains a NUL character"),
    ],
)
def test_an_environment_a_program_cannot_take_is_refused_when_queued(
    tracker: JobTracker, env: dict[str, str], field: str, problem: str
) -> None:
    """Issue 9 item 15: such a command job used to be queued and then fail at start."""
    error = refused(tracker, "command", {"argv": ["true"], "env": env})
    assert (error.field, error.problem) == (field, problem)


def test_one_term_for_the_working_directory() -> None:
    registry = builtin_registry()
    labels = {t.name: [p.label for p in t.params] for t in registry}
    assert registry["command"].param("cwd").label == "Working directory"  # type: ignore[union-attr]
    assert registry["python"].param("cwd").label == "Working directory"  # type: ignore[union-attr]
    assert not [n for n, names in labels.items() if "Cwd" in names], labels


def test_a_path_removed_after_queueing_fails_the_job_with_a_sentence(
    qtbot: Any,
    make_runner: Callable[..., Runner],
    registry: JobRegistry,
    tracker: JobTracker,
    tmp_path: Path,
) -> None:
    register_builtin_jobs(registry)
    runner = make_runner(start=False)
    source = tmp_path / "photos"
    source.mkdir()
    folder = tmp_path / "work"
    folder.mkdir()
    copy = tracker.enqueue("copy", {"source": str(source), "destination": str(tmp_path / "d")})
    command = tracker.enqueue("command", {"argv": ["true"], "cwd": str(folder)})
    source.rmdir()
    folder.rmdir()
    runner.start()
    for job_id, expected in [
        (copy.id, f"source: no such file or folder: {source}"),
        (command.id, f"cwd: no such folder: {folder}"),
    ]:
        qtbot.waitUntil(lambda job_id=job_id: finished(tracker, job_id), timeout=WAIT_MS)
        done = tracker.get_job(job_id)
        assert done is not None and done.status is JobStatus.FAILED
        assert done.error is not None and expected in done.error.message
        assert "Traceback" not in done.error.message and "\n" not in done.error.message


def test_the_same_command_again_still_finds_its_folder_gone(
    qtbot: Any,
    make_runner: Callable[..., Runner],
    registry: JobRegistry,
    tracker: JobTracker,
    tmp_path: Path,
) -> None:
    """A command queued again with the same params starts without its params being
    checked all over again, but its folder is looked at every time."""
    register_builtin_jobs(registry)
    make_runner(max_workers=1)
    folder = tmp_path / "work"
    folder.mkdir()
    params = {"argv": ["/bin/sh", "-c", 'rmdir "$PWD"'], "cwd": str(folder)}
    first, second = tracker.enqueue("command", params), tracker.enqueue("command", params)
    qtbot.waitUntil(lambda: finished(tracker, first.id), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: finished(tracker, second.id), timeout=WAIT_MS)
    done = [tracker.get_job(first.id), tracker.get_job(second.id)]
    assert done[0] is not None and done[0].status is JobStatus.COMPLETED, done[0]
    assert done[1] is not None and done[1].status is JobStatus.FAILED
    assert done[1].error is not None and f"cwd: no such folder: {folder}" in done[1].error.message


def test_command_runs_in_the_home_folder_by_default(
    qtbot: Any,
    runner: Runner,
    tracker: JobTracker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the app's own working directory is not used
    job = tracker.enqueue(
        "command", {"argv": [sys.executable, "-c", "import os; print(os.getcwd())"]}
    )
    assert job.params["cwd"] == ""  # stored as "not given"
    qtbot.waitUntil(lambda: finished(tracker, job.id), timeout=WAIT_MS)
    done = tracker.get_job(job.id)
    assert done is not None and done.status is JobStatus.COMPLETED, done and done.error
    assert done.log_path is not None
    assert Path(done.log_path).read_text().strip() == str(home)
    # ``~`` in a given working directory is the home folder too
    assert command_spec({"argv": ["ls"], "cwd": "~"}).cwd == str(home)


def test_untitled_command_jobs_are_titled_by_their_command_line(
    make_runner: Callable[..., Runner], registry: JobRegistry, tracker: JobTracker
) -> None:
    register_builtin_jobs(registry)
    make_runner(start=False)  # validates and titles; runs nothing
    job = tracker.enqueue("command", {"argv": ["rsync", "-a", "my photos/", "backup/"]})
    assert job.title == "rsync -a 'my photos/' backup/"
    shell = tracker.enqueue("command", {"argv": "make -j4 && make check", "shell": True})
    assert shell.title == "make -j4 && make check"
    titled = tracker.enqueue("command", {"argv": ["true"]}, title="Nightly backup")
    assert titled.title == "Nightly backup"
    other = tracker.enqueue("countdown", {"seconds": 1})
    assert other.title == "Wait / countdown"  # other types keep their type's title
    assert tracker.count_jobs(status=JobStatus.PENDING) == 4


@pytest.mark.parametrize(
    ("argv", "shell", "title"),
    [
        (["/usr/bin/python3", "-m", "http.server"], False, "python3 -m http.server"),
        (["ls"], False, "ls"),
        (["echo", "a\nb"], False, "echo 'a b'"),
        (["for i in 1 2; do\n  echo $i\ndone"], True, "for i in 1 2; do echo $i done"),
        # typed as `python3 -c "print('hi')"`: shown so, not as 'print('"'"'hi'"'"')'
        (["python3", "-c", "print('hi')"], False, "python3 -c \"print('hi')\""),
        (["sh", "-c", "echo '$HOME'"], False, "sh -c 'echo '\"'\"'$HOME'\"'\"''"),
    ],
)
def test_command_title(argv: list[str], shell: bool, title: str) -> None:
    assert command_title(argv, shell=shell) == title


def test_a_long_command_line_is_cut_at_a_word_with_an_ellipsis() -> None:
    argv = ["rsync", "-a", "--info=progress2", *[f"/data/folder{i}" for i in range(20)], "/mnt"]
    title = command_title(argv)
    assert len(title) <= TITLE_CHARS and title.endswith("\u2026")
    assert title.startswith("rsync -a --info=progress2 /data/folder0")
    assert title[:-1] == title[:-1].rstrip() and title[:-1].split()[-1].startswith("/data/folder")
    assert ("/data/folder" + title[:-1].split("/data/folder")[-1]) in argv  # no cut word
    one_word = command_title(["x" * 200])
    assert len(one_word) == TITLE_CHARS and one_word.endswith("\u2026")
