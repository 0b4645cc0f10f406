"""Issue 9 item 1, the runtime's half: a job that ends while the store cannot be written is
recorded — with its real end time — once the store accepts changes again, never dropped;
meanwhile the user sees why (a banner in the window, the tray's tooltip)."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobdeck.core import FakeClock, JobContext, JobRegistry, JobStatus, JobTracker
from jobdeck.runtime import JobSignals, Runner
from jobdeck.ui.main_window import MainWindow
from jobdeck.ui.tray import TrayController
from tests.reliability.test_tracker_full_disk import fill_disk, free_disk
from tests.runtime.conftest import event_loop_qt
from tests.ui.fakes import FakeSettings

__all__ = ["event_loop_qt"]

WAIT_MS = 20_000


def stored_status(db: Path, job_id: str) -> str:
    other = sqlite3.connect(db)
    try:
        return str(other.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()[0])
    finally:
        other.close()


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


@pytest.mark.expected_log("could not save job changes", "accepts changes again")
def test_an_outcome_the_full_disk_refused_is_recorded_when_space_is_back(
    qtbot: Any, event_loop_qt: Any, tmp_path: Path, gate: threading.Event
) -> None:
    db = tmp_path / "jobs.db"
    clock = FakeClock()
    registry = JobRegistry()

    @registry.job_type("gated")
    def gated(ctx: JobContext) -> dict[str, str]:
        ctx.update_progress(1, 2, "waiting for the gate")
        gate.wait(30)
        return {"copied": "all", "names": "n" * 20_000}  # it needs room in the store

    tracker = JobTracker.open(db, registry=registry, clock=clock, flush_interval=3600)
    signals = JobSignals(tracker, interval_ms=5)
    window = MainWindow(tracker, signals, registry, FakeSettings())
    qtbot.addWidget(window)
    tray = TrayController(tracker, signals)
    runner = Runner(tracker, log_dir=tmp_path / "logs")
    runner.start()
    try:
        job = tracker.enqueue("gated", title="Copy photos")
        qtbot.waitUntil(lambda: stored_status(db, job.id) == "running", timeout=WAIT_MS)
        assert not window.store_banner.isVisible() and signals.store_trouble == ""

        fill_disk(tracker)
        ended_at = clock.advance(10)
        gate.set()  # the job ends now: its outcome cannot be written
        qtbot.waitUntil(lambda: signals.store_trouble != "", timeout=WAIT_MS)
        window.show()
        qtbot.waitUntil(window.store_banner.isVisible, timeout=WAIT_MS)
        banner = window.store_banner.text()
        assert banner.startswith("\u26a0 Jobdeck could not save job changes to ")
        assert "full" in banner and str(db) in banner
        assert tray.tooltip().startswith("\u26a0 Jobdeck could not save job changes")
        assert stored_status(db, job.id) == "running"  # nothing recorded, nothing lost
        assert runner.running_job_ids() == [job.id]  # it still holds its slot

        clock.advance(3600)  # the store is full for a while
        free_disk(tracker)  # nothing else writes: the runner's own retry records it
        qtbot.waitUntil(lambda: stored_status(db, job.id) == "completed", timeout=WAIT_MS)
        done = tracker.get_job(job.id)
        assert done is not None and done.status is JobStatus.COMPLETED
        assert done.result == {"copied": "all", "names": "n" * 20_000}
        assert done.completed_ts == ended_at  # when it really ended, not when recorded
        qtbot.waitUntil(lambda: not window.store_banner.isVisible(), timeout=WAIT_MS)
        assert signals.store_trouble == "" and not tray.tooltip().startswith("\u26a0")
        assert runner.running_job_ids() == []
    finally:
        gate.set()
        assert runner.shutdown(timeout=10)
        tray.dispose()
        signals.close()
        tracker.close()


@pytest.mark.expected_log("could not save job changes", "accepts changes again")
def test_a_worker_that_ends_a_job_on_a_full_disk_starts_no_next_one_until_space_is_back(
    qtbot: Any, event_loop_qt: Any, tmp_path: Path, gate: threading.Event
) -> None:
    """A worker records its job's end and starts the next ready job in one commit; when
    that commit fails, neither happened: the end waits to be recorded, the next job stays
    pending, and both go through once the store accepts changes again."""
    db = tmp_path / "jobs.db"
    registry = JobRegistry()

    @registry.job_type("gated")
    def gated(ctx: JobContext, n: int) -> dict[str, str]:
        if n == 1:
            gate.wait(30)
        return {"n": str(n), "pad": "p" * 20_000}

    tracker = JobTracker.open(db, registry=registry, flush_interval=3600)
    runner = Runner(tracker, max_workers=1, log_dir=tmp_path / "logs")
    runner.start()
    try:
        first = tracker.enqueue("gated", {"n": 1})
        second = tracker.enqueue("gated", {"n": 2})
        qtbot.waitUntil(lambda: stored_status(db, first.id) == "running", timeout=WAIT_MS)
        fill_disk(tracker)
        gate.set()
        qtbot.waitUntil(lambda: tracker.store_error is not None, timeout=WAIT_MS)
        assert stored_status(db, first.id) == "running"
        assert stored_status(db, second.id) == "pending"
        assert runner.running_job_ids() == [first.id]  # its slot stays taken meanwhile
        free_disk(tracker)
        qtbot.waitUntil(
            lambda: stored_status(db, first.id) == stored_status(db, second.id) == "completed",
            timeout=WAIT_MS,
        )
        done = [tracker.get_job(first.id), tracker.get_job(second.id)]
        assert [j.result["n"] for j in done if j is not None] == ["1", "2"]
    finally:
        gate.set()
        assert runner.shutdown(timeout=10)
        tracker.close()


@pytest.mark.expected_log("could not save job changes", "accepts changes again")
def test_command_jobs_that_end_together_on_a_full_disk_are_all_recorded_once_space_is_back(
    qtbot: Any, event_loop_qt: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ends of programs heard together are recorded, and the next jobs started, in one
    commit; when the store refuses it, every one of those ends waits (none is lost) and all
    go through once the store accepts changes again."""
    from jobdeck.jobs import builtin_registry
    from jobdeck.runtime import program_watcher
    from jobdeck.runtime.executors.processes import ProcessExecutor
    from jobdeck.runtime.supervisor_client import SupervisorClient

    gate_file = tmp_path / "gate"
    held: list[bytes] = []
    holding = threading.Event()
    dispatch_all = SupervisorClient._dispatch_all

    gated_ids: set[str] = set()

    def gated_end(line: bytes) -> bool:
        message = json.loads(line)
        return bool(message["op"] == "ended" and message["job_id"] in gated_ids)

    def hold_ends(client: SupervisorClient, lines: list[bytes]) -> None:
        """Hand the three gated programs' ends over in one go, as one read would (with
        what came between them: the next jobs' programs, started in their places)."""
        if not holding.is_set():
            dispatch_all(client, lines)
            return
        held.extend(lines)
        if sum(gated_end(line) for line in held) == 3:
            holding.clear()
            dispatch_all(client, list(held))

    recorded_together: list[int] = []
    record_ends = ProcessExecutor._record_ends

    def count(executor: ProcessExecutor, ends: list[Any]) -> None:
        # (the ends only: the next jobs' starts heard with them come in the same list)
        recorded_together.append(sum(isinstance(end, tuple) for end in ends))
        record_ends(executor, ends)

    # Programs that end this soon after their start are finished by the thread that hears
    # of their ends (the supervisor client's): these three are, however long they wait.
    monkeypatch.setattr(program_watcher, "FOLLOW_DELAY", 3600.0)
    monkeypatch.setattr(SupervisorClient, "_dispatch_all", hold_ends)
    monkeypatch.setattr(ProcessExecutor, "_record_ends", count)
    db = tmp_path / "jobs.db"
    tracker = JobTracker.open(db, registry=builtin_registry(), flush_interval=3600)
    runner = Runner(tracker, max_workers=3, log_dir=tmp_path / "logs")
    runner.start()
    # Each says a last line too long for the pages the full store has room in (what it
    # shows as the job's message is stored with its end), whatever those pages hold.
    last_line = "head -c 3000 /dev/zero | tr '\\0' x; echo"
    wait_for_gate = f"echo waiting; while [ ! -e '{gate_file}' ]; do sleep 0.01; done; {last_line}"
    try:
        gated = [
            tracker.enqueue("command", {"argv": wait_for_gate, "shell": True}) for _ in range(3)
        ]
        gated_ids.update(j.id for j in gated)
        # (long enough that none ends before the three gated ends are heard together)
        after = [tracker.enqueue("command", {"argv": ["sleep", "0.5"]}) for _ in range(3)]

        def started(job_id: str) -> bool:
            log = tmp_path / "logs" / f"{job_id}.log"
            return log.is_file() and log.read_text() == "waiting\n"

        qtbot.waitUntil(lambda: all(started(j.id) for j in gated), timeout=WAIT_MS)
        fill_disk(tracker)
        holding.set()
        gate_file.touch()  # all three end; their ends reach the executor together
        qtbot.waitUntil(lambda: 3 in recorded_together, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: tracker.store_error is not None, timeout=WAIT_MS)
        assert {stored_status(db, j.id) for j in gated} == {"running"}
        # The next jobs were handed over to the supervisor service, which started them in
        # the places of those that ended: they ran, and are recorded when the store can
        # (small changes may fit meanwhile); nothing started here while the ends wait.
        assert {stored_status(db, j.id) for j in after} <= {"pending", "running", "completed"}
        assert {j.id for j in gated} <= set(runner.running_job_ids())
        free_disk(tracker)
        qtbot.waitUntil(
            lambda: {stored_status(db, j.id) for j in gated + after} == {"completed"},
            timeout=WAIT_MS,
        )
        for job in gated:
            done = tracker.get_job(job.id)
            assert done is not None and done.exit_code == 0 and done.log_path is not None
            assert Path(done.log_path).read_text() == "waiting\n" + "x" * 3000 + "\n"
        assert runner.shutdown(timeout=10)
        # the service heard that the retry stored them: it wrote none down for a next app
        assert not list((tmp_path / "jobs.db.d" / "supervised").glob("*.json"))
    finally:
        gate_file.touch()
        holding.clear()
        assert runner.shutdown(timeout=10)
        tracker.close()


