"""Callable jobs on a Dask distributed cluster: :class:`DaskExecutor`.

A callable job type that says ``executor="dask"`` runs on a worker of the Dask scheduler at
``address`` (``tcp://host:8786``), as :func:`jobdeck.core.dask_task.run_task`, which calls
its function with a context of the usual API. The app hears back through Dask only:

* progress and log lines arrive coalesced as Dask events on this executor's own topic
  (``Client.subscribe_topic``), at most one per task every
  :data:`~jobdeck.core.dask_task.REPORT_EVERY` s, and go to the job's context, which the
  tracker coalesces further as it does for local jobs;
* the first event (a task's first tenth of a second) says which worker took the job: its
  host, address and pid are stored as the job's ``metadata["worker"]`` (the taskbar shows
  the host, the details pane the worker), and with its end (in the same commit) its
  resource use (the worker's peak RSS, the task's CPU seconds);
* cancel (and a timeout) runs :func:`~jobdeck.core.dask_task.cancel_task` on the worker
  (``Client.run``), which sets the context's cancel flag there, and cancels the future;
* the task's result, or its error with the worker's traceback, becomes the job's outcome;
* a worker that goes away while it runs a job (the scheduler's ``remove-worker`` event)
  fails the job with that reason and the job retries per its policy (Dask would run it
  again elsewhere on its own; Jobdeck's retry policy decides instead); losing the
  scheduler fails every running job, to retry per its policy, with the reason; a job
  started while the scheduler cannot be reached fails the same way.

Dask is imported when the executor first connects (on its own thread, never the GUI's):
an app with no Dask scheduler configured never imports it. Everything that waits on the
network (connecting, submitting, cancelling) runs on that one thread.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import logging
import threading
import time
import uuid
from typing import Any, cast

from jobdeck.core.clock import Clock
from jobdeck.core.dask_task import cancel_task, run_task
from jobdeck.core.job import JobError
from jobdeck.core.registry import JobKind, JobType

from .base import Executor, ExecutorHost, Outcome, Run, WorkerRecord

__all__ = ["DaskExecutor"]

log = logging.getLogger(__name__)

#: Seconds between two checks that the scheduler still answers (while jobs run there),
#: and how long it has to answer.
WATCH_EVERY = 1.0
WATCH_TIMEOUT = 10.0
#: Checks in a row that must fail before the scheduler counts as gone (a busy one is slow).
WATCH_FAILURES = 3
#: The Dask topic on which the scheduler announces workers leaving (among others).
_CLUSTER_TOPIC = "all"


class _Handle:
    """A run's Dask side: its task key, future, worker and why this app ended it."""

    __slots__ = ("future", "key", "reason", "worker")

    def __init__(self, key: str) -> None:
        self.key = key
        self.future: Any = None
        self.worker: dict[str, Any] | None = None
        #: Set when this app ends the task itself ("cancel", or a failure's message).
        self.reason: str | None = None


