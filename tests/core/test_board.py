"""Several app instances on one PostgreSQL board: live changes between them, each pending job
started by exactly one, the instance that runs a job named, leases and lost instances."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

import pytest

from jobdeck.core import (
    EventKind,
    InvalidTransition,
    JobRegistry,
    JobStatus,
    JobTracker,
)
from jobdeck.core.job import JobTaken

from .conftest import Recorder, wait_until


def _work(ctx: object) -> None:
    """A job type's code (never run here: the tests drive the tracker)."""


@pytest.fixture
def board(pg_url: str) -> Iterator[tuple[JobTracker, JobTracker]]:
    first = JobTracker.open(pg_url, instance="alpha", event_interval=0.01)
    second = JobTracker.open(pg_url, instance="beta", event_interval=0.01)
    yield first, second
    first.close()
    second.close()


def test_a_change_on_one_instance_reaches_the_other_live(
    board: tuple[JobTracker, JobTracker],
) -> None:
    alpha, beta = board
    seen = Recorder()
    beta.subscribe(seen)
    job = alpha.enqueue("report", title="Monthly report")
    assert wait_until(lambda: seen.kinds(job.id) == ["created"])
    assert [j.id for j in beta.pending_jobs()] == [job.id]  # beta's scheduler may start it

    ctx = alpha.start_job(job.id)
    assert wait_until(lambda: seen.kinds(job.id) == ["created", "started"])
    assert beta.pending_jobs() == []
    assert beta.runs_on(job.id) == "alpha"

    ctx.update_progress(3, 10, "page 3")
    alpha.flush()  # progress reaches the board about once a second; now, here
    assert wait_until(lambda: "progress" in seen.kinds(job.id))
    last = [e for e in seen.events if e.job.id == job.id][-1].job
    assert last.progress.current == 3 and last.progress.message == "page 3"

    alpha.complete_job(job.id, result={"pages": 10})
    assert wait_until(lambda: seen.kinds(job.id)[-1] == "completed")
    done = beta.get_job(job.id)
    assert done is not None and done.result == {"pages": 10}


def test_each_instance_hears_only_the_others(board: tuple[JobTracker, JobTracker]) -> None:
    """An instance's own changes are announced once (locally), not again from the board."""
    alpha, beta = board
    mine = Recorder()
    alpha.subscribe(mine)
    job = alpha.enqueue("x")
    beta.enqueue("y")  # something arrives from the board meanwhile
    assert wait_until(lambda: len(alpha.pending_jobs()) == 2)
    assert mine.kinds(job.id) == ["created"]


def test_a_cancel_asked_on_one_instance_reaches_the_code_on_the_other(
    board: tuple[JobTracker, JobTracker],
) -> None:
    alpha, beta = board
    job = alpha.enqueue("long")
    assert wait_until(lambda: [j.id for j in beta.pending_jobs()] == [job.id])
    ctx = beta.start_job(job.id)
    assert alpha.cancel_job(job.id)
    assert ctx.cancel_event.wait(10)
    beta.mark_cancelled(job.id)
    assert wait_until(lambda: alpha.get_job(job.id).status is JobStatus.CANCELLED)  # type: ignore[union-attr]


def test_a_job_started_elsewhere_is_refused_and_leaves_the_queue(
    board: tuple[JobTracker, JobTracker],
) -> None:
    alpha, beta = board
    job = alpha.enqueue("x")
    assert wait_until(lambda: len(beta.pending_jobs()) == 1)
    beta.start_job(job.id)
    with pytest.raises(JobTaken, match="another instance on the board"):
        alpha.start_job(job.id)
    assert alpha.pending_jobs() == []
    assert isinstance(JobTaken(job.id, JobStatus.PENDING, JobStatus.RUNNING), InvalidTransition)


