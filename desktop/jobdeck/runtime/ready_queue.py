"""The scheduler's view of the pending jobs: :class:`ReadyQueue`.

Pending jobs are split so a scheduling pass looks at few of them: the *ready* ones (no
dependency, not delayed), in start order (higher priority first, then oldest), in two
queues — those that need a thread and the others — and the *held* ones (waiting for their
dependencies or their time), which :func:`~jobdeck.core.queue.plan_queue` looks at in every
pass. The queue is rebuilt from the tracker when jobs were retried (or queued with
dependencies or a time); a job queued ready to start is added to it. Not
thread-safe: the scheduler guards it with its lock. No Qt.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable

from jobdeck.core.job import Job

__all__ = ["ReadyQueue", "start_order"]


def start_order(job: Job) -> tuple[int, str]:
    """The order ready jobs start in: higher priority first, then older (ids sort by time)."""
    return -job.priority, job.id


class ReadyQueue:
    """Ready jobs (with and without a thread) and held jobs (see the module)."""

    def __init__(self) -> None:
        self.ready: collections.deque[Job] = collections.deque()
        self.threaded: collections.deque[Job] = collections.deque()
        self.held: list[Job] = []
        #: True when jobs were queued since the last rebuild.
        self.stale = True

    def rebuild(
        self, pending: Iterable[Job], now: float, needs_thread: Callable[[Job], bool]
    ) -> None:
        """Sort the pending jobs (already in start order) into ready and held ones."""
        ready: list[Job] = []
        threaded: list[Job] = []
        held: list[Job] = []
        for job in pending:
            if job.depends_on or (job.run_at_ts is not None and job.run_at_ts > now):
                held.append(job)
            elif needs_thread(job):
                threaded.append(job)
            else:
                ready.append(job)
        self.ready = collections.deque(ready)
        self.threaded = collections.deque(threaded)
        self.held = held
        self.stale = False

    def add(self, job: Job, needs_thread: bool) -> None:
        """A ready job queued since the last rebuild: into its queue in start order (at
        the end, in the usual case of a job as urgent as those before it). Nothing if it
        is there already."""
        queue = self.threaded if needs_thread else self.ready
        key = start_order(job)
        if not queue or start_order(queue[-1]) < key:
            # After the last one (the usual case): it is none of those there, which are in
            # start order before it. Jobs queued one by one cost O(1) each, not a look at
            # every job queued so far (10,000 queued cost 50 million comparisons).
            queue.append(job)
            return
        if any(other.id == job.id for other in queue):
            return
        index = next(i for i, other in enumerate(queue) if key < start_order(other))
        queue.insert(index, job)

    def take_front(self, slots: int, threads: int) -> list[tuple[Job, bool]]:
        """Pop the first ``slots`` ready jobs in start order, at most ``threads`` of them
        needing a thread: ``(job, needs_thread)``."""
        front: list[tuple[Job, bool]] = []
        ready, threaded = self.ready, self.threaded
        while len(front) < slots:
            use_thread = bool(threaded) and threads > 0
            if use_thread and ready:
                use_thread = start_order(threaded[0]) < start_order(ready[0])
            if use_thread:
                front.append((threaded.popleft(), True))
                threads -= 1
            elif ready:
                front.append((ready.popleft(), False))
            else:
                break
        return front

    def settle(self, front: list[tuple[Job, bool]], taken: set[str]) -> None:
        """After planning: the front jobs not ``taken`` go back to the front of their
        queues, in order; held jobs that were taken leave."""
        for queue, needs_thread in ((self.ready, False), (self.threaded, True)):
            back = [j for j, t in front if t is needs_thread and j.id not in taken]
            queue.extendleft(reversed(back))
        if taken:
            self.held = [job for job in self.held if job.id not in taken]

    def put_back(self, jobs: list[Job], front: dict[str, bool]) -> None:
        """Jobs a pass ran out of time to start go back where they came from, in order:
        the front of their ready queue, or the held jobs."""
        for queue, needs_thread in ((self.ready, False), (self.threaded, True)):
            queue.extendleft(reversed([j for j in jobs if front.get(j.id) is needs_thread]))
        self.held.extend(j for j in jobs if j.id not in front)
