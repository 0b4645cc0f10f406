"""The built-in ``python`` job type: a script run as a supervised process job."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from jobdeck.core import JobStatus, JobTracker
from jobdeck.core.registry import JobRegistry, ParamError
from jobdeck.jobs import register_builtin_jobs
from jobdeck.jobs.python_script import ENV_PYTHON, python_interpreter, python_script
from jobdeck.runtime import Runner

from .conftest import ProgressRecorder, finished

WAIT_MS = 15_000


@pytest.fixture
def builtin_runner(make_runner: Callable[..., Runner], registry: JobRegistry) -> Runner:
    register_builtin_jobs(registry)
    return make_runner()


def test_script_using_the_worker_helper_reports_progress_and_result(
    qtbot, builtin_runner: Runner, tracker: JobTracker, progress: ProgressRecorder, tmp_path: Path
) -> None:
    script = tmp_path / "count.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys
            from jobdeck.worker import run_job

            def work(job):
                for i in range(1, 6):
                    job.progress(current=i, total=5, message=f"step {i} of {sys.argv[1]}")
                job.info("all steps done")
                return {"steps": 5}

            run_job(work)
            """
        )
    )
    job = tracker.enqueue("python", {"script": str(script), "args": ["five"]})
    assert job.title == "Run a Python script"
    qtbot.waitUntil(lambda: finished(tracker, job.id), timeout=WAIT_MS)
    done = tracker.get_job(job.id)
    assert done is not None and done.status is JobStatus.COMPLETED, done
    assert done.result == {"steps": 5}
    assert progress.max_current[job.id] == 5 and progress.totals[job.id] == 5
    assert any("all steps done" in e.message for e in tracker.logs(job.id))


def test_plain_script_output_progress_and_failure(
    qtbot, builtin_runner: Runner, tracker: JobTracker, progress: ProgressRecorder, tmp_path: Path
) -> None:
    script = tmp_path / "fails.py"
    script.write_text("for p in (25, 50):\n    print(f'{p}%', flush=True)\nraise SystemExit(3)\n")
    job = tracker.enqueue("python", {"script": str(script)})
    qtbot.waitUntil(lambda: finished(tracker, job.id), timeout=WAIT_MS)
    done = tracker.get_job(job.id)
    assert done is not None and done.status is JobStatus.FAILED
    assert done.error is not None and "exit status 3" in done.error.message
    assert progress.max_current[job.id] == 50


def test_missing_script_is_refused_when_queued(
    builtin_runner: Runner, tracker: JobTracker, tmp_path: Path
) -> None:
    with pytest.raises(ParamError) as info:
        tracker.enqueue("python", {"script": str(tmp_path / "nope.py")})
    assert info.value.field == "script"
    assert info.value.problem == f"no such file: {tmp_path / 'nope.py'}"
    assert tracker.count_jobs() == 0


def test_script_removed_after_queueing_fails_saying_so(
    qtbot,
    make_runner: Callable[..., Runner],
    registry: JobRegistry,
    tracker: JobTracker,
    tmp_path: Path,
) -> None:
    register_builtin_jobs(registry)
    runner = make_runner(start=False)
    script = tmp_path / "gone.py"
    script.write_text("print('hi')\n")
    job = tracker.enqueue("python", {"script": str(script)})
    script.unlink()
    runner.start()
    qtbot.waitUntil(lambda: finished(tracker, job.id), timeout=WAIT_MS)
    done = tracker.get_job(job.id)
    assert done is not None and done.status is JobStatus.FAILED
    assert done.error is not None and f"no such file: {script}" in done.error.message
    assert "Traceback" not in done.error.message


class TestInAFrozenBundle:
    """A frozen bundle's program is ``jobdeck`` itself: scripts need a real Python."""

    @pytest.fixture(autouse=True)
    def frozen(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.setattr(sys, "frozen", True, raising=False)
        monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path / "bundle"), raising=False)
        monkeypatch.delenv(ENV_PYTHON, raising=False)

    def test_the_python3_on_path_runs_the_script_and_the_worker_comes_from_the_bundle(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        (bin_dir / "python3").symlink_to(sys.executable)
        monkeypatch.setenv("PATH", str(bin_dir))
        script = tmp_path / "s.py"
        script.write_text("print('hi')\n")
        spec = python_script(None, script)  # type: ignore[arg-type]
        assert spec.argv[0] == str(bin_dir / "python3")
        assert spec.env["PYTHONPATH"].split(os.pathsep)[0] == str(tmp_path / "bundle" / "pylib")

    def test_jobdeck_python_names_the_interpreter(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(ENV_PYTHON, sys.executable)
        assert python_interpreter() == sys.executable
        monkeypatch.setenv(ENV_PYTHON, "/nowhere/python")
        with pytest.raises(ValueError, match="JOBDECK_PYTHON=/nowhere/python is not an executable"):
            python_interpreter()

    def test_without_any_python_the_error_says_why_and_what_to_do(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("PATH", str(tmp_path / "empty"))
        with pytest.raises(ValueError) as error:
            python_interpreter()
        assert str(error.value) == (
            "no Python interpreter to run the script: this Jobdeck is a self-contained bundle "
            "without one; install Python 3 (python3 on PATH) or set JOBDECK_PYTHON to one"
        )
