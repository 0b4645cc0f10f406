"""KeptThreads: threads kept for the next task (a search's reads and counts, the programs'
watchers), at most so many at once, at a lower CPU priority when asked, ending when idle
for long when asked."""

import functools
import logging
import os
import sys
import threading
import time

import pytest

from jobdeck.core import kept_threads
from jobdeck.core.kept_threads import BACKGROUND_NICE, KeptThreads


def run(workers: KeptThreads, task) -> None:
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
    workers = KeptThreads("test-workers", most=2)
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


def test_past_the_limit_tasks_wait_their_turn_in_order():
    workers = KeptThreads("test-limit", most=1)
    gate = threading.Event()
    ran: list[int] = []
    workers.submit(lambda: gate.wait(5))
    for k in range(3):
        workers.submit(functools.partial(ran.append, k))
    assert ran == [] and workers.threads == 1
    gate.set()
    run(workers, lambda: None)
    assert ran == [0, 1, 2] and workers.threads == 1


@pytest.mark.expected_log("a task of the threads test-failing failed")
def test_a_failing_task_is_logged_and_the_thread_goes_on(caplog):
    workers = KeptThreads("test-failing", most=1)
    with caplog.at_level(logging.ERROR, logger="jobdeck.core.kept_threads"):
        workers.submit(lambda: 1 / 0)
        run(workers, lambda: None)
    assert "ZeroDivisionError" in caplog.text and workers.threads == 1


@pytest.mark.skipif(sys.platform != "linux", reason="a thread's own nice value: Linux")
def test_nice_threads_run_at_a_lower_cpu_priority_than_the_gui_thread():
    ours = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen: list[int] = []

    def note_priority() -> None:
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    run(KeptThreads("test-low", 1, nice=BACKGROUND_NICE), note_priority)
    run(KeptThreads("test-normal", 1), note_priority)
    assert seen == [max(ours, BACKGROUND_NICE), ours]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == ours  # as it was


def test_an_idle_thread_ends_after_the_idle_timeout_and_a_new_one_starts_later():
    workers = KeptThreads("test-idle", idle_timeout=0.05)
    run(workers, lambda: None)
    assert workers.threads <= 1
    deadline = time.monotonic() + 5
    while workers.threads and time.monotonic() < deadline:  # (no signal to wait for)
        time.sleep(0.01)
    assert workers.threads == 0
    names: list[str] = []
    run(workers, lambda: names.append(threading.current_thread().name))
    assert names == ["test-idle"]


def test_most_must_be_positive():
    with pytest.raises(ValueError, match="most must be positive"):
        KeptThreads("none", most=0)


def test_submit_never_waits_for_a_new_thread_to_run(monkeypatch):
    """Thread.start waits until the new thread runs (50-200 ms for a busy machine's GUI
    thread): a new thread is started by a helper thread, never by the one submitting."""
    starters: list[int] = []
    start = threading.Thread.start

    def noted_start(thread: threading.Thread) -> None:
        starters.append(threading.get_ident())
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", noted_start)
    workers = KeptThreads("test-no-wait", most=2)
    names: list[str] = []
    run(workers, lambda: names.append(threading.current_thread().name))
    assert names == ["test-no-wait"] and workers.threads == 1
    assert starters and threading.get_ident() not in starters


@pytest.mark.expected_log("the thread test-unstarted could not be started")
def test_a_thread_that_cannot_start_is_logged_and_not_counted(monkeypatch, caplog):
    def no_thread(_thread: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    workers = KeptThreads("test-unstarted", most=1)
    with caplog.at_level(logging.ERROR, logger="jobdeck.core.kept_threads"):
        monkeypatch.setattr(threading.Thread, "start", no_thread)
        workers.submit(lambda: None)
        deadline = time.monotonic() + 5
        while workers.threads and time.monotonic() < deadline:  # (no signal to wait for)
            time.sleep(0.01)
        monkeypatch.undo()
    assert workers.threads == 0 and "can't start new thread" in caplog.text
    ran: list[int] = []
    run(workers, lambda: ran.append(1))  # the next submit starts one: both tasks run
    assert ran == [1] and workers.threads == 1


def test_start_thread_starts_a_named_daemon_thread():
    seen: list[tuple[str, bool]] = []
    done = threading.Event()

    def note() -> None:
        me = threading.current_thread()
        seen.append((me.name, me.daemon))
        done.set()

    kept_threads.start_thread(note, "test-started")
    assert done.wait(5) and seen == [("test-started", True)]
