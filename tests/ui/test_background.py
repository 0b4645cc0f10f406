"""Threads kept for the GUI thread's background work (a search's reads and counts)."""

import logging
import os
import sys
import threading

import pytest

from jobdeck.ui.background import BACKGROUND_NICE, Workers


def run(workers: Workers, task) -> None:
    """Submit ``task`` and wait until it ran."""
    done = threading.Event()

    def wrapped() -> None:
        try:
            task()
        finally:
            done.set()

    workers.submit(wrapped)
    assert done.wait(5)


def test_tasks_reuse_the_threads_and_a_new_one_starts_only_when_all_are_busy():
    workers = Workers("test-workers", most=2)
    ran: list[tuple[int, str]] = []
    for k in range(5):  # one after the other: the one thread serves them all
        run(workers, lambda k=k: ran.append((k, threading.current_thread().name)))
    assert ran == [(k, "test-workers") for k in range(5)] and workers.threads == 1
    gate = threading.Event()
    workers.submit(lambda: gate.wait(5))  # busy...
    run(workers, lambda: None)  # ...so a second thread takes this one
    assert workers.threads == 2
    for _ in range(3):  # the second thread is idle again: it takes them
        run(workers, lambda: None)
    gate.set()
    assert workers.threads == 2


@pytest.mark.expected_log("a background task of test-failing failed")
def test_a_failing_task_is_logged_and_the_thread_goes_on(caplog):
    workers = Workers("test-failing", most=1)
    with caplog.at_level(logging.ERROR, logger="jobdeck.ui.background"):
        workers.submit(lambda: 1 / 0)
        run(workers, lambda: None)
    assert "ZeroDivisionError" in caplog.text and workers.threads == 1


@pytest.mark.skipif(sys.platform != "linux", reason="a thread's own nice value: Linux")
def test_below_gui_threads_run_at_a_lower_cpu_priority_than_the_gui_thread():
    ours = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen: list[int] = []

    def note_priority() -> None:
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    run(Workers("test-low", 1, below_gui=True), note_priority)
    run(Workers("test-normal", 1), note_priority)
    assert seen == [max(ours, BACKGROUND_NICE), ours]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == ours  # as it was


def test_most_must_be_positive():
    with pytest.raises(ValueError, match="most must be positive"):
        Workers("none", most=0)