def stored_cancel_request(db: Path, job_id: str) -> bool:
    other = sqlite3.connect(db)
    try:
        query = "SELECT cancel_requested FROM jobs WHERE id = ?"
        return bool(other.execute(query, (job_id,)).fetchone()[0])
    finally:
        other.close()


def failing_at_the_gate(gate: Path) -> list[str]:
    """A command that says 1/2, waits for ``gate`` and fails (exit status 3) with last
    lines (quoted in its failure) too big for a full store to take."""
    last_lines = "for i in 1 2 3 4 5 6 7 8 9 10; do head -c 3000 /dev/zero | tr '\\0' x; echo; done"
    script = f'echo 1/2; while [ ! -e "{gate}" ]; do sleep 0.01; done; {last_lines}; exit 3'
    return ["sh", "-c", script]


@pytest.mark.expected_log(
    "could not save job changes", "could not be recorded before shutdown", "accepts changes again"
)
def test_quitting_while_an_end_waits_for_the_store_does_not_cancel_that_job(
    qtbot: Any, event_loop_qt: Any, tmp_path: Path
) -> None:
    """The app quits (stopping its jobs) while a job's end waits for a full store: that job
    has ended, so no cancel request is stored for it (the end recorded later, here or by
    the next app, would say "cancelled" instead of how the program really ended)."""
    from tests.registries import with_command

    db = tmp_path / "jobs.db"
    gate = tmp_path / "go"
    tracker = JobTracker.open(db, registry=with_command(), event_interval=0.005)
    runner = Runner(tracker, log_dir=tmp_path / "logs", grace=1.0)
    runner.start()
    try:
        job = tracker.enqueue("command", {"argv": failing_at_the_gate(gate)})
        qtbot.waitUntil(lambda: (tracker.get_job(job.id) or job).pid is not None, timeout=WAIT_MS)
        fill_disk(tracker, spare_pages=2)  # small changes fit, its end does not
        gate.touch()
        qtbot.waitUntil(lambda: tracker.store_error is not None, timeout=WAIT_MS)
        assert stored_status(db, job.id) == "running"
    finally:
        gate.touch()
        runner.shutdown(cancel_running=True, timeout=5)  # as the app quits
        tracker.close()
    assert stored_status(db, job.id) == "running"
    assert not stored_cancel_request(db, job.id)