def test_every_pending_job_is_started_by_exactly_one_instance(pg_url: str) -> None:
    """Three instances race to start the same 60 jobs from four threads each: row locks
    that skip locked rows hand each job to one of them."""
    trackers = [JobTracker.open(pg_url, instance=f"i{n}") for n in range(3)]
    try:
        ids = [trackers[0].enqueue("x", title=f"job {n}").id for n in range(60)]
        for t in trackers:
            assert wait_until(lambda t=t: len(t.pending_jobs()) == 60)  # type: ignore[misc]
        started: list[tuple[str, str]] = []
        lock = threading.Lock()

        def drain(tracker: JobTracker, name: str) -> None:
            for job_id in ids:
                try:
                    ctx = tracker.start_job(job_id)
                except InvalidTransition:
                    continue
                with lock:
                    started.append((job_id, name))
                tracker.complete_job(ctx.job_id)

        threads = [
            threading.Thread(target=drain, args=(t, f"i{n}"))
            for n, t in enumerate(trackers)
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        counts = Counter(job_id for job_id, _ in started)
        assert sorted(counts) == sorted(ids) and set(counts.values()) == {1}
        for job_id, name in started:
            assert trackers[0].runs_on(job_id) == name
        assert trackers[1].count_jobs(status="completed") == 60
    finally:
        for t in trackers:
            t.close()


def test_instances_claiming_the_same_jobs_at_once_each_get_free_ones(
    board: tuple[JobTracker, JobTracker],
) -> None:
    """Both look at the same front of the queue; the second skips the rows the first holds
    (and then has started) instead of colliding on them."""
    alpha, beta = board
    ids = [alpha.enqueue("x", title=f"job {n}").id for n in range(6)]
    assert wait_until(lambda: len(beta.pending_jobs()) == 6)
    with alpha.batch():  # alpha's claim holds its rows until its starts commit
        mine = alpha.claim_free(ids, 2)
        assert mine == ids[:2]
        assert beta.claim_free(ids, 2) == ids[2:4]  # while alpha still holds its rows
        for job_id in mine:
            alpha.start_job(job_id)
    theirs = beta.claim_free(ids, 2)  # alpha's are started now: not pending any more
    assert theirs == ids[2:4]
    with beta.batch():
        for job_id in theirs:
            beta.start_job(job_id)
    assert [alpha.runs_on(i) for i in ids[:4]] == ["alpha", "alpha", "beta", "beta"]
    assert wait_until(lambda: [j.id for j in alpha.pending_jobs()] == ids[4:])
    assert alpha.claim_free(ids, 10) == ids[4:]  # the rest, known taken without asking
    assert alpha.claim_free(ids, 0) == []


@pytest.mark.expected_log(r"of instance lost: (failed|pending)", level=30)
def test_an_instance_that_stops_renewing_loses_its_jobs_after_the_lease(pg_url: str) -> None:
    """Its running jobs are left alone while its lease lasts (a second instance starting up
    does not touch them), then the other instance fails or re-queues each exactly once."""
    registry = JobRegistry()
    registry.register("once", _work)
    registry.register("retried", _work, retryable=True)
    lost = JobTracker.open(pg_url, instance="lost", lease=1.0, registry=registry)
    try:
        _lose_jobs_of(lost, pg_url, registry)
    finally:
        lost.close()


def _lose_jobs_of(lost: JobTracker, pg_url: str, registry: JobRegistry) -> None:
    once = lost.enqueue("once")
    retried = lost.enqueue("retried", max_attempts=3)
    lost.start_job(once.id).update_progress(6, 60)
    lost.start_job(retried.id)
    lost.flush()
    assert lost.board_link is not None
    lost.board_link.stop()  # as if it hung: no more renewals (SIGKILL: tests/reliability)

    with JobTracker.open(pg_url, instance="keeper", lease=1.0, registry=registry) as keeper:
        heard = Recorder()
        keeper.subscribe(heard)
        running = keeper.get_job(once.id)
        assert running is not None and running.status is JobStatus.RUNNING  # not at start-up
        assert wait_until(lambda: heard.kinds(once.id)[-1:] == ["failed"], timeout=20)
        failed = keeper.get_job(once.id)
        assert failed is not None and failed.error is not None
        assert "instance lost stopped" in failed.error.message
        assert "at 6/60" in failed.error.message
        assert wait_until(lambda: "retrying" in heard.kinds(retried.id), timeout=20)
        again = keeper.get_job(retried.id)
        assert again is not None and again.status is JobStatus.PENDING
        assert heard.kinds(once.id).count("failed") == 1


def test_the_sqlite_store_names_no_instance(tracker: JobTracker) -> None:
    job = tracker.enqueue("x")
    assert tracker.claim_free([job.id, "other"], 1) == [job.id]  # one instance: no SQL
    tracker.start_job(job.id)
    assert tracker.runs_on(job.id) is None
    assert tracker.board_link is None
    assert EventKind.STARTED.value == "started"


@pytest.mark.parametrize("end", ["fail_pending", "cancel_job"])
def test_a_pending_job_ended_here_is_not_announced_again_by_the_board_link(
    pg_url: str, end: str
) -> None:
    """The link's catch-up read (when it connects, it re-reads every pending job) may find a
    job that this instance ended meanwhile, before it ever ran (so no instance runs it):
    the row is this instance's own change, already announced once."""
    with JobTracker.open(pg_url, instance="alpha", event_interval=0.01) as alpha:
        assert alpha.board_link is not None
        alpha.board_link.stop()  # the test plays the link, at the worst moment
        seen = Recorder()
        alpha.subscribe(seen)
        job = alpha.enqueue("x")
        if end == "fail_pending":
            alpha.fail_pending(job.id, "dependency 'fetch' failed")
        else:
            assert alpha.cancel_job(job.id)
        alpha.apply_board_changes([job.id])  # what the link does with its catch-up read
        final = "failed" if end == "fail_pending" else "cancelled"
        assert seen.kinds(job.id) == ["created", final]


def test_a_job_queued_and_cancelled_elsewhere_between_two_reads_is_announced(
    board: tuple[JobTracker, JobTracker],
) -> None:
    """A finished job this instance never knew of is news when another instance ended it."""
    alpha, beta = board
    seen = Recorder()
    beta.subscribe(seen)
    first = alpha.enqueue("first")
    assert wait_until(lambda: seen.kinds(first.id) == ["created"])  # beta's link listens
    job = alpha.enqueue("x")
    alpha.cancel_job(job.id)
    assert wait_until(lambda: seen.kinds(job.id)[-1:] == ["cancelled"]), seen.kinds()


def test_a_lone_instance_does_not_keep_every_job_it_changed(pg_url: str) -> None:
    """What this instance changed matters only to the link's next read; with no other
    instance there is none, and the link forgets it while idle."""
    with JobTracker.open(pg_url, instance="alone", event_interval=0.01) as alone:
        for n in range(20):
            ctx = alone.create_job("x", title=f"job {n}")
            alone.complete_job(ctx.job_id)
        assert wait_until(lambda: not alone._changed_here)
