"""Scheduling decisions (jobdeck.core.queue): pure functions, no threads, no Qt."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobdeck.core.job import Job, JobStatus, new_job_id
from jobdeck.core.queue import QueuePlan, backoff, plan_queue

NOW = 1_700_000_000.0


def job(
    title: str = "j",
    *,
    priority: int = 0,
    status: JobStatus = JobStatus.PENDING,
    depends_on: tuple[str, ...] = (),
    run_at: float | None = None,
) -> Job:
    return Job(
        id=new_job_id(),
        type="t",
        title=title,
        status=status,
        created_ts=NOW,
        priority=priority,
        depends_on=depends_on,
        run_at_ts=run_at,
    )


def lookup_in(*jobs: Job):
    by_id = {j.id: j for j in jobs}
    return by_id.get


def titles(plan: QueuePlan) -> list[str]:
    return [j.title for j in plan.start]


def test_highest_priority_first_then_oldest_within_free_slots() -> None:
    a, b, c, d = job("a"), job("b", priority=2), job("c"), job("d", priority=-1)
    plan = plan_queue([d, c, b, a], running=1, max_workers=4, lookup=lookup_in(), now=NOW)
    assert titles(plan) == ["b", "a", "c"]
    assert plan.fail == () and plan.next_due is None


def test_no_free_slot_starts_nothing() -> None:
    plan = plan_queue([job()], running=2, max_workers=2, lookup=lookup_in(), now=NOW)
    assert plan.start == ()
    over = plan_queue([job()], running=5, max_workers=2, lookup=lookup_in(), now=NOW)
    assert over.start == ()


def test_a_job_waits_until_every_dependency_completed() -> None:
    done = job("done", status=JobStatus.COMPLETED)
    running = job("running", status=JobStatus.RUNNING)
    waiting = job("waiting", depends_on=(done.id, running.id), priority=9)
    ready = job("ready", depends_on=(done.id,))
    plan = plan_queue(
        [waiting, ready], running=0, max_workers=4, lookup=lookup_in(done, running), now=NOW
    )
    assert titles(plan) == ["ready"]
    assert plan.fail == ()


@pytest.mark.parametrize("dep_status", [JobStatus.FAILED, JobStatus.CANCELLED])
def test_failed_or_cancelled_dependency_fails_the_job_naming_it(dep_status: JobStatus) -> None:
    dep = job("Fetch pages", status=dep_status)
    child = job("child", depends_on=(dep.id,), run_at=NOW + 999)
    plan = plan_queue([child], running=4, max_workers=4, lookup=lookup_in(dep), now=NOW)
    assert plan.start == ()
    ((failed, reason),) = plan.fail
    assert failed is child
    assert reason == f"dependency 'Fetch pages' ({dep.id}) {dep_status.value}"
    assert plan.next_due is None


def test_missing_dependency_fails_the_job() -> None:
    child = job("child", depends_on=("01GONE",))
    plan = plan_queue([child], running=0, max_workers=1, lookup=lookup_in(), now=NOW)
    assert plan.fail == ((child, "dependency 01GONE no longer exists"),)


def test_run_at_in_the_future_waits_and_reports_the_next_due_time() -> None:
    soon, later, now_job = job("soon", run_at=NOW + 5), job("later", run_at=NOW + 60), job("now")
    blocked = job("blocked", run_at=NOW + 1, depends_on=("x",))
    x = job("x", status=JobStatus.RUNNING)
    x = replace(x, id="x")
    plan = plan_queue(
        [later, soon, now_job, blocked], running=0, max_workers=4, lookup=lookup_in(x), now=NOW
    )
    assert titles(plan) == ["now"]
    assert plan.next_due == NOW + 5  # "blocked" waits for x, not for time
    due = plan_queue([soon], running=0, max_workers=4, lookup=lookup_in(), now=NOW + 5)
    assert titles(due) == ["soon"]


def test_non_pending_jobs_are_ignored() -> None:
    plan = plan_queue(
        [job(status=JobStatus.RUNNING), job(status=JobStatus.CANCELLED)],
        running=0,
        max_workers=2,
        lookup=lookup_in(),
        now=NOW,
    )
    assert plan == QueuePlan()


@pytest.mark.parametrize(("running", "workers"), [(-1, 2), (0, 0), (0, True), (1.5, 2)])
def test_bad_counts_are_refused(running: object, workers: object) -> None:
    with pytest.raises(ValueError, match=r"running|max_workers"):
        plan_queue([], running=running, max_workers=workers, lookup=lookup_in(), now=NOW)  # type: ignore[arg-type]


@given(
    priorities=st.lists(st.integers(-3, 3), max_size=12),
    running=st.integers(0, 6),
    workers=st.integers(1, 6),
)
def test_never_more_than_the_free_slots_and_in_priority_order(
    priorities: list[int], running: int, workers: int
) -> None:
    jobs = [job(str(i), priority=p) for i, p in enumerate(priorities)]
    plan = plan_queue(jobs, running=running, max_workers=workers, lookup=lookup_in(), now=NOW)
    assert len(plan.start) == min(len(jobs), max(0, workers - running))
    keys = [(-j.priority, j.id) for j in plan.start]
    assert keys == sorted(keys)
    if plan.start:
        worst_started = max(keys)
        skipped = [(-j.priority, j.id) for j in jobs if j not in plan.start]
        assert all(k > worst_started for k in skipped)


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    rng = random.Random(7)
    for attempt in range(1, 12):
        ceiling = min(300.0, 2.0 ** (attempt - 1))
        delays = [backoff(attempt, rng=rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered
    assert 150 <= backoff(10_000, rng=rng) <= 300  # huge attempt numbers stay finite
    assert 5 <= backoff(2, base=5, cap=10, rng=rng) <= 10


def test_backoff_is_reproducible_with_a_seeded_rng() -> None:
    assert backoff(3, rng=random.Random(1)) == backoff(3, rng=random.Random(1))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"attempt": 0}, "attempt"),
        ({"attempt": True}, "attempt"),
        ({"attempt": 1, "base": 0}, "base"),
        ({"attempt": 1, "base": 2, "cap": 1}, "cap"),
    ],
)
def test_backoff_rejects_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        backoff(**kwargs)  # type: ignore[arg-type]
