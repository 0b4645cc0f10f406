"""Faults on a shared PostgreSQL board: the server restarted while jobs run, an instance
SIGKILLed. Nothing said to have happened is lost, no job runs twice, and while the board
cannot be reached the tracker says so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from jobdeck.core import JobStatus, JobTracker, StoreWriteError
from tests.core.conftest import Recorder, wait_until
from tests.pg_server import PgServer

DESKTOP = Path(__file__).resolve().parents[2] / "desktop"
#: What the app logs while the board's server restarts under it.
SERVER_RESTART_LOGS = (
    r"could not save job changes to the board",
    r"lost the connection to the board",
    r"reconnected to the board",
    r"can be reached again",
    r"could not read board changes",
    r"could not connect to the board",
    r"accepts changes again",
)


@pytest.mark.slow
@pytest.mark.expected_log(*SERVER_RESTART_LOGS)
def test_a_server_restart_loses_no_transition(pg_server: PgServer, pg_url: str) -> None:
    alpha = JobTracker.open(pg_url, instance="alpha", event_interval=0.01)
    beta = JobTracker.open(pg_url, instance="beta", event_interval=0.01)
    try:
        heard = Recorder()
        beta.subscribe(heard)
        job = alpha.enqueue("x")
        ctx = alpha.start_job(job.id)
        assert wait_until(lambda: heard.kinds(job.id)[-1:] == ["started"])

        pg_server.stop("fast")
        try:
            # The job ends while the board is down: the change is refused, said clearly,
            # and kept (the job is still running here, nothing half-written).
            with pytest.raises(StoreWriteError, match=r"could not save job changes to the board"):
                alpha.complete_job(ctx.job_id, result={"n": 1})
            assert alpha.store_error is not None
            assert "PostgreSQL at" in str(alpha.store_error)
            running = alpha.get_job(job.id)
            assert running is not None and running.status is JobStatus.RUNNING
        finally:
            pg_server.start_again()

        def record_again() -> bool:
            try:
                alpha.complete_job(ctx.job_id, result={"n": 1})
            except StoreWriteError:
                return False
            return True

        assert wait_until(record_again, timeout=30)  # as the runtime's recorder retries
        assert alpha.store_error is None
        # The other instance's link came back and heard of it.
        assert wait_until(lambda: heard.kinds(job.id)[-1:] == ["completed"], timeout=30)
        done = beta.get_job(job.id)
        assert done is not None and done.result == {"n": 1} and done.attempts == 1
        # And the board works as before for both.
        later = beta.enqueue("y")
        assert wait_until(lambda: [j.id for j in alpha.pending_jobs()] == [later.id], timeout=30)
    finally:
        alpha.close()
        beta.close()


_INSTANCE = textwrap.dedent(
    """
    import sys, time
    from jobdeck.core import JobTracker
    tracker = JobTracker.open(sys.argv[1], instance="doomed", lease=1.0)
    job = tracker.enqueue("x")
    ctx = tracker.start_job(job.id)
    ctx.update_progress(2, 8)
    tracker.flush()
    print(job.id, flush=True)
    time.sleep(600)
    """
)


@pytest.mark.slow
@pytest.mark.expected_log(r"of instance doomed: failed", level=30)
def test_a_sigkilled_instances_jobs_fail_once_after_its_lease(pg_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(DESKTOP)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _INSTANCE, pg_url], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        job_id = proc.stdout.readline().strip()
        assert job_id
        with JobTracker.open(pg_url, instance="survivor", lease=1.0) as survivor:
            heard = Recorder()
            survivor.subscribe(heard)
            # Alive and renewing: its running job is left alone.
            assert wait_until(lambda: heard.kinds(job_id) == ["started"])
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            assert wait_until(lambda: heard.kinds(job_id)[-1:] == ["failed"], timeout=30)
            job = survivor.get_job(job_id)
            assert job is not None and job.status is JobStatus.FAILED and job.attempts == 1
            assert job.error is not None and "instance doomed stopped" in job.error.message
            assert "at 2/8" in job.error.message
            assert heard.kinds(job_id).count("failed") == 1
            assert survivor.runs_on(job_id) == "doomed"  # the history says where it ran
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.mark.slow
@pytest.mark.expected_log(*SERVER_RESTART_LOGS, r"cannot reach the board", r"lease had expired")
def test_an_outage_longer_than_the_lease_fails_no_live_instances_job(
    pg_server: PgServer, pg_url: str
) -> None:
    """The board is down for longer than the lease, for every instance alike: the one whose
    link comes back first must not fail the others' running jobs as if their instances had
    stopped (seen as a user: a job that completed on one desktop during the outage was
    "interrupted: instance ... stopped" once the board was back)."""
    alpha = JobTracker.open(pg_url, instance="alpha", lease=3.0, event_interval=0.01)
    beta = JobTracker.open(pg_url, instance="beta", lease=3.0, event_interval=0.01)
    try:
        heard = Recorder()
        beta.subscribe(heard)
        job = alpha.enqueue("x")
        ctx = alpha.start_job(job.id)
        assert wait_until(lambda: heard.kinds(job.id)[-1:] == ["started"])
        alink, blink = alpha.board_link, beta.board_link
        assert alink is not None and blink is not None
        alink.stop()  # alpha's link comes back last (its pause is the longer)
        pg_server.stop("fast")
        try:
            assert wait_until(lambda: blink.problem is not None, timeout=30)
            done = blink.renewals
            time.sleep(3.5)  # the outage: longer than the lease (nothing to wait for)
        finally:
            pg_server.start_again()
        # beta is back, has renewed its lease a few times and looked for orphans
        assert wait_until(lambda: blink.renewals >= done + 2, timeout=30)
        running = beta.get_job(job.id)
        assert running is not None and running.status is JobStatus.RUNNING
        alink.restart()
        renewed = alink.renewals
        assert wait_until(lambda: alink.renewals > renewed, timeout=30)

        def record() -> bool:
            try:
                alpha.complete_job(ctx.job_id, result={"n": 1})
            except StoreWriteError:
                return False
            return True

        assert wait_until(record, timeout=30)
        assert wait_until(lambda: heard.kinds(job.id)[-1:] == ["completed"], timeout=30)
        assert "failed" not in heard.kinds(job.id)
        ended = beta.get_job(job.id)
        assert ended is not None and ended.status is JobStatus.COMPLETED
        assert ended.result == {"n": 1}
    finally:
        alpha.close()
        beta.close()


@pytest.mark.slow
@pytest.mark.expected_log(
    r"lost the connection to the board",
    r"could not connect to the board",
    r"cannot reach the board",
)
def test_the_first_read_after_the_board_is_back_does_not_fail(
    pg_server: PgServer, pg_url: str
) -> None:
    """Readers kept for reuse died with the server: once the link has seen the board go,
    none of them is used again (QA: `jobdeck ls` right after a restart of the board said
    "could not read the board: terminating connection due to administrator command")."""
    with JobTracker.open(pg_url, instance="reader") as tracker:
        job = tracker.enqueue("x")
        assert tracker.list_jobs() == [job]  # a reader connection is kept for the next read
        link = tracker.board_link
        assert link is not None
        pg_server.stop("fast")
        try:
            assert wait_until(lambda: link.problem is not None, timeout=30)
            link.stop()  # it comes back later than the first read
        finally:
            pg_server.start_again()
        assert [j.id for j in tracker.list_jobs()] == [job.id]
