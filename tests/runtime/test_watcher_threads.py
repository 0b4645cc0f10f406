"""WatcherThreads: the programs' watcher threads are reused, delayed calls come, close ends them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from jobdeck.runtime.watcher_threads import WatcherThreads

TIMEOUT = 30.0  # an upper bound for waits that normally take milliseconds (loaded CI)


def _named(prefix: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(prefix)]


def _wait_until(condition: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_a_thread_whose_work_is_done_takes_the_next() -> None:
    threads = WatcherThreads("jd-test-reuse", idle_timeout=TIMEOUT)
    ran_on: list[int] = []
    done = [threading.Event() for _ in range(3)]

    def work(event: threading.Event) -> Callable[[], None]:
        def run() -> None:
            ran_on.append(threading.get_ident())
            event.set()

        return run

    try:
        for event in done:
            threads.submit(work(event))
            assert event.wait(TIMEOUT)
            # the thread is idle again before the next work comes
            assert _wait_until(lambda: threads._idle == 1)
        assert len(set(ran_on)) == 1
    finally:
        threads.close()
    assert _wait_until(lambda: not _named("jd-test-reuse"))


@pytest.mark.expected_log("a task of the threads jd-test-fail failed")
def test_failing_work_is_logged_and_the_thread_goes_on() -> None:
    threads = WatcherThreads("jd-test-fail", idle_timeout=TIMEOUT)
    after = threading.Event()
    try:

        def fail() -> None:
            raise ZeroDivisionError("a bug in a watcher")

        threads.submit(fail)
        assert _wait_until(lambda: threads._idle == 1)
        threads.submit(after.set)
        assert after.wait(TIMEOUT)
    finally:
        threads.close()


def test_delayed_calls_come_after_their_delay_and_at_once_on_close() -> None:
    threads = WatcherThreads("jd-test-later", idle_timeout=TIMEOUT)
    came = threading.Event()
    asked = time.monotonic()
    threads.call_later(0.2, came.set)
    assert came.wait(TIMEOUT)
    assert time.monotonic() - asked >= 0.2
    pending = threading.Event()
    threads.call_later(60.0, pending.set)
    threads.close()
    assert pending.is_set()  # close does not leave it for a minute
    assert _wait_until(lambda: not _named("jd-test-later"))
    late = threading.Event()
    threads.call_later(60.0, late.set)
    assert late.is_set()  # after close: at once
