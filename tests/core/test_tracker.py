"""JobTracker behaviour: the public API, transitions, events, coalesced progress, bad input."""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobdeck.core import (
    Cancelled,
    EventKind,
    FakeClock,
    InvalidTransition,
    JobContext,
    JobEvent,
    JobRegistry,
    JobStatus,
    JobTracker,
    StoreReadOnly,
    UnknownJob,
)

from .conftest import Recorder, either_store, wait_until


@pytest.fixture(params=["sqlite", "postgresql"])
def store_where(request: pytest.FixtureRequest, db_path: Path) -> str | Path:
    """Every test of the ``tracker`` fixture runs on SQLite and on PostgreSQL."""
    return either_store(request, db_path)


def test_quick_start_flow(tracker: JobTracker, recorder: Recorder, clock: FakeClock) -> None:
    ctx = tracker.create_job("scrape", metadata={"username": "x"}, title="Scrape @x")
    job = tracker.get_job(ctx.job_id)
    assert job is not None and job.status is JobStatus.RUNNING and job.title == "Scrape @x"
    ctx.update_progress(50, 1000, "Fetching tweets...")
    live = tracker.get_job(ctx.job_id)
    assert live is not None and live.progress.percent == 5.0
    assert live.progress.message == "Fetching tweets..."
    assert not ctx.cancelled
    ctx.checkpoint()
    ctx.log("batch 3 done", level="info")
    clock.advance(12.5)
    done = tracker.complete_job(ctx.job_id, success=True, result={"n": 1000})
    assert done.status is JobStatus.COMPLETED and done.result == {"n": 1000}
    assert done.duration == timedelta(seconds=12.5)
    assert [e.message for e in tracker.logs(ctx.job_id)] == ["batch 3 done"]
    assert recorder.kinds(ctx.job_id)[:2] == ["created", "started"]
    assert recorder.kinds(ctx.job_id)[-1] == "completed"


def test_failure_keeps_message_and_traceback(tracker: JobTracker) -> None:
    ctx = tracker.create_job("scrape")
    tracker.complete_job(ctx.job_id, success=False, error="Connection timeout")
    job = tracker.get_job(ctx.job_id)
    assert job is not None and job.status is JobStatus.FAILED
    assert job.error is not None and job.error.message == "Connection timeout"

    ctx2 = tracker.create_job("scrape")
    try:
        raise OSError("disk full")
    except OSError as exc:
        tracker.complete_job(ctx2.job_id, success=False, error=exc)
    job2 = tracker.get_job(ctx2.job_id)
    assert job2 is not None and job2.error is not None
    assert job2.error.message == "OSError: disk full"
    assert job2.error.traceback is not None and "raise OSError" in job2.error.traceback


def test_finished_jobs_never_change(tracker: JobTracker) -> None:
    ctx = tracker.create_job("x")
    tracker.complete_job(ctx.job_id)
    with pytest.raises(InvalidTransition, match="completed"):
        tracker.complete_job(ctx.job_id, success=False, error="late")
    with pytest.raises(InvalidTransition):
        tracker.mark_cancelled(ctx.job_id)
    assert tracker.cancel_job(ctx.job_id) is False
    job = tracker.get_job(ctx.job_id)
    assert job is not None and job.status is JobStatus.COMPLETED


def test_pending_job_cannot_complete(tracker: JobTracker) -> None:
    job = tracker.enqueue("command", params={"argv": ["true"]})
    with pytest.raises(InvalidTransition, match="pending job can only become"):
        tracker.complete_job(job.id)


