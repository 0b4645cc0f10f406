"""A text search's page in creation order, read from the text index in rowid order: the
same pages as the id order has, whether the ids follow the rowids or not."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from jobdeck.core import FakeClock, JobStatus, JobTracker
from jobdeck.core import search_page as search_page_module
from jobdeck.core import store as store_module
from jobdeck.core.filters import JobFilter
from jobdeck.core.history_order import HistorySort
from jobdeck.core.job import Job, Progress, new_job_id
from jobdeck.core.store import Store

T0 = 1_700_000_000.0


def make_jobs(n: int, ids_order: str = "in-order") -> list[Job]:
    """``n`` jobs, a fifth of them about "rsync", every 40th "rare" and every 17th of type
    "hash", stored in this order; their ids follow it (``in-order``), or not at all
    (``shuffled``), or but for a few pairs swapped (``swapped``: e.g. jobs of two
    processes whose clocks differ)."""
    ids = [new_job_id(T0 + i) for i in range(n)]  # increasing
    if ids_order == "shuffled":
        random.Random(7).shuffle(ids)
    elif ids_order == "swapped":
        for a, b in ((10, 11), (50, 130), (200, 395), (5, 399)):
            ids[a], ids[b] = ids[b], ids[a]
    jobs = []
    for i, job_id in enumerate(ids):
        word = "rare" if i % 40 == 0 else "RSYNC" if i % 5 == 0 else "copy"
        jobs.append(
            Job(
                id=job_id,
                type="hash" if i % 17 == 0 else "command",
                title=f"{word} {i}",
                status=(JobStatus.COMPLETED, JobStatus.FAILED)[i % 2],
                created_ts=T0 + i,
                progress=Progress(0, 0, f"step {i % 3}"),
                attempts=1,
            )
        )
    return jobs


def store_of(path: Path, jobs: list[Job]) -> Store:
    JobTracker.open(path, clock=FakeClock(), retention=None).close()
    store = Store(path)
    with store.transaction() as conn:
        for job in jobs:
            store.insert(conn, job)
    return store


def all_pages(store: Store, where: JobFilter, descending: bool, size: int) -> list[str]:
    ids: list[str] = []
    after = None
    while True:
        page = store.history_page(where, HistorySort.CREATED, descending, after, size)
        ids += [job.id for job, _key in page]
        if len(page) < size:
            return ids
        after = page[-1][1]


@pytest.mark.parametrize("ids_order", ["in-order", "shuffled", "swapped"])
def test_search_pages_in_creation_order_are_the_id_orders_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ids_order: str
) -> None:
    jobs = make_jobs(400, ids_order)
    store = store_of(tmp_path / "jobs.db", jobs)
    answers: list[bool] = []
    real = search_page_module.natural_search_page

    def spy(*args: Any, **kwargs: Any) -> list[Sequence[Any]] | None:
        rows = real(*args, **kwargs)
        answers.append(rows is not None)
        return rows

    monkeypatch.setattr(store_module, "natural_search_page", spy)
    try:
        for where in (
            JobFilter.of(search="rsync"),
            JobFilter.of(search="rare"),
            JobFilter.of(search="no such job"),
            JobFilter.of(status="failed", search="rsync"),
            JobFilter.of(status="completed", search="Step 1"),
            JobFilter.of(type="hash", search="copy"),  # few of the matches: read on
        ):
            for descending in (True, False):
                expected = sorted((j.id for j in jobs if where.matches(j)), reverse=descending)
                assert expected or where.search == "no such job"
                for size in (7, 30):
                    assert all_pages(store, where, descending, size) == expected, where
    finally:
        store.close()
    if ids_order == "in-order":
        assert all(answers)  # the index answered every page
    else:
        assert not all(answers)  # the proof failed somewhere: the general plan answered


def test_a_search_page_after_a_deleted_job_is_still_right(tmp_path: Path) -> None:
    jobs = make_jobs(100)
    store = store_of(tmp_path / "jobs.db", jobs)
    try:
        where = JobFilter.of(search="rsync")
        first = store.history_page(where, HistorySort.CREATED, True, None, 5)
        with store.transaction() as conn:
            store.delete_jobs(conn, [first[-1][0].id])  # the page's edge goes
        rest = store.history_page(where, HistorySort.CREATED, True, first[-1][1], 100)
        expected = sorted((j.id for j in jobs if where.matches(j)), reverse=True)[5:]
        assert [job.id for job, _key in rest] == expected
    finally:
        store.close()
