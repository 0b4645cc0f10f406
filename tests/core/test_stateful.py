"""A hypothesis state machine: random interleavings of tracker calls against a plain model.

After every close-and-reopen the store must equal the model, with running jobs recovered
as failed ("interrupted") and their last progress kept.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
)

from jobdeck.core import FakeClock, InvalidTransition, JobContext, JobStatus, JobTracker


@dataclass
class Expected:
    status: JobStatus
    current: float = 0
    total: float = 0
    message: str = ""
    cancel_requested: bool = False
    result: object = None
    error: str | None = None


class TrackerMachine(RuleBasedStateMachine):
    jobs = Bundle("jobs")

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp())
        self.clock = FakeClock()
        self.tracker = self._open()
        self.model: dict[str, Expected] = {}
        self.contexts: dict[str, JobContext] = {}

    def _open(self) -> JobTracker:
        return JobTracker.open(
            self.dir / "jobs.db", clock=self.clock, retention=None, flush_interval=3600
        )

    def teardown(self) -> None:
        self.tracker.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- rules -------------------------------------------------------------------------------

    @rule(target=jobs, title=st.text(max_size=10), current=st.integers(0, 100))
    def create(self, title: str, current: int) -> str:
        ctx = self.tracker.create_job("t", title=title or None)
        ctx.update_progress(current, 100, title)
        self.contexts[ctx.job_id] = ctx
        self.model[ctx.job_id] = Expected(JobStatus.RUNNING, current, 100, title)
        return ctx.job_id

    @rule(target=jobs, priority=st.integers(-5, 5))
    def enqueue(self, priority: int) -> str:
        job = self.tracker.enqueue("t", params={"p": priority}, priority=priority)
        self.model[job.id] = Expected(JobStatus.PENDING)
        return job.id

    @rule(job_id=jobs)
    def start(self, job_id: str) -> None:
        expected = self.model[job_id]
        if expected.status is JobStatus.PENDING:
            self.contexts[job_id] = self.tracker.start_job(job_id)
            self.model[job_id] = Expected(JobStatus.RUNNING)
        else:
            try:
                self.tracker.start_job(job_id)
            except InvalidTransition:
                return
            raise AssertionError(f"{expected.status} job {job_id} was started")

    @rule(
        job_id=jobs,
        current=st.integers(0, 10**6) | st.floats(0, 1e6, allow_nan=False),
        total=st.integers(0, 10**6),
        message=st.text(max_size=20),
    )
    def progress(self, job_id: str, current: float, total: int, message: str) -> None:
        ctx = self.contexts.get(job_id)
        expected = self.model[job_id]
        if ctx is None or expected.status is not JobStatus.RUNNING:
            return
        ctx.update_progress(current, total, message)
        expected.current, expected.total, expected.message = current, total, message

    @rule(job_id=jobs)
    def cancel(self, job_id: str) -> None:
        expected = self.model[job_id]
        accepted = self.tracker.cancel_job(job_id)
        assert accepted == (not expected.status.finished)
        if expected.status is JobStatus.PENDING:
            expected.status = JobStatus.CANCELLED
        elif expected.status is JobStatus.RUNNING:
            expected.cancel_requested = True

    @rule(job_id=jobs, success=st.booleans(), value=st.integers())
    def complete(self, job_id: str, success: bool, value: int) -> None:
        expected = self.model[job_id]
        if expected.status is not JobStatus.RUNNING:
            try:
                self.tracker.complete_job(job_id, success=success, result=value, error="e")
            except InvalidTransition:
                return
            raise AssertionError(f"{expected.status} job completed")
        if success:
            self.tracker.complete_job(job_id, result={"v": value})
            expected.status, expected.result = JobStatus.COMPLETED, {"v": value}
        else:
            self.tracker.complete_job(job_id, success=False, error=f"error {value}")
            expected.status, expected.error = JobStatus.FAILED, f"error {value}"

    @rule(job_id=jobs)
    def acknowledge_cancel(self, job_id: str) -> None:
        expected = self.model[job_id]
        if expected.status is JobStatus.RUNNING and expected.cancel_requested:
            self.tracker.mark_cancelled(job_id)
            expected.status = JobStatus.CANCELLED

    @rule()
    def flush(self) -> None:
        self.tracker.flush()

    @rule()
    def reopen(self) -> None:
        self.tracker.close()
        self.clock.advance(1)
        self.tracker = self._open()
        self.contexts.clear()
        for expected in self.model.values():
            if expected.status is JobStatus.RUNNING:
                expected.status = JobStatus.FAILED
                expected.error = "interrupted"
        self.check_store_equals_model()

    @precondition(lambda self: len(self.model) > 0)
    @rule(job_id=consumes(jobs))
    def forget(self, job_id: str) -> None:
        """Stop using a job id (keeps the bundle small); the model still checks it."""

    # -- checks ------------------------------------------------------------------------------

    def check_store_equals_model(self) -> None:
        assert self.tracker.count_jobs() == len(self.model)
        stored = {j.id: j for j in self.tracker.list_jobs(limit=10_000)}
        assert stored.keys() == self.model.keys()
        for job_id, expected in self.model.items():
            job = stored[job_id]
            assert job.status is expected.status, job_id
            assert job.progress.current == expected.current
            assert job.progress.total == expected.total
            assert job.progress.message == expected.message
            assert job.cancel_requested == expected.cancel_requested
            if expected.status is JobStatus.COMPLETED:
                assert job.result == expected.result
            if expected.error is not None:
                assert job.error is not None and expected.error in job.error.message
        assert [j.id for j in self.tracker.pending_jobs()] == [
            j.id
            for j in sorted(
                (j for j in stored.values() if j.status is JobStatus.PENDING),
                key=lambda j: (-j.priority, j.id),
            )
        ]

    @invariant()
    def statuses_agree(self) -> None:
        for job_id, expected in self.model.items():
            job = self.tracker.get_job(job_id)
            assert job is not None and job.status is expected.status


TrackerMachine.TestCase.settings = settings(
    max_examples=80,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_tracker_state_machine = TrackerMachine.TestCase
