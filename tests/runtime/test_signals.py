"""JobSignals: core events become batched GUI-thread signals, and the timer idles when quiet."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from jobdeck.core import Job, JobRegistry, JobStatus, JobTracker
from jobdeck.runtime import JobSignals


class Batches:
    """Everything a JobSignals emitted, in order, with the emitting thread."""

    def __init__(self, signals: JobSignals) -> None:
        self.emitted: list[tuple[str, Any]] = []
        self.threads: set[threading.Thread] = set()
        for name in ("jobsAdded", "jobsChanged", "jobFinished", "logAppended"):
            getattr(signals, name).connect(lambda value, n=name: self._record(n, value))

    def _record(self, name: str, value: Any) -> None:
        self.threads.add(threading.current_thread())
        self.emitted.append((name, value))

    def of(self, name: str) -> list[Any]:
        return [value for n, value in self.emitted if n == name]


@pytest.fixture
def signals(qtbot, tracker: JobTracker):
    s = JobSignals(tracker, interval_ms=20)
    yield s
    s.close()


def test_rejects_a_bad_interval(tracker: JobTracker, qapp) -> None:
    with pytest.raises(ValueError, match="interval_ms"):
        JobSignals(tracker, interval_ms=0)


def test_a_flood_of_progress_becomes_a_few_batches_on_the_gui_thread(
    qtbot, tracker: JobTracker, signals: JobSignals
) -> None:
    batches = Batches(signals)
    contexts = [tracker.create_job("work", title=f"w{i}") for i in range(3)]
    done = threading.Event()

    def report() -> None:
        for step in range(1, 20_001):
            for ctx in contexts:
                ctx.update_progress(step, 20_000)
        done.set()

    worker = threading.Thread(target=report)
    worker.start()
    qtbot.waitUntil(done.is_set, timeout=10_000)
    worker.join()
    for ctx in contexts:
        tracker.complete_job(ctx.job_id)
    with qtbot.waitSignals([signals.jobFinished] * 3, timeout=2000):
        pass

    assert batches.threads == {threading.main_thread()}
    added = [job.id for batch in batches.of("jobsAdded") for job in batch]
    assert sorted(added) == sorted(ctx.job_id for ctx in contexts)
    changed_batches = batches.of("jobsChanged")
    assert len(changed_batches) < 200  # 60,000 updates, yet only frame-rate batches
    for batch in changed_batches:
        ids = [job.id for job in batch]
        assert len(ids) == len(set(ids)), "one entry per job per batch"
    last = {job.id: job for batch in changed_batches for job in batch}
    assert all(job.status is JobStatus.COMPLETED for job in last.values())
    assert all(job.progress.current == 20_000 for job in last.values())


def test_job_finished_comes_after_the_changed_batch_that_holds_it(
    qtbot, tracker: JobTracker, signals: JobSignals
) -> None:
    batches = Batches(signals)
    ctx = tracker.create_job("quick")
    ctx.log("hello")
    tracker.complete_job(ctx.job_id, result={"n": 1})
    with qtbot.waitSignal(signals.jobFinished, timeout=2000) as finished:
        pass
    job: Job = finished.args[0]
    assert job.id == ctx.job_id and job.status is JobStatus.COMPLETED
    names = [name for name, _ in batches.emitted]
    changed_index = max(
        i
        for i, (name, value) in enumerate(batches.emitted)
        if name == "jobsChanged" and any(j.id == job.id and j.finished for j in value)
    )
    assert changed_index < names.index("jobFinished")
    assert len(batches.of("jobFinished")) == 1
    qtbot.waitUntil(lambda: bool(batches.of("logAppended")), timeout=2000)
    assert [e.message for batch in batches.of("logAppended") for e in batch] == ["hello"]


def test_enqueued_jobs_are_added_and_active_jobs_delegates(
    qtbot, tracker: JobTracker, registry: JobRegistry, signals: JobSignals
) -> None:
    registry.register("later", lambda ctx: None)
    a = tracker.enqueue("later")
    b = tracker.enqueue("later")
    with qtbot.waitSignal(signals.jobsAdded, timeout=2000) as added:
        pass
    assert [j.id for j in added.args[0]] == [a.id, b.id]
    assert [j.id for j in signals.active_jobs()] == [a.id, b.id]
    assert signals.tracker is tracker


def test_timer_idles_when_nothing_happens(qtbot, tracker: JobTracker, signals: JobSignals) -> None:
    timer = signals._timer
    assert not timer.isActive()
    ctx = tracker.create_job("one")
    qtbot.waitUntil(timer.isActive, timeout=1000)
    tracker.complete_job(ctx.job_id)
    with qtbot.waitSignal(signals.jobFinished, timeout=2000):
        pass
    qtbot.waitUntil(lambda: not timer.isActive(), timeout=1000)  # one empty tick stops it
    ticks: list[int] = []
    timer.timeout.connect(lambda: ticks.append(1))
    qtbot.wait(100)
    assert ticks == []


def test_close_stops_listening(qtbot, tracker: JobTracker) -> None:
    signals = JobSignals(tracker, interval_ms=5)
    batches = Batches(signals)
    signals.close()
    signals.close()
    tracker.create_job("unseen")
    qtbot.wait(50)
    assert batches.emitted == []