def test_a_job_that_cannot_start_fails_from_pending_without_a_start(
    tracker: JobTracker, recorder: Recorder, clock: FakeClock
) -> None:
    job = tracker.enqueue("command", params={"argv": ["true"]})
    with pytest.raises(InvalidTransition, match="it never ran"):
        tracker.complete_job(job.id, success=False, error="no")
    clock.advance(3)
    failed = tracker.fail_pending(job.id, "dependency 'fetch' failed")
    assert failed.status is JobStatus.FAILED and str(failed.error) == "dependency 'fetch' failed"
    stored = tracker.get_job(job.id)
    assert stored is not None and stored == failed
    assert (stored.attempts, stored.started_ts) == (0, None)  # it never ran
    assert stored.completed_ts == clock()
    assert recorder.kinds(job.id) == ["created", "failed"]  # no "started"
    with pytest.raises(InvalidTransition):
        tracker.fail_pending(job.id, "again")
    ctx = tracker.create_job("running")
    with pytest.raises(InvalidTransition, match="from running to failed"):
        tracker.fail_pending(ctx.job_id, "not pending")


def test_a_registry_validates_what_is_queued(tmp_path: Path) -> None:
    registry = JobRegistry()

    @registry.job_type("sum", title="Add up")
    def add_up(ctx: JobContext, count: int) -> int:
        return count

    with JobTracker.open(tmp_path / "jobs.db", registry=registry) as tracker:
        assert tracker.registry is registry
        job = tracker.enqueue("sum", {"count": "3"})
        assert (job.params, job.title) == ({"count": 3}, "Add up")
        with pytest.raises(ValueError, match=r"^count: expected an integer, got 'x'$"):
            tracker.enqueue("sum", {"count": "x"})
        with pytest.raises(ValueError, match=r"unknown job type 'nope'; known types: sum"):
            tracker.enqueue("nope")
        assert tracker.count_jobs() == 1
    with pytest.raises(TypeError, match="registry must be a JobRegistry"):
        JobTracker.open(":memory:", registry={"sum": add_up})  # type: ignore[arg-type]


def test_cancel_pending_is_immediate(tracker: JobTracker, recorder: Recorder) -> None:
    job = tracker.enqueue("command", params={"argv": ["true"]})
    assert tracker.cancel_job(job.id) is True
    stored = tracker.get_job(job.id)
    assert stored is not None and stored.status is JobStatus.CANCELLED
    assert recorder.kinds(job.id) == ["created", "cancelled"]
    assert tracker.cancel_job(job.id) is False
    assert tracker.cancel_job("no-such-job") is False


def test_cancel_running_asks_the_code(tracker: JobTracker, recorder: Recorder) -> None:
    ctx = tracker.create_job("long")
    assert tracker.cancel_job(ctx.job_id) is True
    assert ctx.cancelled and ctx.cancel_event.is_set()
    with pytest.raises(Cancelled):
        ctx.checkpoint()
    job = tracker.get_job(ctx.job_id)
    assert job is not None and job.status is JobStatus.RUNNING and job.cancel_requested
    assert tracker.cancel_job(ctx.job_id) is True  # asking twice is fine, announced once
    tracker.mark_cancelled(ctx.job_id)
    job = tracker.get_job(ctx.job_id)
    assert job is not None and job.status is JobStatus.CANCELLED
    assert recorder.kinds(ctx.job_id) == ["created", "started", "cancel_requested", "cancelled"]


def test_context_manager_finishes_the_job(tracker: JobTracker) -> None:
    with tracker.create_job("a") as ctx:
        ctx.update_progress(1, 2)
    a = tracker.get_job(ctx.job_id)
    assert a is not None and a.status is JobStatus.COMPLETED and a.progress.current == 1

    with tracker.create_job("b") as ctx_b:
        tracker.cancel_job(ctx_b.job_id)
        ctx_b.checkpoint()
    b = tracker.get_job(ctx_b.job_id)
    assert b is not None and b.status is JobStatus.CANCELLED

    with pytest.raises(ZeroDivisionError), tracker.create_job("c") as ctx_c:
        1 / 0  # noqa: B018
    c = tracker.get_job(ctx_c.job_id)
    assert c is not None and c.status is JobStatus.FAILED
    assert c.error is not None and "ZeroDivisionError" in c.error.message

    with tracker.create_job("d") as ctx_d:
        tracker.complete_job(ctx_d.job_id, result=[1])
    d = tracker.get_job(ctx_d.job_id)
    assert d is not None and d.result == [1]