class DaskExecutor(Executor):
    """Runs callable job types with ``executor="dask"`` on the Dask cluster whose scheduler
    is at ``address`` (see the module). ``connect_timeout``: seconds to reach it.

    Put it before the :class:`~jobdeck.runtime.executors.ThreadExecutor` (the first
    executor that accepts a type runs it); without it such types run on local threads.
    """

    def __init__(self, address: str, *, connect_timeout: float = 10.0) -> None:
        if not isinstance(address, str) or not address.strip():
            raise ValueError(f"a Dask scheduler address is like tcp://host:8786, got {address!r}")
        self.address = address.strip()
        self.connect_timeout = connect_timeout
        #: This app's event topic: only its own tasks report on it.
        self.topic = f"jobdeck-{uuid.uuid4().hex}"
        self._io = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="jobdeck-dask")
        self._records = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="jobdeck-dask-record"
        )
        #: Cancels wait on a worker's answer: on a thread of their own, so no submit waits.
        self._cancels = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="jobdeck-dask-cancel"
        )
        self._client: Any = None
        self._lock = threading.Lock()
        self._runs: dict[str, Run] = {}  # by task key; guarded by _lock
        #: Runs started and not yet submitted, with their kwargs; guarded by _lock.
        self._to_submit: list[tuple[Run, dict[str, Any]]] = []
        self._idle = threading.Condition(self._lock)
        self._closing = threading.Event()
        self._watcher: threading.Thread | None = None
        #: Set by the watcher when the scheduler stopped answering: connect afresh.
        self._lost = False

    # -- the executor interface ----------------------------------------------------------------

    def accepts(self, job_type: JobType) -> bool:
        return job_type.kind is JobKind.CALLABLE and job_type.executor == "dask"

    def open(self, tracker: Any, clock: Clock, host: ExecutorHost | None = None) -> None:
        super().open(tracker, clock, host)
        self._io.submit(self._connect_quietly)

    def start(self, run: Run, prepared: Any) -> None:
        handle = run.handle = _Handle(f"jobdeck-{run.job_id}-{run.job.attempts}")
        with self._lock:
            self._runs[handle.key] = run
            self._to_submit.append((run, prepared))
            first = len(self._to_submit) == 1
        if first:  # else the submit already queued takes this one too
            self._io.submit(self._submit_waiting)

    def cancel(self, run: Run) -> None:
        handle = run.handle
        if isinstance(handle, _Handle):
            if handle.reason is None:
                handle.reason = "cancel"
            self._cancels.submit(self._cancel_remote, handle)

    def wait(self, deadline: float) -> None:
        with self._lock:
            while self._runs and time.monotonic() < deadline:
                self._idle.wait(max(0.0, min(0.1, deadline - time.monotonic())))

    def close(self, deadline: float) -> bool:
        with self._lock:
            left = list(self._runs.values())
        self._closing.set()
        for run in left:
            self._end(run, Outcome.failed("the app stopped watching its Dask task", retry=True))
        self._cancels.shutdown(wait=True)
        self._records.shutdown(wait=True)
        self._io.submit(self._disconnect)
        self._io.shutdown(wait=True)
        return True

    # -- the Dask side (the executor's thread and Dask's event loop) -----------------------------

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` while connected (None before)."""
        return self._client

    def future_of(self, job_id: str) -> Any:
        """The Dask future of the running job ``job_id`` (None: not running here)."""
        with self._lock:
            runs = list(self._runs.values())
        return next((r.handle.future for r in runs if r.job_id == job_id), None)

    def _connect(self) -> Any:
        """The connected client (executor's thread); raises when the scheduler cannot be
        reached."""
        client = self._client
        if client is not None and client.status == "running" and not self._lost:
            return client
        if client is not None:
            self._client = None
            try:
                client.close(timeout=1)
            except Exception:
                log.debug("closing a lost Dask client failed", exc_info=True)
        try:
            from distributed import Client
        except ImportError as exc:  # e.g. the desktop bundle, which leaves the extra out
            raise RuntimeError(
                f"running jobs on the Dask scheduler at {self.address} needs Dask's "
                f"distributed package, which is not installed here "
                f"(pip install 'jobdeck[dask]'): {exc}"
            ) from exc

        client = Client(self.address, timeout=self.connect_timeout, set_as_default=False)
        client.subscribe_topic(self.topic, self._on_task_event)
        client.subscribe_topic(_CLUSTER_TOPIC, self._on_cluster_event)
        self._client, self._lost = client, False
        log.info("connected to the Dask scheduler at %s", self.address)
        if self._watcher is None:
            self._watcher = threading.Thread(
                target=self._watch, name="jobdeck-dask-watch", daemon=True
            )
            self._watcher.start()
        return client

    def _watch(self) -> None:
        """Ask the scheduler every :data:`WATCH_EVERY` s, while jobs run there, whether it
        is still there (a scheduler that dies, or a network that drops it, often leaves the
        client's connection looking open); when it has not answered :data:`WATCH_FAILURES`
        times in a row, fail those jobs."""
        failures = 0
        while not self._closing.wait(WATCH_EVERY):
            with self._lock:
                runs = [r for r in self._runs.values() if r.handle.future is not None]
            client = self._client
            if not runs or client is None:
                failures = 0
                continue
            try:
                client.sync(client.scheduler.identity, callback_timeout=WATCH_TIMEOUT)
                failures = 0
            except Exception as exc:
                failures += 1
                if self._closing.is_set():
                    return
                if failures < WATCH_FAILURES:
                    continue
                failures = 0
                with self._lock:  # those still running now
                    runs = [r for r in self._runs.values() if r.handle.future is not None]
                self._lost = True
                reason = f"{self._lost_scheduler()} ({_why(exc)})"
                log.warning("%s: %d job(s) failed", reason, len(runs))
                for run in runs:
                    run.handle.reason = reason
                    self._end(run, Outcome.failed(reason, retry=True))

    def _connect_quietly(self) -> None:
        try:
            self._connect()
        except Exception as exc:
            log.info("cannot reach the Dask scheduler at %s yet: %s", self.address, exc)

    def _submit_waiting(self) -> None:
        """Submit every run started since the last submit, in one ``Client.map`` (one
        graph update for the scheduler, as plain ``client.map`` sends)."""
        with self._lock:
            waiting, self._to_submit = self._to_submit, []
        runs: list[tuple[Run, dict[str, Any]]] = []
        for run, kwargs in waiting:
            if run.ctx.cancelled:
                self._end(run, run.raised(_cancel_error()))
            else:
                runs.append((run, kwargs))
        if not runs:
            return
        keys = [run.handle.key for run, _ in runs]
        try:
            client = self._connect()
            futures = client.map(
                run_task,
                keys,
                [run.job_id for run, _ in runs],
                [cast(JobType, run.job_type).func for run, _ in runs],
                [kwargs for _, kwargs in runs],
                [self.topic] * len(runs),
                key=keys,
                pure=False,
            )
        except Exception as exc:
            for run, _ in runs:
                self._end(run, Outcome.failed(self._unreachable(exc), retry=True))
            return
        for (run, _), future in zip(runs, futures, strict=True):
            handle: _Handle = run.handle
            handle.future = future
            future.add_done_callback(functools.partial(self._done, run))
            if run.ctx.cancelled:  # cancelled while it was being submitted
                self._cancels.submit(self._cancel_remote, handle)

    def _cancel_remote(self, handle: _Handle, *, tell_worker: bool = True) -> None:
        """Tell the task's worker (every worker while unknown) to stop it; cancel its future."""
        client, future = self._client, handle.future
        if client is None or future is None:
            return
        workers = [handle.worker["address"]] if handle.worker else None
        try:
            if tell_worker:
                client.run(cancel_task, handle.key, workers=workers)
        except Exception:
            log.debug("could not reach the worker of %s", handle.key, exc_info=True)
        try:
            future.cancel(reason="cancelled in Jobdeck")
        except Exception:
            log.debug("could not cancel the future of %s", handle.key, exc_info=True)

    def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                if client.status == "running":  # else the scheduler writes to a closed comm
                    client.unsubscribe_topic(_CLUSTER_TOPIC)
                    client.unsubscribe_topic(self.topic)
                client.close(timeout=2)
            except Exception:
                log.debug("closing the Dask client failed", exc_info=True)

    # -- what comes back -------------------------------------------------------------------------

    def _run_of(self, key: object) -> Run | None:
        with self._lock:
            return self._runs.get(key) if isinstance(key, str) else None

    def _on_task_event(self, event: tuple[float, Any]) -> None:
        """A task's event (Dask's event loop): where it runs, or its progress and logs."""
        msg = event[1]
        if not isinstance(msg, dict):
            return
        run = self._run_of(msg.get("key"))
        if run is None or run.reported:
            return
        try:
            self._apply(run, msg)
        except Exception:
            log.exception("a bad progress event from the Dask task of job %s", run.job_id)

    def _apply(self, run: Run, msg: dict[str, Any]) -> None:
        worker = msg.get("where")  # Dask sets "worker" to the worker's address itself
        if isinstance(worker, dict):
            run.handle.worker = worker
            # A store write: not on Dask's event loop, which must keep up with the cluster.
            self._records.submit(self._record_worker, run, worker)
        progress = msg.get("progress")
        if progress is not None:
            current, total, message = progress
            run.ctx.update_progress(current, total, message)
        for level, line in msg.get("lines") or ():
            run.ctx.log(line, level)

    def _record_worker(self, run: Run, worker: dict[str, Any]) -> None:
        if run.reported:
            return
        try:
            self.tracker.set_worker(run.job_id, worker)
        except ValueError:  # it ended meanwhile
            log.debug("job %s ended before its worker was recorded", run.job_id)
        except Exception:
            log.exception("could not record the worker of job %s", run.job_id)

    def _on_cluster_event(self, event: tuple[float, Any]) -> None:
        """The scheduler's own events: a worker that leaves fails the jobs it runs."""
        msg = event[1]
        if not isinstance(msg, dict) or msg.get("action") != "remove-worker":
            return
        address = msg.get("worker", "?")
        for key in msg.get("processing-tasks") or ():
            run = self._run_of(key)
            if run is None or run.reported:
                continue
            handle: _Handle = run.handle
            where = handle.worker.get("host", address) if handle.worker else address
            reason = f"the Dask worker {address} ({where}) running it went away"
            handle.reason = reason
            self._end(run, Outcome.failed(reason, retry=True))
            # Its worker is gone: only the future, lest Dask run it again elsewhere.
            self._cancels.submit(self._cancel_remote, handle, tell_worker=False)

    def _done(self, run: Run, future: Any) -> None:
        """The task's future ended (a thread of Dask's): the job's outcome."""
        try:
            outcome = self._outcome(run, future)
        except Exception as exc:
            log.exception("could not read the Dask result of job %s", run.job_id)
            outcome = Outcome.failed(f"could not read the Dask result: {exc}", retry=True)
        self._end(run, outcome)

    def _outcome(self, run: Run, future: Any) -> Outcome:
        handle: _Handle = run.handle
        status = future.status
        if status == "finished":
            try:
                out = future.result()
            except Exception:  # cancelled (by us, or a lost scheduler) as it finished
                status = "cancelled"
            else:
                return self._finished(run, out)
        if handle.reason == "cancel":
            return run.raised(_cancel_error())
        if handle.reason is not None:
            return Outcome.failed(handle.reason, retry=True)
        if status == "cancelled":  # not by us: the client lost the scheduler
            return Outcome.failed(self._lost_scheduler(), retry=True)
        if status == "error":
            exc = future.exception()
            tb = future.traceback()
            text = "".join(_format(exc, tb))
            if type(exc).__name__ == "KilledWorker":
                return Outcome.failed(
                    JobError(f"the Dask workers running it kept dying: {exc}", text), retry=True
                )
            return Outcome.failed(JobError(f"{type(exc).__name__}: {exc}", text), retry=True)
        return Outcome.failed(self._lost_scheduler(), retry=True)

    def _finished(self, run: Run, out: dict[str, Any]) -> Outcome:
        last = out.get("last")
        if isinstance(last, dict):
            self._apply(run, last)
        outcome = self._ended(run, out)
        worker = out.get("where")
        if isinstance(worker, dict):  # written with the end, in one commit
            record = WorkerRecord(worker, out.get("peak_rss"), out.get("cpu_seconds"))
            outcome = dataclasses.replace(outcome, worker=record)
        return outcome

    def _ended(self, run: Run, out: dict[str, Any]) -> Outcome:
        status = out.get("status")
        if status == "completed":
            return run.returned(out.get("result"))
        if status == "cancelled":
            return run.raised(_cancel_error())
        error = JobError(str(out.get("error") or "failed"), out.get("traceback"))
        if run.timed_out or run.ctx.cancelled:
            return run.raised(RuntimeError(error.message))
        return Outcome.failed(error, retry=True)

    def _end(self, run: Run, outcome: Outcome) -> None:
        handle = run.handle
        with self._lock:
            if isinstance(handle, _Handle):
                self._runs.pop(handle.key, None)
            self._idle.notify_all()
        run.report(outcome)

    def _unreachable(self, exc: BaseException) -> str:
        return f"cannot reach the Dask scheduler at {self.address}: {_why(exc)}"

    def _lost_scheduler(self) -> str:
        return f"lost the connection to the Dask scheduler at {self.address} while it ran"


def _why(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _cancel_error() -> BaseException:
    import asyncio

    return asyncio.CancelledError()


def _format(exc: BaseException | None, tb: Any) -> list[str]:
    import traceback

    if exc is None:
        return []
    return traceback.format_exception(type(exc), exc, tb)
