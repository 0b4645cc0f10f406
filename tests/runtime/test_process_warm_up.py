"""The process machinery warms up once, however many threads queue the first process jobs
at the same moment."""

from __future__ import annotations

import contextlib
import threading

from jobdeck.runtime.executors.processes import ProcessExecutor

TIMEOUT = 30.0  # an upper bound for waits that normally take milliseconds (loaded CI)


class _Racing(ProcessExecutor):
    """Two threads that look whether it is warming up both look before either says so
    (a look at the flag waits, a while at most, for a second look before it answers)."""

    looked = threading.Barrier(2)

    @property
    def _warming(self) -> bool:
        seen = bool(self.__dict__.get("_warming_flag", False))
        with contextlib.suppress(threading.BrokenBarrierError):
            self.looked.wait(0.5)
        return seen

    @_warming.setter
    def _warming(self, value: bool) -> None:
        self.__dict__["_warming_flag"] = value


def test_two_threads_expecting_the_first_process_jobs_start_one_warm_up(qtbot) -> None:
    executor = _Racing()
    executor._closed = False  # (opened: nothing else of it is used)
    warm_ups: list[str] = []
    executor._warm_up = lambda: warm_ups.append(threading.current_thread().name)  # type: ignore[method-assign]
    # (which job type it is does not matter for this)
    queueing = [threading.Thread(target=executor.expect, args=(None,)) for _ in range(2)]
    for thread in queueing:
        thread.start()
    for thread in queueing:
        thread.join(TIMEOUT)
    for thread in threading.enumerate():  # the warm-ups started, done
        if thread.name == "jobdeck-process-warm-up":
            thread.join(TIMEOUT)
    assert warm_ups == ["jobdeck-process-warm-up"]