@pytest.mark.sqlite_only
def test_transitions_are_committed_before_their_event(tracker: JobTracker, db_path: Path) -> None:
    seen: list[tuple[str, str | None]] = []
    other = sqlite3.connect(db_path)  # another connection sees only committed data

    def check(event: JobEvent) -> None:
        row = other.execute("SELECT status FROM jobs WHERE id = ?", (event.job.id,)).fetchone()
        seen.append((event.kind.value, row[0] if row else None))

    tracker.subscribe(check)
    ctx = tracker.create_job("x")
    tracker.complete_job(ctx.job_id)
    pending = tracker.enqueue("y")
    tracker.cancel_job(pending.id)
    other.close()
    assert seen == [
        ("created", "running"),
        ("started", "running"),
        ("completed", "completed"),
        ("created", "pending"),
        ("cancelled", "cancelled"),
    ]


@pytest.mark.expected_log("job event subscriber .* failed")
def test_raising_subscriber_is_logged_and_harmless(
    tracker: JobTracker, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: JobEvent) -> None:
        raise RuntimeError("subscriber bug")

    tracker.subscribe(broken)
    later = Recorder()
    tracker.subscribe(later)
    with caplog.at_level(logging.ERROR):
        ctx = tracker.create_job("x")
        tracker.complete_job(ctx.job_id)
    # (events reach subscribers on the thread that commits their group: on a board, that may
    # be the board link's, a moment after the call returned)
    assert wait_until(lambda: later.kinds() == ["created", "started", "completed"], timeout=5)
    assert "subscriber bug" in caplog.text
    job = tracker.get_job(ctx.job_id)
    assert job is not None and job.status is JobStatus.COMPLETED


def test_unsubscribe(tracker: JobTracker) -> None:
    rec = Recorder()
    unsubscribe = tracker.subscribe(rec)
    tracker.create_job("a")
    unsubscribe()
    tracker.create_job("b")
    assert len(rec.events) == 2


def test_progress_is_coalesced_into_few_events(tracker: JobTracker) -> None:
    got_last = threading.Event()
    events: list[JobEvent] = []

    def on_event(event: JobEvent) -> None:
        if event.kind is EventKind.PROGRESS:
            events.append(event)
            if event.job.progress.current == 99_999:
                got_last.set()

    tracker.subscribe(on_event)
    ctx = tracker.create_job("fast")
    for i in range(100_000):
        ctx.update_progress(i, 100_000)
    assert got_last.wait(5), "the latest progress never reached subscribers"
    assert len(events) < 1000
    currents = [e.job.progress.current for e in events]
    assert currents == sorted(currents)


@pytest.mark.expected_log("taking that for a clock error")
def test_progress_reaches_the_store_on_flush_and_periodically(
    db_path: Path, clock: FakeClock
) -> None:
    tracker = JobTracker.open(db_path, clock=clock, flush_interval=3600)
    ctx = tracker.create_job("x")
    ctx.update_progress(7, 10, "seven")
    reader = sqlite3.connect(db_path)

    def stored() -> tuple[float, float, str]:
        return reader.execute(
            "SELECT progress_current, progress_total, progress_message FROM jobs WHERE id = ?",
            (ctx.job_id,),
        ).fetchone()

    assert stored() == (0, 0, "")  # update_progress wrote no SQL
    tracker.flush()
    assert stored() == (7, 10, "seven")
    tracker.close()
    reader.close()

    periodic = JobTracker.open(db_path, flush_interval=0.01, event_interval=0.005)
    ctx2 = periodic.create_job("y")
    ctx2.update_progress(3, 4)
    reader = sqlite3.connect(db_path)

    def flushed() -> bool:
        row = reader.execute(
            "SELECT progress_current FROM jobs WHERE id = ?", (ctx2.job_id,)
        ).fetchone()
        return bool(row[0] == 3)

    assert wait_until(flushed, timeout=5), "the pump never flushed progress"
    reader.close()
    periodic.close()


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((-1,), "current must be a finite number >= 0"),
        (("5",), "current must be a number"),
        ((float("nan"),), "finite"),
        ((True,), "current must be a number"),
        ((1, -5), "total must be a finite number >= 0"),
        ((1, 10, 3), "message must be a str"),
    ],
)
def test_bad_progress_raises(tracker: JobTracker, args: tuple, match: str) -> None:
    ctx = tracker.create_job("x")
    ctx.update_progress(2, 10, "ok")
    with pytest.raises(ValueError, match=match):
        ctx.update_progress(*args)
    assert (ctx.current, ctx.total, ctx.message) == (2, 10, "ok")