@pytest.mark.expected_log(
    "could not save job changes",
    "could not be recorded before shutdown",
    "accepts changes again",
    "left .* running",
)
def test_a_command_end_the_full_disk_refused_survives_the_app_quitting_before_its_retry(
    qtbot: Any, event_loop_qt: Any, tmp_path: Path
) -> None:
    """The supervisor service keeps a program's end until the app has stored it: an end the
    store refused is not "forgotten" there, so when the app goes before its retry went
    through (the disk is still full as the user quits), the next app gets the program's
    real outcome (its exit status, when it ended), not "lost"."""
    from tests.registries import with_command

    db = tmp_path / "jobs.db"
    gate = tmp_path / "go"
    record = tmp_path / "jobs.db.d" / "supervised"
    tracker = JobTracker.open(db, registry=with_command(), event_interval=0.005)
    runner = Runner(tracker, log_dir=tmp_path / "logs", grace=1.0)
    runner.start()
    try:
        job = tracker.enqueue("command", {"argv": failing_at_the_gate(gate)})
        record = record / f"{job.id}.json"
        qtbot.waitUntil(lambda: (tracker.get_job(job.id) or job).pid is not None, timeout=WAIT_MS)
        fill_disk(tracker, spare_pages=2)  # small changes fit, its end does not
        gate.touch()  # it ends now: the store refuses its end
        qtbot.waitUntil(lambda: tracker.store_error is not None, timeout=WAIT_MS)
        assert stored_status(db, job.id) == "running"
    finally:
        gate.touch()
        runner.shutdown(timeout=5, keep_processes=True)  # the disk is still full
        tracker.close()
    assert stored_status(db, job.id) == "running"
    ended = json.loads(record.read_text())  # the service wrote it down for the next app
    assert ended["state"] == "exited" and ended["exit_code"] == 3

    tracker = JobTracker.open(db, registry=with_command(), event_interval=0.005)
    runner = Runner(tracker, log_dir=tmp_path / "logs", grace=1.0)
    runner.start()
    try:
        qtbot.waitUntil(lambda: stored_status(db, job.id) != "running", timeout=WAIT_MS)
        done = tracker.get_job(job.id)
        assert done is not None and done.status is JobStatus.FAILED, done
        assert done.exit_code == 3 and str(done.error).startswith("exit status 3"), done.error
        assert done.completed_ts == pytest.approx(ended["ended_at"], abs=1e-6)
        qtbot.waitUntil(lambda: not record.exists(), timeout=WAIT_MS)  # stored: dropped
    finally:
        assert runner.shutdown(timeout=10)
        tracker.close()
