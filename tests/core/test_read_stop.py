"""A count or a search read another thread no longer wants (a search typed on) stops: its
SQLite statement is interrupted mid-way, and a count stopped before it starts never runs."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from jobdeck.core import FakeClock, JobTracker
from jobdeck.core.filters import JobFilter
from jobdeck.core.history_order import HistorySort
from jobdeck.core.read_stop import ReadStop, ReadStopped
from jobdeck.core.store import Store

from .test_history_paging import make_jobs

TIMEOUT = 30.0  # an upper bound for waits that normally take milliseconds (loaded CI)


def _store_of_200_jobs(tmp_path: Path) -> Store:
    path = tmp_path / "jobs.db"
    JobTracker.open(path, clock=FakeClock()).close()
    store = Store(path)
    with store.transaction() as conn:
        for job in make_jobs(200):
            store.insert(conn, job)
    return store


def _stop_at_first_row(
    store: Store, read: Callable[[sqlite3.Connection, ReadStop], object]
) -> tuple[object, int, sqlite3.Connection]:
    """Run ``read(reader, stop)`` on a thread, hold it at the first text SQLite lowers (a
    search under three letters is a scan that lowers each text), stop it there and let it
    go on: what it returned or raised, how many texts it lowered, and its connection (with
    SQLite's own lower() back)."""
    reader = sqlite3.connect(store.path, check_same_thread=False)
    first_row, go_on = threading.Event(), threading.Event()
    texts_read = 0

    def slow_lower(text: str | None) -> str | None:
        nonlocal texts_read
        texts_read += 1
        first_row.set()
        go_on.wait(TIMEOUT)
        return None if text is None else text.lower()

    reader.create_function("lower", 1, slow_lower)
    stop = ReadStop()
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(read(reader, stop))
        except ReadStopped as exc:
            outcome.append(exc)

    reading = threading.Thread(target=run)
    reading.start()
    assert first_row.wait(TIMEOUT)
    stop.stop()
    go_on.set()
    reading.join(TIMEOUT)
    assert not reading.is_alive()
    assert len(outcome) == 1
    reader.create_function("lower", 1, lambda text: None if text is None else text.lower())
    return outcome[0], texts_read, reader


def test_a_count_under_way_stops_when_stopped(tmp_path: Path) -> None:
    store = _store_of_200_jobs(tmp_path)
    try:
        outcome, texts_read, reader = _stop_at_first_row(
            store, lambda reader, stop: store.count_jobs(JobFilter.of(search="al"), reader, stop)
        )
        assert isinstance(outcome, ReadStopped)
        assert texts_read < 5  # stopped at the first row, not after the 1000 texts
        # the connection is fine for the next read, and an unstopped count counts
        assert store.count_jobs(JobFilter.of(search="al"), reader, ReadStop()) > 0
        reader.close()
    finally:
        store.close()


def test_a_count_stopped_before_it_starts_never_runs(tmp_path: Path) -> None:
    tracker = JobTracker.open(tmp_path / "jobs.db", clock=FakeClock())
    try:
        stop = ReadStop()
        assert tracker.count_jobs(search="al", stop=stop) == 0
        stop.stop()
        with pytest.raises(ReadStopped):
            tracker.count_jobs(search="al", stop=stop)
    finally:
        tracker.close()


def test_a_history_page_under_way_stops_when_stopped(tmp_path: Path) -> None:
    """The first rows of a one- or two-letter search that few jobs contain are scanned for
    (seconds at a million jobs): typing on stops that read too, mid-way."""
    store = _store_of_200_jobs(tmp_path)
    where = JobFilter.of(search="zq")  # matches nothing: the scan reads every row
    try:
        outcome, texts_read, reader = _stop_at_first_row(
            store,
            lambda reader, stop: store.history_page(
                where, HistorySort.CREATED, True, None, 25, 0, reader, stop
            ),
        )
        assert isinstance(outcome, ReadStopped)
        assert texts_read < 5  # stopped at the first row, not after the 1000 texts
        assert not reader.in_transaction
        assert store.history_page(JobFilter.of(search="al"), HistorySort.CREATED, True,
                                  None, 5, 0, reader, ReadStop())  # fmt: skip
        reader.close()
    finally:
        store.close()