def test_progress_accepts_other_real_numbers(tracker: JobTracker) -> None:
    from decimal import Decimal
    from fractions import Fraction

    ctx = tracker.create_job("x")
    ctx.update_progress(Fraction(1, 2), 2)  # type: ignore[arg-type]  # any numbers.Real
    assert ctx.current == 0.5
    with pytest.raises(ValueError):
        ctx.update_progress(Decimal("1.5"))  # type: ignore[arg-type]  # Decimal is not a numbers.Real


@pytest.mark.parametrize("field", ["metadata", "params"])
def test_non_json_data_names_the_key_and_writes_nothing(tracker: JobTracker, field: str) -> None:
    bad = {"ok": 1, "nested": {"when": datetime.now(UTC)}}
    with pytest.raises(ValueError, match=rf"{field}\.nested\.when is not JSON-serializable"):
        tracker.create_job("x", **{field: bad})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=rf"{field}\.nested\.when"):
        tracker.enqueue("x", **{field: bad})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=rf"{field}\.nums\[1\]"):
        tracker.enqueue("x", **{field: {"nums": [1, float("inf")]}})  # type: ignore[arg-type]
    assert tracker.count_jobs() == 0


def test_bad_result_keeps_the_job_running(tracker: JobTracker) -> None:
    ctx = tracker.create_job("x")
    with pytest.raises(ValueError, match=r"result\.obj"):
        tracker.complete_job(ctx.job_id, result={"obj": object()})
    job = tracker.get_job(ctx.job_id)
    assert job is not None and job.status is JobStatus.RUNNING


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"timeout": -1}, "timeout"),
        ({"run_at": "tomorrow"}, "run_at"),
        ({"depends_on": "abc"}, "depends_on"),
        ({"depends_on": ["missing"]}, "depends_on: no job with id 'missing'"),
        ({"priority": "high"}, "priority"),
        ({"title": 5}, "title"),
    ],
)
def test_bad_enqueue_arguments(tracker: JobTracker, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        tracker.enqueue("x", **kwargs)
    assert tracker.count_jobs() == 0


def test_bad_type(tracker: JobTracker) -> None:
    with pytest.raises(ValueError, match="job type"):
        tracker.enqueue("")


def test_enqueue_fields_and_pending_order(tracker: JobTracker, clock: FakeClock) -> None:
    first = tracker.enqueue("a", priority=1)
    high = tracker.enqueue("b", priority=9, timeout=timedelta(minutes=2), max_attempts=3)
    dep = tracker.enqueue("c", depends_on=[first.id], run_at=clock() + 60)
    assert high.timeout == 120.0 and high.max_attempts == 3
    assert dep.depends_on == (first.id,) and dep.run_at_ts == clock() + 60
    assert [j.id for j in tracker.pending_jobs()] == [high.id, first.id, dep.id]


def test_unknown_job(tracker: JobTracker) -> None:
    assert tracker.get_job("nope") is None
    with pytest.raises(UnknownJob, match="no job with id 'nope'"):
        tracker.complete_job("nope")


def test_start_retry_and_rerun(tracker: JobTracker, recorder: Recorder, clock: FakeClock) -> None:
    job = tracker.enqueue("flaky", max_attempts=2)
    ctx = tracker.start_job(job.id)
    assert tracker.get_job(job.id).attempts == 1  # type: ignore[union-attr]
    ctx.update_progress(1, 2)
    again = tracker.retry_later(job.id, clock() + 30, "boom")
    assert again.status is JobStatus.PENDING and again.run_at_ts == clock() + 30
    assert again.error is not None and again.error.message == "boom"
    tracker.start_job(job.id)
    with pytest.raises(ValueError, match="used all 2 attempts"):
        tracker.retry_later(job.id, None, "boom again")
    final = tracker.complete_job(job.id, success=False, error="boom again")
    assert final.attempts == 2
    assert recorder.kinds(job.id) == ["created", "started", "retrying", "started", "failed"]
    copy = tracker.rerun(job.id)
    assert copy.retry_of == job.id and copy.status is JobStatus.PENDING and copy.params == {}


def test_list_count_and_filters(tracker: JobTracker) -> None:
    ids = []
    for i in range(30):
        ctx = tracker.create_job("scrape" if i % 2 else "copy", title=f"job {i}")
        ids.append(ctx.job_id)
        if i % 3 == 0:
            tracker.complete_job(ctx.job_id, success=False, error=f"error {i}")
        else:
            tracker.complete_job(ctx.job_id)
    assert tracker.count_jobs() == 30
    assert tracker.count_jobs(status=JobStatus.FAILED) == 10
    assert tracker.count_jobs(status=["failed", "completed"]) == 30
    assert tracker.count_jobs(type="scrape") == 15
    assert tracker.count_jobs(search="job 1") == 11  # 1, 10..19
    assert tracker.count_jobs(search="error 27") == 1
    newest = tracker.list_jobs(limit=10)
    assert [j.id for j in newest] == ids[::-1][:10]
    page2 = tracker.list_jobs(limit=10, before=newest[-1].id)
    assert [j.id for j in page2] == ids[::-1][10:20]
    failed = tracker.list_jobs(status="failed", type="copy")
    assert {j.title for j in failed} == {"job 0", "job 6", "job 12", "job 18", "job 24"}
    with pytest.raises(ValueError):
        tracker.list_jobs(status="bogus")


def test_list_shows_live_progress_of_running_jobs(tracker: JobTracker) -> None:
    ctx = tracker.create_job("x")
    ctx.update_progress(4, 8, "half")
    [job] = tracker.list_jobs()
    assert job.progress.current == 4 and job.progress.message == "half"
    [active] = tracker.active_jobs()
    assert active.progress.total == 8


def test_logs_limit_and_order(tracker: JobTracker) -> None:
    ctx = tracker.create_job("x")
    for i in range(10):
        ctx.log(f"line {i}", level="warning" if i == 9 else "info")
    logs = tracker.logs(ctx.job_id, limit=3)
    assert [e.message for e in logs] == ["line 7", "line 8", "line 9"]
    assert logs[-1].level == "warning"
    with pytest.raises(ValueError, match="log level"):
        ctx.log("x", level="loud")


def test_read_only_tracker_beside_a_writer(tracker: JobTracker, store_where: str | Path) -> None:
    ctx = tracker.create_job("x", title="visible")
    tracker.flush()
    with JobTracker.open(store_where, read_only=True) as reader:
        [job] = reader.list_jobs()
        assert job.title == "visible" and reader.read_only
        with pytest.raises(StoreReadOnly):
            reader.enqueue("y")
        with pytest.raises(StoreReadOnly):
            reader.cancel_job(ctx.job_id)
        tracker.complete_job(ctx.job_id)
        done = reader.get_job(ctx.job_id)
        assert done is not None and done.status is JobStatus.COMPLETED


def test_closed_tracker_refuses_writes(db_path: Path) -> None:
    tracker = JobTracker.open(db_path)
    tracker.close()
    tracker.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        tracker.enqueue("x")
    with pytest.raises(RuntimeError, match="closed"):
        tracker.list_jobs()


def test_thread_safety_many_threads(tracker: JobTracker) -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(100):
                ctx = tracker.create_job("t")
                ctx.update_progress(1, 2)
                ctx.log("hi")
                tracker.complete_job(ctx.job_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert tracker.count_jobs(status="completed") == 400


def test_job_snapshot_is_frozen(tracker: JobTracker) -> None:
    ctx = tracker.create_job("x")
    job = tracker.get_job(ctx.job_id)
    assert job is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.title = "changed"  # type: ignore[misc]


@pytest.mark.sqlite_only
def test_group_commit_under_load_still_commits_before_each_event(
    tracker: JobTracker, db_path: Path
) -> None:
    """With several threads changing jobs at once, changes share commits, and every event
    still finds its change committed (seen through a second connection)."""
    mismatches: list[tuple[str, str, str | None]] = []
    local = threading.local()

    def check(event: JobEvent) -> None:
        if event.kind not in (EventKind.CREATED, EventKind.COMPLETED):
            return
        other = getattr(local, "conn", None)
        if other is None:
            other = local.conn = sqlite3.connect(db_path)
        row = other.execute("SELECT status FROM jobs WHERE id = ?", (event.job.id,)).fetchone()
        # the store may already be further on (a later change shared the commit), never behind
        behind = row is None or (event.kind is EventKind.COMPLETED and row[0] != "completed")
        if behind:
            mismatches.append((event.kind.value, event.job.status.value, row and row[0]))

    tracker.subscribe(check)
    commits_before = tracker._commits.commits

    def work() -> None:
        for _ in range(200):
            ctx = tracker.create_job("t")
            tracker.complete_job(ctx.job_id)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert mismatches == []
    assert tracker.count_jobs(status="completed") == 800
    commits = tracker._commits.commits - commits_before
    assert commits < 1600  # 1600 transitions; several shared a commit


def test_tight_progress_loops_share_the_gil_only_when_the_app_asks(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``yield_gil_every`` (the app's choice), every 1024 updates, once that long has
    passed, update_progress sleeps(0) once; by default it never does."""
    from jobdeck.core import context as context_module

    sleeps: list[float] = []
    now = [100.0]
    monkeypatch.setattr(context_module.time, "sleep", sleeps.append)
    monkeypatch.setattr(context_module.time, "monotonic", lambda: now[0])
    every = context_module.YIELD_EVERY
    with JobTracker.open(db_path, yield_gil_every=every) as tracker:
        ctx = tracker.create_job("busy")
        for i in range(4096):
            ctx.update_progress(i)
        assert sleeps == [0]  # the first check yields; the clock has not moved since
        now[0] += every
        for i in range(1024):
            ctx.update_progress(i)
        assert sleeps == [0, 0]
    sleeps.clear()
    with JobTracker.open(db_path) as tracker:
        ctx = tracker.create_job("busy")
        for i in range(8192):
            ctx.update_progress(i)
            now[0] += every
    assert sleeps == []
    with pytest.raises(ValueError, match="yield_gil_every must be positive seconds"):
        JobTracker.open(":memory:", yield_gil_every=0)


@pytest.mark.sqlite_only
def test_batch_shares_one_commit_and_sends_events_after_it(
    tracker: JobTracker, db_path: Path
) -> None:
    other = sqlite3.connect(db_path)
    seen: list[int] = []

    def on_event(event: JobEvent) -> None:
        seen.append(other.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])

    tracker.subscribe(on_event)
    with tracker.batch():
        for i in range(5):
            tracker.enqueue("t", {"i": i})
        assert seen == []  # nothing announced before the commit
        assert other.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0
    assert seen == [5, 5, 5, 5, 5]
    other.close()
