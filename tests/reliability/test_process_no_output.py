"""A program that prints nothing leaves no log file (the service creates it with the first
output), and everything that reads a job's log says "no output", not "gone": the store
clears its ``log_path``, the CLI prints nothing. A program that printed has its file; if
that file is deleted later, it is gone (its ``log_path`` stays)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobdeck.cli import main
from jobdeck.core import JobStatus, JobTracker
from jobdeck.runtime import Runner
from tests.registries import with_command
from tests.runtime.conftest import MARKER, _tagged_processes, event_loop_qt

__all__ = ["event_loop_qt"]


@pytest.fixture
def runner(event_loop_qt: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runner]:
    marker = uuid.uuid4().hex
    monkeypatch.setenv(MARKER, marker)
    tracker = JobTracker.open(tmp_path / "jobs.db", registry=with_command(), event_interval=0.005)
    runner = Runner(tracker, grace=1.0)
    runner.start()
    yield runner
    runner.shutdown(timeout=10)
    tracker.close()
    leftovers = _tagged_processes(marker)
    for process in leftovers:
        process.kill()
    assert not leftovers, f"processes outlived their test: {leftovers}"


def test_a_silent_program_leaves_no_log_and_a_chatty_one_keeps_its_own(
    qtbot: Any, runner: Runner, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tracker = runner.tracker
    silent = tracker.enqueue("command", {"argv": ["true"]})
    chatty = tracker.enqueue("command", {"argv": ["sh", "-c", "echo hello; sleep 1"]})
    quiet_long = tracker.enqueue("command", {"argv": ["sleep", "1.5"]})
    for job in (silent, chatty, quiet_long):
        qtbot.waitUntil(lambda j=job: tracker.get_job(j.id).finished, timeout=30_000)  # type: ignore[union-attr]
    done = {job.id: tracker.get_job(job.id) for job in (silent, chatty, quiet_long)}
    printed = done[chatty.id]
    assert printed is not None and printed.status is JobStatus.COMPLETED
    log = Path(printed.log_path or "")
    assert log.read_text() == "hello\n"
    for job_id in (silent.id, quiet_long.id):  # (the long one's path was stored as it ran)
        quiet = done[job_id]
        assert quiet is not None and quiet.status is JobStatus.COMPLETED
        assert quiet.log_path is None and quiet.pid is not None
        assert not (log.parent / f"{job_id}.log").exists()
    assert sorted(p.name for p in log.parent.glob("*.log")) == [log.name]

    db = str(tmp_path / "jobs.db")
    capsys.readouterr()
    assert main(["--db", db, "logs", silent.id]) == 0
    assert capsys.readouterr() == ("", "")
    assert main(["--db", db, "logs", chatty.id]) == 0
    assert capsys.readouterr().out == "hello\n"
    log.unlink()  # deleted: it is gone, and says so
    main(["--db", db, "logs", chatty.id])
    assert f"cannot read {log}" in capsys.readouterr().err


def test_a_log_deleted_while_its_program_runs_is_gone_not_no_output(
    qtbot: Any, runner: Runner, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The user deletes a running job's log file (say, to free space); once the job ends,
    its details and `jobdeck logs` say the file is gone, not that the program printed
    nothing."""
    from jobdeck.runtime import JobSignals
    from jobdeck.ui.job_details import JobDetails

    tracker = runner.tracker
    go = tmp_path / "go"
    script = f"echo first; while [ ! -e {go} ]; do sleep 0.05; done; echo second"
    job = tracker.enqueue("command", {"argv": ["sh", "-c", script]})

    def read_first() -> bool:
        seen = tracker.get_job(job.id)
        # (its log file is stored a moment after it starts, maybe after its first line)
        return seen is not None and seen.progress.message == "first" and bool(seen.log_path)

    qtbot.waitUntil(read_first, timeout=30_000)
    log = Path(tracker.get_job(job.id).log_path or "")  # type: ignore[union-attr]
    log.unlink()
    go.touch()
    qtbot.waitUntil(lambda: tracker.get_job(job.id).finished, timeout=30_000)  # type: ignore[union-attr]
    done = tracker.get_job(job.id)
    assert done is not None and done.status is JobStatus.COMPLETED
    assert done.log_path == str(log) and not log.exists()

    signals = JobSignals(tracker)
    details = JobDetails(tracker, signals)
    qtbot.addWidget(details)
    details.show()
    details.set_job(done)
    details.tabs.setCurrentWidget(details.output_view)
    assert details.output_view.placeholderText() == f"The output file is gone: {log}"
    assert details.open_log() is False
    assert details.notice() == f"The log file is gone: {log}"
    signals.close()

    capsys.readouterr()
    main(["--db", str(tmp_path / "jobs.db"), "logs", job.id])
    assert f"cannot read {log}" in capsys.readouterr().err
