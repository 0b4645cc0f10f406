"""Real programs as command jobs, and jobs that go wrong: clear errors, nothing else breaks."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from jobdeck.core import JobContext, JobStatus, JobTracker
from jobdeck.core.registry import JobRegistry
from jobdeck.runtime import Runner
from jobdeck.runtime.store_folder import StoreFolder
from jobdeck.runtime.supervisor_client import SupervisorClient

from .conftest import ProgressRecorder, finished

WAIT_MS = 10_000


def run_to_end(qtbot, tracker: JobTracker, job_id: str):
    qtbot.waitUntil(lambda: finished(tracker, job_id), timeout=WAIT_MS)
    job = tracker.get_job(job_id)
    assert job is not None
    return job


# -- real programs ----------------------------------------------------------------------------


def test_sh_loop_reports_counted_progress(
    qtbot, runner: Runner, tracker: JobTracker, progress: ProgressRecorder
) -> None:
    job = tracker.enqueue("command", {"argv": ["sh", "-c", 'for i in 1 2 3; do echo "$i/3"; done']})
    done = run_to_end(qtbot, tracker, job.id)
    assert done.status is JobStatus.COMPLETED and done.exit_code == 0
    assert progress.max_current[job.id] == 3 and progress.totals[job.id] == 3
    assert done.pid is not None and done.log_path is not None
    assert Path(done.log_path).read_text() == "1/3\n2/3\n3/3\n"


def test_python_printing_percents_reports_progress(
    qtbot, runner: Runner, tracker: JobTracker, progress: ProgressRecorder
) -> None:
    code = "import time\nfor p in range(0, 101, 10):\n    print(f'{p}%', flush=True)\n"
    code += "    time.sleep(0.01)\n"
    job = tracker.enqueue("command", {"argv": [sys.executable, "-c", code]})
    done = run_to_end(qtbot, tracker, job.id)
    assert done.status is JobStatus.COMPLETED
    assert progress.max_current[job.id] == 100 and progress.totals[job.id] == 100
    seen = {
        e.job.progress.current
        for e in progress.events
        if e.job.id == job.id and e.job.status is JobStatus.RUNNING
    }
    assert len(seen - {0, 100}) >= 1, "no intermediate progress reached the tracker"


def test_python_m_tqdm_bar_reports_progress(
    qtbot, runner: Runner, tracker: JobTracker, progress: ProgressRecorder
) -> None:
    python = shlex.quote(sys.executable)
    command = f"seq 1 100 | {python} -m tqdm --total 100 --mininterval 0 > /dev/null"
    job = tracker.enqueue("command", {"argv": [command], "shell": True})
    done = run_to_end(qtbot, tracker, job.id)
    assert done.status is JobStatus.COMPLETED, done.error
    assert progress.max_current[job.id] == 100 and progress.totals[job.id] == 100


def test_command_env_cwd_and_output_in_the_log(
    qtbot, runner: Runner, tracker: JobTracker, tmp_path: Path
) -> None:
    job = tracker.enqueue(
        "command",
        {
            "argv": ["sh", "-c", 'echo "$GREETING from $(pwd)"'],
            "cwd": str(tmp_path),
            "env": {"GREETING": "hello"},
        },
    )
    done = run_to_end(qtbot, tracker, job.id)
    assert done.status is JobStatus.COMPLETED
    line = f"hello from {tmp_path}"
    assert done.progress.message == line  # the last output line shows as the message
    assert [entry.message for entry in tracker.logs(job.id)] == [line]


def test_queueing_a_command_gets_the_supervisor_ready_before_its_turn(
    qtbot, runner: Runner, tracker: JobTracker
) -> None:
    """The first queued command job starts the store's supervisor service in the
    background, so that its start does not wait for it once its turn comes."""
    service = SupervisorClient(StoreFolder(tracker.store.path).records)
    assert not service.connect_if_running()
    later = tracker.now() + 3600  # not its turn during this test
    job = tracker.enqueue("command", {"argv": ["true"]}, run_at=later)
    qtbot.waitUntil(service.connect_if_running, timeout=WAIT_MS)
    service.close()
    current = tracker.get_job(job.id)
    assert current is not None and current.status is JobStatus.PENDING


def test_nonzero_exit_fails_with_status_and_last_lines(
    qtbot, runner: Runner, tracker: JobTracker
) -> None:
    script = "for i in $(seq 1 30); do echo line $i; done; echo 'no space left' >&2; exit 3"
    job = tracker.enqueue("command", {"argv": ["sh", "-c", script]})
    done = run_to_end(qtbot, tracker, job.id)
    assert done.status is JobStatus.FAILED and done.exit_code == 3
    assert done.error is not None
    message = done.error.message
    assert message.startswith("exit status 3")
    assert "no space left" in message and "line 30" in message
    assert "line 1\n" not in message  # only the tail


def test_missing_executable_fails_saying_so(qtbot, runner: Runner, tracker: JobTracker) -> None:
    job = tracker.enqueue("command", {"argv": ["jobdeck-no-such-program-xyz", "--help"]})
    done = run_to_end(qtbot, tracker, job.id)
    assert done.status is JobStatus.FAILED
    assert "executable not found" in str(done.error)
    assert "jobdeck-no-such-program-xyz" in str(done.error)


def test_command_killed_by_a_signal_says_which(qtbot, runner: Runner, tracker: JobTracker) -> None:
    job = tracker.enqueue("command", {"argv": ["sh", "-c", "kill -KILL $$"]})
    done = run_to_end(qtbot, tracker, job.id)
    assert done.status is JobStatus.FAILED
    assert "killed by signal SIGKILL (9)" in str(done.error)


def test_command_timeout_terminates_the_process(
    qtbot, runner: Runner, tracker: JobTracker, clock
) -> None:
    job = tracker.enqueue("command", {"argv": ["sleep", "60"]}, timeout=5)
    qtbot.waitUntil(lambda: tracker.get_job(job.id).pid is not None, timeout=WAIT_MS)  # type: ignore[union-attr]
    clock.advance(5)
    runner.poke()
    done = run_to_end(qtbot, tracker, job.id)
    assert done.status is JobStatus.FAILED
    assert str(done.error) == "timed out after 5 s"


# -- jobs that go wrong -----------------------------------------------------------------------


def test_raising_job_fails_with_message_and_traceback_and_others_still_run(
    qtbot, runner: Runner, tracker: JobTracker, registry: JobRegistry
) -> None:
    @registry.job_type("broken")
    def broken(ctx: JobContext, n: int) -> None:
        raise ValueError(f"bad input {n}")

    registry.register("fine", lambda ctx: {"ok": True})
    bad = tracker.enqueue("broken", {"n": 7})
    good = tracker.enqueue("fine")
    failed = run_to_end(qtbot, tracker, bad.id)
    assert failed.status is JobStatus.FAILED and failed.error is not None
    assert failed.error.message == "ValueError: bad input 7"
    assert failed.error.traceback is not None and "in broken" in failed.error.traceback
    assert run_to_end(qtbot, tracker, good.id).result == {"ok": True}


def test_non_json_result_fails_clearly(
    qtbot, runner: Runner, tracker: JobTracker, registry: JobRegistry
) -> None:
    registry.register("garbage", lambda ctx: {"when": object()})
    job = tracker.enqueue("garbage")
    done = run_to_end(qtbot, tracker, job.id)
    assert done.status is JobStatus.FAILED
    assert str(done.error).startswith("returned a non-JSON result: result.when")


def test_async_job_that_raises_fails(
    qtbot, runner: Runner, tracker: JobTracker, registry: JobRegistry
) -> None:
    @registry.job_type("async-broken")
    async def async_broken(ctx: JobContext) -> None:
        raise KeyError("missing")

    job = tracker.enqueue("async-broken")
    done = run_to_end(qtbot, tracker, job.id)
    assert done.status is JobStatus.FAILED and "KeyError" in str(done.error)


@pytest.mark.parametrize(
    ("job_type", "params", "field"),
    [
        ("typed", {"count": "many"}, "count"),
        ("typed", {}, "count"),
        ("typed", {"count": 1, "extra": 2}, "extra"),
        ("command", {}, "argv"),
        ("command", {"argv": []}, "argv"),
        ("command", {"argv": ["ls", 3]}, "argv[1]"),
        ("command", {"argv": ["a", "b"], "shell": True}, "argv"),
        ("command", {"argv": ["ls"], "env": {"X": 1}}, "env['X']"),
        ("command", {"argv": ["ls"], "shell": "maybe"}, "shell"),
    ],
)
def test_invalid_params_raise_naming_the_field_and_create_nothing(
    runner: Runner, tracker: JobTracker, registry: JobRegistry, job_type: str, params, field: str
) -> None:
    def typed(ctx: JobContext, count: int) -> None: ...

    registry.register("typed", typed)
    before = tracker.count_jobs()
    with pytest.raises(ValueError) as raised:
        tracker.enqueue(job_type, params)
    assert str(raised.value).startswith(f"{field}: ")
    assert tracker.count_jobs() == before


def test_unknown_type_is_refused(runner: Runner, tracker: JobTracker) -> None:
    with pytest.raises(ValueError, match=r"unknown job type 'nope'.*command"):
        tracker.enqueue("nope")
    assert tracker.count_jobs() == 0


def test_command_params_are_normalized(runner: Runner, tracker: JobTracker) -> None:
    job = tracker.enqueue("command", {"argv": "echo 'two words'"})
    assert job.params == {
        "argv": ["echo", "two words"],
        "cwd": "",
        "env": {},
        "shell": False,
        "data": {},
    }
    assert job.title == "echo 'two words'"  # untitled: titled by its command line
    shell = tracker.enqueue("command", {"argv": "echo a | wc -c", "shell": True})
    assert shell.params["argv"] == ["echo a | wc -c"]
    tracker.cancel_job(job.id)
    tracker.cancel_job(shell.id)


def test_the_runner_knows_exactly_the_tracker_s_job_types(
    tmp_path: Path, registry: JobRegistry, qapp
) -> None:
    """``command`` is an ordinary job type: known when the registry has it, as the app's
    does, and unknown to an embedder's registry that leaves it out."""
    with JobTracker.open(tmp_path / "app.db", registry=registry) as tracker:
        runner = Runner(tracker)
        assert runner.job_type("command") is registry["command"]
        assert [t.name for t in runner.job_types()] == registry.names()
        assert runner.job_type("nope") is None
        runner.deleteLater()
    own = JobRegistry()
    own.register("sum", lambda ctx: None)
    with JobTracker.open(tmp_path / "embedder.db", registry=own) as tracker:
        runner = Runner(tracker)
        assert runner.job_type("command") is None
        with pytest.raises(ValueError, match=r"unknown job type 'command'; known types: sum"):
            tracker.enqueue("command", {"argv": ["true"]})
        runner.deleteLater()
