"""A job's program under the store's supervisor service: start it, find it again, watch it, stop it.

No Qt here: a daemon thread per running program (reused from one program to the next, see
:mod:`~jobdeck.runtime.watcher_threads`; a program started with them gets its thread only
once it has run :data:`FOLLOW_DELAY` or been asked to stop, and one that ends sooner is
finished — ``on_exit`` included — on the supervisor client's reader thread that hears of
its end: most programs of a queue of short jobs never need a thread of their own), psutil
and ``pidfd``. The app never
holds a pipe to the program or waits for it as a child: the store's supervisor service
(:mod:`jobdeck.runtime.supervisor_service`, reached through
:attr:`SupervisorRecords.client <jobdeck.runtime.supervisor_records.SupervisorRecords.client>`)
starts it and tells when it ended. The same :class:`ProgramWatcher` watches a program it
just started (:meth:`spawn`) and one that was running before the app started
(:meth:`reattach`, also from the record of an older per-job supervisor):

* output: the job's log file is tailed (:class:`~jobdeck.runtime.log_tail.LogTail`) and
  its new non-blank lines go to ``on_line`` (and so does a progress bar it is drawing,
  its line not ended yet: ``LogTail.pending_progress``): every line of a program that
  prints a few, the latest few of one that prints more than can be followed
  (``on_skipped(n)`` first says how many bytes were jumped over; such a program is then
  looked at only every :data:`CHATTY_INTERVAL` s, so its cost is bounded whatever it
  prints). Once the program
  has ended, what is left is read the same way and its last lines come from the end of the
  log (:func:`~jobdeck.runtime.log_tail.last_lines`), not from wherever the reader had got to;
* exit: the service says when the program ended (with its final record); while connected
  to the service that started it, the service's death breaks the connection, which says so;
  otherwise the service process is watched through a pidfd (pid *and* start time checked,
  so a reused pid is never taken for it). When the service dies before the end is
  recorded, the outcome is lost and the program is stopped (nothing would copy its output
  or record its end);
* resources: the tree's RSS and CPU are sampled about once a second, and the supervisor
  adds the exact totals of everything it waited for;
* stopping: :meth:`terminate` (SIGTERM, SIGKILL after a grace period, optionally after a
  delay that gives a channel ``cancel`` time to work) and :meth:`kill` act on the program's
  :class:`~jobdeck.runtime.process_tree.ProcessTree`, which includes the processes
  re-parented to the supervisor, their child subreaper (daemons that double-forked away). The
  supervisor stops whatever is left when the program ends; so does this class.

Waits use ``poll``, never ``select``, so they work whatever the number of open files.

Callbacks run on the watcher thread: ``on_started(pid)`` once the program has run
:data:`START_REPORT_DELAY` (fresh spawns only; one that ends sooner has its pid in its
:class:`ProgramEnd`), ``on_skipped(n)`` and ``on_line(line)`` as above, then ``on_exit(end)``
exactly once, unless :meth:`detach` was called first; ``on_waiting(text)`` while the service
is late to answer a start (the answer is awaited however long it takes: only the service
knows whether the program runs; a stop asked meanwhile ends the wait, and a program the
service starts after that is stopped at once). (Longer than most modules: one
watcher thread's life — start, follow, end, stop — kept together so that its locking reads
in one place.)
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from jobdeck.core.timeline import Timeline

from .log_tail import TAIL_LINES, LogTail, last_lines
from .private_files import private_directory
from .process_launch import PreparedCommand
from .process_tree import ProcessTree, ResourceUsage
from .supervisor import (
    DEFAULT_MAX_LOG_BYTES,
    RecordState,
    SupervisorRecord,
    process_start_time,
    record_from_fields,
)
from .supervisor_records import SupervisorRecords
from .watcher_threads import WatcherThreads

__all__ = ["EndKind", "ProgramEnd", "ProgramWatcher"]

_log = logging.getLogger(__name__)

#: Seconds the supervisor service may take to answer a start before ``on_waiting`` says
#: so (and again every as many seconds); the answer is still awaited (see _await_start).
START_TIMEOUT = 30.0
#: Seconds a program runs before ``on_started`` tells its pid (a program that ends sooner
#: has its pid in its :class:`ProgramEnd`: one write less for a short job).
START_REPORT_DELAY = 0.2
#: Seconds a program started with reused threads runs before one follows its output (most
#: programs of a queue of short jobs are over sooner and never need a thread meanwhile).
FOLLOW_DELAY = 0.05
POLL_INTERVAL = 0.05
#: Seconds between two looks at the output of a program that printed more than a look
#: returns (the latest lines are all a progress bar needs).
CHATTY_INTERVAL = 0.25
SAMPLE_INTERVAL = 1.0
#: Seconds between hand-overs of a running program's resource samples (see on_resources).
RESOURCES_SAVE_INTERVAL = 5.0
#: Seconds between looks at the record of a program whose service we are not connected to.
RECORD_LOOK_INTERVAL = 1.0


class EndKind(StrEnum):
    """How a supervised program's end is known."""

    #: It exited (``exit_code``) or was killed (``signal``), as its supervisor recorded.
    EXITED = "exited"
    #: It never started (``error`` says why).
    START_FAILED = "start_failed"
    #: Its end was not recorded (``error`` says why): the outcome cannot be known.
    LOST = "lost"


@dataclass(frozen=True)
class ProgramEnd:
    """How a supervised program ended, as far as anyone can know.

    ``kind`` says how that is known (:class:`EndKind`); ``error`` says why for a program
    that never started or whose end is lost. ``ended_before_watch`` is True when it had
    already ended when :meth:`ProgramWatcher.reattach` was called.
    ``tail`` holds the last output lines of this attempt, read from the end of the log.
    ``leftovers`` counts the processes it left running that had to be stopped. ``pid`` is
    the program's when it ended before ``on_started`` told it (else None). ``log_lost``
    counts the bytes of its output that could not be written to its log (a full disk),
    ``log_lost_error`` says why.
    """

    kind: EndKind
    exit_code: int | None = None
    signal: int | None = None
    error: str | None = None
    ended_at: float | None = None
    ended_before_watch: bool = False
    tail: tuple[str, ...] = ()
    peak_rss: int | None = None
    cpu_seconds: float | None = None
    leftovers: int = 0
    pid: int | None = None
    log_lost: int = 0
    log_lost_error: str | None = None
    #: (time, RSS bytes, CPU seconds) of the tree while it was watched, downsampled.
    resources: tuple[tuple[float, ...], ...] = ()


OnStarted = Callable[[int], None]
OnLine = Callable[[str], None]
OnSkipped = Callable[[int], None]
OnExit = Callable[[ProgramEnd], None]


class ProgramWatcher:
    """One job's program under its supervisor, watched from a daemon thread.

    Use :meth:`spawn` or :meth:`reattach`. Methods are safe to call from any thread.
    """

    def __init__(
        self,
        records: SupervisorRecords,
        job_id: str,
        log_path: Path,
        *,
        offset: int,
        grace: float,
        on_started: OnStarted | None,
        on_line: OnLine | None,
        on_exit: OnExit | None,
        output_start: int | None = None,
        on_skipped: OnSkipped | None = None,
        threads: WatcherThreads | None = None,
    ) -> None:
        """Internal: use :meth:`spawn` or :meth:`reattach`."""
        self.records = records
        self.job_id = job_id
        self.log_path = log_path
        self.grace = grace
        #: Where this attempt's output starts in the log (the record's, once known).
        self.output_start = offset if output_start is None else output_start
        self.usage = ResourceUsage()
        self.resources = Timeline()  # the samples over time (the watcher thread's)
        #: Called (on the watcher thread) with the samples so far about every
        #: RESOURCES_SAVE_INTERVAL s while the program runs, so a running job's chart has
        #: them; set it right after spawn() or reattach().
        self.on_resources: Callable[[tuple[tuple[float, ...], ...]], None] | None = None
        #: Called (on the watcher thread) with a sentence in plain words when the service
        #: has not answered the start for START_TIMEOUT s (and again every START_TIMEOUT s),
        #: then with None once it answered that the program started; set it right after
        #: spawn().
        self.on_waiting: Callable[[str | None], None] | None = None
        self._gave_up = False  # a stop ended the wait for a late answer (see _await_start)
        self._resources_saved = time.monotonic()
        self._tail = LogTail(log_path, offset)
        self._on_started = on_started
        self._on_line = on_line
        self._on_skipped = on_skipped
        self._on_exit = on_exit
        self._lock = threading.Lock()
        self._tree: ProcessTree | None = None
        #: The pid the service named, for a program that had ended when it was named (no
        #: tree is made for it, see _await_start).
        self._pid: int | None = None
        self._supervisor: tuple[int, float | None] | None = None
        self._starting = False  # spawn() asked the service; its answer is awaited
        self._reply: dict[str, Any] | None = None
        self._news = False  # the service said the program ended (or the link broke)
        self._end_record: SupervisorRecord | None = None  # as the service told it
        #: The client's connection (its count) on which the record was last looked at, or
        #: the spawn asked: on a later one, the record is looked at again (see _watch_until_end).
        self._link = records.client.connections
        self._shared = True  # the supervisor is the store's service (False: a legacy one)
        self._stop_request: tuple[str, float] | None = None  # ("term", grace) or ("kill", 0)
        self._delayed: threading.Timer | None = None
        self._detached = False
        self._reattached_at: float | None = None  # epoch seconds, for reattach()
        self._unreported_pid: int | None = None  # started; on_started not called yet
        self._report_start_at = 0.0  # monotonic time when on_started is due
        self._outcome: ProgramEnd | None = None
        self._done = threading.Event()
        #: The pipe that wakes a thread waiting for news (see :meth:`_wake_fd`): made only
        #: once one waits (-1 until then, -2 once closed). Most programs of a queue of
        #: short jobs end before any thread waits for them: five system calls less each.
        self._wake_read = self._wake_write = -1
        self._threads = threads
        self._thread: threading.Thread | None = None  # the one watching, while it does
        self._watching = False  # a thread watches, or was asked to
        self._finished = threading.Event()  # the watching is over (ended or detached)
        #: Handed over to start later (see :meth:`spawn`): its answer goes to _on_answer.
        self._queued = False
        self._on_answer: Callable[[dict[str, Any]], None] | None = None

    def _start_watching(self) -> None:
        """Watch on a thread of ``threads`` (reused), or on a new one (once)."""
        with self._lock:
            if self._watching:
                return
            self._watching = True
        if self._threads is not None:
            self._threads.submit(self._watch, self.job_id)
        else:
            name = f"jobdeck-process-{self.job_id}"
            threading.Thread(target=self._watch, name=name, daemon=True).start()

    # ------------------------------------------------------------------ start

    @classmethod
    def spawn(
        cls,
        records: SupervisorRecords,
        job_id: str,
        command: PreparedCommand,
        log_path: str | os.PathLike[str],
        *,
        grace: float = 5.0,
        extra: dict[str, str] | None = None,
        on_started: OnStarted | None = None,
        on_line: OnLine | None = None,
        on_exit: OnExit | None = None,
        max_log_bytes: int | None = DEFAULT_MAX_LOG_BYTES,
        on_skipped: OnSkipped | None = None,
        threads: WatcherThreads | None = None,
        on_answer: Callable[[dict[str, Any]], None] | None = None,
    ) -> ProgramWatcher:
        """Write the record and start the supervisor; returns at once (the program's pid
        comes through ``on_started``). ``extra`` is stored in the record (e.g. the channel
        token). The log file and its directory are private (0600/0700); past
        ``max_log_bytes`` the supervisor cuts the log's middle (None: no cap). Raises
        OSError when the log file or record cannot be written or the supervisor cannot be
        started.

        ``on_answer`` (with ``threads``): hand the program over to start the moment one of
        this app's programs ends (:meth:`SupervisorClient.queue
        <jobdeck.runtime.supervisor_client.SupervisorClient.queue>`). The service's answer
        goes to ``on_answer`` (client thread) only; nothing is watched until
        :meth:`follow` (the app has stored its start), except an end the service tells."""
        path = log_path if isinstance(log_path, Path) else Path(log_path)  # (parsed once)
        private_directory(path.parent)  # the service creates the log in it (0600)
        offset = LogTail.end_of(path)
        # The request names only what the service needs (its record's other fields keep
        # their defaults): fewer bytes to encode here and to decode there.
        record = {
            "job_id": job_id,
            "argv": list(command.argv),
            "log_path": os.fspath(path),
            "cwd": command.cwd,
            "env": dict(command.env),
            "extra": dict(extra or {}),
            "grace": float(grace),
            "max_log_bytes": max_log_bytes,
            "output_start": offset,
        }
        self = cls(
            records,
            job_id,
            path,
            offset=offset,
            grace=grace,
            on_started=on_started,
            on_line=on_line,
            on_exit=on_exit,
            on_skipped=on_skipped,
            threads=threads,
        )
        self._starting = True
        self._queued = on_answer is not None and threads is not None
        self._on_answer = on_answer
        self._report_start_at = time.monotonic() + START_REPORT_DELAY
        client = records.client
        client.watch(job_id, self._on_news)
        try:
            private_directory(records.directory)
            if self._queued:
                client.queue(record, self._on_reply)
            else:
                client.spawn(record, self._on_reply)
            self._link = client.connections
        except BaseException:
            client.unwatch(job_id)
            self._close_wake()
            raise
        if self._queued:
            pass  # (see follow)
        elif threads is None:
            self._start_watching()
        else:
            # Most programs of a job queue are over before a thread is worth it: the thread
            # starts with the end (_on_news), a stop, or once it has run FOLLOW_DELAY.
            threads.call_later(FOLLOW_DELAY, self._start_watching)
        return self

    @classmethod
    def reattach(
        cls,
        records: SupervisorRecords,
        record: SupervisorRecord,
        *,
        grace: float = 5.0,
        on_line: OnLine | None = None,
        on_exit: OnExit | None = None,
        on_skipped: OnSkipped | None = None,
        threads: WatcherThreads | None = None,
    ) -> ProgramWatcher:
        """Watch the program of a record written before this app started.

        Output is read from the log file's current end. Whatever happened meanwhile (the
        program ended, the pid was reused, the supervisor died) comes through ``on_exit``.
        """
        path = Path(record.log_path)
        self = cls(
            records,
            record.job_id,
            path,
            offset=LogTail.end_of(path),
            grace=grace,
            on_started=None,
            on_line=on_line,
            on_exit=on_exit,
            output_start=record.output_start,
            on_skipped=on_skipped,
            threads=threads,
        )
        if record.supervisor_pid is not None:
            self._supervisor = (record.supervisor_pid, record.supervisor_start_time)
        self._shared = record.shared
        if record.shared:
            records.client.watch(record.job_id, self._on_news)
            records.client.connect_if_running()
        if record.pid is not None:
            supervisor = None if record.shared else self._supervisor
            self._tree = ProcessTree(record.pid, record.start_time, supervisor=supervisor)
        self._reattached_at = time.time()
        self._start_watching()
        return self

    # ------------------------------------------------------------------ state

    @property
    def pid(self) -> int | None:
        """The program's pid once known."""
        tree = self._tree
        return self._pid if tree is None else tree.pid

    @property
    def tree(self) -> ProcessTree | None:
        return self._tree

    @property
    def printed(self) -> bool:
        """True once output of this attempt has been read from its log (the file may have
        been deleted since: it is gone, not "no output")."""
        return self._tail.offset > self.output_start

    @property
    def detached(self) -> bool:
        """True once :meth:`detach` was called: nobody watches the program any more."""
        return self._detached

    def wait(self, timeout: float | None = None) -> ProgramEnd | None:
        """The outcome once ``on_exit`` has run; None on timeout or after :meth:`detach`."""
        if threading.current_thread() is self._thread:
            return self._outcome
        self._done.wait(timeout)
        return self._outcome

    # ------------------------------------------------------------------ stop

    def terminate(self, grace: float | None = None, delay: float = 0.0) -> None:
        """SIGTERM the tree after ``delay`` s (0: now), SIGKILL it ``grace`` s after that.

        Non-blocking; a request made before the program's pid is known is applied as soon
        as it is.
        """
        grace = self.grace if grace is None else grace
        self._start_watching()  # it applies a stop asked before the pid is known
        if delay > 0:
            timer = threading.Timer(delay, self.terminate, args=(grace, 0.0))
            timer.name = f"jobdeck-process-{self.job_id}-term"
            timer.daemon = True
            with self._lock:
                if self._delayed is not None or self._done.is_set():
                    return
                self._delayed = timer
            timer.start()
            return
        with self._lock:
            tree = self._tree
            if tree is None:
                self._stop_request = ("term", grace)
        if tree is not None:
            tree.terminate(grace)
        else:
            self._wake()  # (a start the service is late to answer: see _await_start)

    def kill(self) -> None:
        """SIGKILL the tree now."""
        self._start_watching()
        with self._lock:
            tree = self._tree
            if tree is None:
                self._stop_request = ("kill", 0.0)
        if tree is not None:
            tree.kill()
        else:
            self._wake()

    def detach(self, timeout: float = 5.0) -> None:
        """Stop watching and leave the program running (``on_exit`` will not be called)."""
        self._start_watching()  # it tells the pid before it stops
        with self._lock:
            self._detached = True
        self._cancel_timers()
        self._wake()
        if self._thread is not threading.current_thread():
            self._finished.wait(timeout)

    def abandon(self) -> None:
        """A queued program (see :meth:`spawn`) that will not start here (it was taken
        back, or never started): forget it without watching (``on_exit`` is not called)."""
        with self._lock:
            self._detached = True
            watching, self._watching = self._watching, True
        if not watching:
            self.records.client.unwatch(self.job_id)
            self._close_wake()
            self._tail.close()
            self._finished.set()
            self._done.set()

    def _cancel_timers(self) -> None:
        with self._lock:
            delayed, self._delayed = self._delayed, None
            tree = self._tree
        if delayed is not None:
            delayed.cancel()
        if tree is not None:
            tree.cancel_escalation()

    # ------------------------------------------------------------------ the watcher thread

    def _watch(self) -> None:
        self._thread = threading.current_thread()
        try:
            self._watch_and_report()
        finally:
            self._thread = None
            self._finished.set()

    def _watch_and_report(self) -> None:
        outcome: ProgramEnd | None = None
        try:
            outcome = self._watch_until_end()
        except Exception as exc:
            _log.exception("watching job %s failed", self.job_id)
            outcome = self._lost(f"watching the program failed: {exc}")
        finally:
            self.records.client.unwatch(self.job_id)
            self._close_wake()
            self._tail.close()
        if outcome is None:  # detached: the program runs on, and its pid is worth writing
            self._report_start()
            self._done.set()
            return
        self._outcome = outcome
        if self._on_exit is not None:
            try:
                self._on_exit(outcome)
            except Exception:
                _log.exception("on_exit callback failed for job %s", self.job_id)
        self._done.set()

    def _watch_until_end(self) -> ProgramEnd | None:
        if self._starting:
            started = self._await_start()
            if started is not None:
                return started
        while not self._detached:
            record: SupervisorRecord | str | None
            # Connected to the service that started it: it tells us the end (its file may
            # never be written), and its death breaks the connection, which wakes us. On a
            # connection made since we last looked, an end that came before it (while none
            # was up) is only in the file: look once.
            link = self.records.client.connections
            told = (
                self._starting
                and self._end_record is None
                and link == self._link
                and self._connected_to_ours()
            )
            record = None if told else self._read_record()
            self._link = link
            if isinstance(record, SupervisorRecord) and record.finished:
                return self._ended(record)
            supervisor = self._supervisor
            if supervisor is None or (
                not told and process_start_time(supervisor[0]) != supervisor[1]
            ):
                if isinstance(record, str) and not self._starting:
                    return self._lost(record)
                return self._supervisor_gone(None if isinstance(record, str) else record)
            if isinstance(record, str) and not self._starting:
                return self._lost(record)  # re-attached: its record must be there
            if not self._follow(*supervisor, watch_process=not told):
                return None
            # Woken: it ended, the link broke, or the supervisor died: look again.
        return None

    def _connected_to_ours(self) -> bool:
        """True while the client is connected to the very service that started the program
        (not to one started since)."""
        client = self.records.client
        if not client.connected or self._supervisor is None:
            return False
        return (client.service_pid, client.service_start_time) == self._supervisor

    def _supervisor_gone(self, record: SupervisorRecord | None) -> ProgramEnd | None:
        """The supervisor is gone and no end was recorded: the outcome is lost."""
        tree = self._tree
        pid = self._supervisor[0] if self._supervisor is not None else None
        if tree is not None and tree.alive():
            if self._shared:
                # Nothing copies its output or will record its end: stop it rather than
                # leave a job that can never finish.
                tree.kill()
                return self._lost(
                    f"the supervisor (pid {pid}) stopped while the program ran; the program "
                    "was stopped and its exit status is unknown"
                )
            # An older per-job supervisor died but the program runs on: watch the program.
            if not self._follow(tree.pid, tree.start_time):
                return None
            return self._lost("the supervisor died, so the program's exit status is unknown")
        record_now = self._read_record()  # it may have finished in between
        if not isinstance(record_now, str) and record_now.finished:
            return self._ended(record_now)
        if tree is None and (record is None or record.pid is None):
            return self._lost(f"the supervisor (pid {pid}) stopped before the program started")
        return self._lost("the supervisor and the program are gone and no exit status was recorded")

    def follow(self) -> None:
        """A queued program's start is stored: watch it as one asked for with ``spawn``
        (a thread follows it once it has run FOLLOW_DELAY; at once if it did not start)."""
        self._report_start_at = time.monotonic() + START_REPORT_DELAY
        reply = self._reply
        if self._threads is not None and reply is not None and reply.get("op") == "started":
            self._threads.call_later(FOLLOW_DELAY, self._start_watching)
        else:
            self._start_watching()

    def _on_reply(self, message: dict[str, Any]) -> None:
        """Client thread: the service's answer to our spawn (or queue) request."""
        with self._lock:
            self._reply = message
            gave_up = self._gave_up
        if gave_up:
            self._stop_late_start(message)
            return
        self._wake()
        if self._queued:
            if self._on_answer is not None:
                try:
                    self._on_answer(message)
                except Exception:
                    _log.exception("on_answer callback failed for job %s", self.job_id)
            return
        if message.get("op") != "started":
            self._start_watching()

    def _on_news(self, record: dict[str, Any] | None) -> None:
        """Client thread: the program ended (``record``: its final record), or the
        connection to the service broke (None)."""
        if record is not None:
            with contextlib.suppress(ValueError):
                self._end_record = record_from_fields(record)
        self._news = True
        self._wake()
        if self._finish_here():
            self._watch()  # its end is known and nothing waits: no thread to wake for it
        else:
            self._start_watching()

    def _finish_here(self) -> bool:
        """True (and the watching is this thread's) when a program started with reused
        threads ended before any thread followed it and its start is known: what is left
        (its last output, ``on_exit``) takes no waiting, so the client's reader thread does
        it at once rather than wake a thread for it (one wake-up less per short job)."""
        reply = self._reply
        if self._threads is None or self._end_record is None or reply is None:
            return False
        if reply.get("op") != "started":
            return False
        with self._lock:
            if self._watching or self._detached:
                return False
            self._watching = True
        return True

    def _wake_fd(self) -> int:
        """The read end of the wake pipe, made now if it was not yet; a waiter calls it
        before it looks at what it waits for (a flag set before its pipe existed is seen
        then; one set after is written to it). -1 once closed."""
        with self._lock:
            if self._wake_read == -1:
                self._wake_read, self._wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            return self._wake_read

    def _wake(self) -> None:
        """Wake the thread waiting for news, if one waits (the flag it looks at is set
        first)."""
        with self._lock:
            if self._wake_write >= 0:
                with contextlib.suppress(OSError):
                    os.write(self._wake_write, b"x")

    def _drain_wake(self) -> None:
        if self._wake_read < 0:
            return
        with contextlib.suppress(OSError):
            while os.read(self._wake_read, 512):
                pass

    def _await_start(self) -> ProgramEnd | None:
        """Wait for the service to name our program; an outcome if it never does.

        However long the service takes: only its answer (or, should it die, what
        :func:`~jobdeck.runtime.lost_start.judge_lost_starts` finds) tells whether the
        program runs. Taking a slow service for lost left the program to start later,
        unwatched, while the job was failed (and maybe retried: run twice). Past
        :data:`START_TIMEOUT` ``on_waiting`` says in plain words what is awaited; a stop
        asked for then ends the wait (see :meth:`_give_up_start`)."""
        late = False
        if self._reply is None:  # (a short program's end brings its answer along)
            asked = time.monotonic()
            next_word = asked + START_TIMEOUT
            poller = select.poll()
            wake = self._wake_fd()
            if wake >= 0:
                poller.register(wake, select.POLLIN)
            while self._reply is None and not self._detached:
                now = time.monotonic()
                if now >= next_word:
                    late = True
                    next_word = now + START_TIMEOUT
                    self._tell_waiting(self._late_start(now - asked))
                if late and self._stop_request is not None:
                    given_up = self._give_up_start(now - asked)
                    if given_up is not None:
                        return given_up
                    break  # (its answer came meanwhile)
                poller.poll(max(1, int((next_word - now) * 1000)))
                self._drain_wake()
        reply = self._reply
        if late and reply is not None and reply.get("op") == "started":
            self._tell_waiting(None)  # (one that did not start: its end says why)
        if self._detached and (reply is None or reply.get("op") != "started"):
            return None  # (a program that started: its pid is told before watching stops)
        assert reply is not None
        op = reply.get("op")
        if op == "start_failed":
            error = str(reply.get("error") or "the program did not start")
            return ProgramEnd(EndKind.START_FAILED, error=error, ended_at=time.time())
        pid = reply.get("pid")
        if op != "started" or not isinstance(pid, int):
            why = reply.get("error") or "the supervisor stopped before the program started"
            return self._lost(str(why))
        client = self.records.client
        self._supervisor = (client.service_pid or -1, client.service_start_time)
        told = reply.get("supervisor")  # (found after the connection broke: its service)
        if isinstance(told, list) and len(told) == 2:
            self._supervisor = (told[0] if isinstance(told[0], int) else -1, told[1])
        end = self._end_record
        if end is None or not end.finished or not self._shared:
            self._watch_program(pid, reply.get("start_time"))
        self._pid = pid  # (after its tree: whoever sees the pid sees the tree)
        # else: it ended before anyone looked at it, and the service that told its end had
        # stopped what it left running by then (its session and orphans, counted in
        # ``end.leftovers``): a process tree of it would find nothing (its /proc entries,
        # read for nothing, cost a tenth of a millisecond per short job).
        self._unreported_pid = pid
        return None

    def _late_start(self, waited: float) -> str:
        pid = self.records.client.service_pid
        service = "Jobdeck's supervisor service" + (f" (pid {pid})" if pid else "")
        return (
            f"not started yet: {service} has not answered for {_duration(waited)}; still "
            "waiting for it to start the program (cancel the job to give up)"
        )

    def _tell_waiting(self, text: str | None) -> None:
        if text is not None:
            _log.warning("job %s: %s", self.job_id, text)
        if self.on_waiting is not None:
            try:
                self.on_waiting(text)
            except Exception:
                _log.exception("on_waiting callback failed for job %s", self.job_id)

    def _give_up_start(self, waited: float) -> ProgramEnd | None:
        """A stop was asked while the service was late to answer the start: end the wait
        (None if its answer came meanwhile: it is watched and stopped as usual). A program
        of the job the service started without telling is stopped now; one it starts later
        is stopped the moment its answer comes (:meth:`_on_reply`): it never runs on
        unwatched, and a later attempt never runs beside it."""
        with self._lock:
            if self._reply is not None:
                return None
            self._gave_up = True
        from .lost_start import processes_of_job

        for program, start_time in processes_of_job(self.job_id):
            ProcessTree(program, start_time).kill()
        pid = self.records.client.service_pid
        service = "Jobdeck's supervisor service" + (f" (pid {pid})" if pid else "")
        return self._lost(
            f"stopped before it started: {service} had not answered for {_duration(waited)}; "
            "should it start the program later, it is stopped at once"
        )

    def _stop_late_start(self, reply: dict[str, Any]) -> None:
        """Client thread: the answer to a start given up (see :meth:`_give_up_start`)."""
        pid = reply.get("pid")
        if reply.get("op") != "started" or not isinstance(pid, int):
            return
        _log.warning(
            "job %s: the supervisor service started its program (pid %s) after the job "
            "had given up waiting for it: stopping it",
            self.job_id,
            pid,
        )
        start_time = reply.get("start_time")
        ProcessTree(pid, start_time if isinstance(start_time, float) else None).kill()

    def _report_start(self) -> None:
        """``on_started(pid)``, once, if the program's start is still untold."""
        pid, self._unreported_pid = self._unreported_pid, None
        if pid is not None and self._on_started is not None:
            try:
                self._on_started(pid)
            except Exception:
                _log.exception("on_started callback failed for job %s", self.job_id)

    def _watch_program(self, pid: int, start_time: float | None) -> None:
        tree = ProcessTree(pid, start_time)
        with self._lock:
            self._tree = tree
            request, self._stop_request = self._stop_request, None
        if request is not None:
            kind, grace = request
            if kind == "kill":
                tree.kill()
            else:
                tree.terminate(grace)

    def _follow(self, pid: int, start_time: float | None, *, watch_process: bool = True) -> bool:
        """Read output and sample resources until process ``pid`` ends or the service has
        news of our program; False if detached. ``watch_process=False``: only news (or a
        broken connection) ends it."""
        pidfd = _open_pidfd(pid, start_time) if watch_process else None
        alive = not watch_process or pidfd is not None or process_start_time(pid) == start_time
        next_sample = time.monotonic() + SAMPLE_INTERVAL  # the service measures short ones
        next_look = time.monotonic() + RECORD_LOOK_INTERVAL
        next_read = 0.0
        wait = POLL_INTERVAL
        poller = select.poll()
        wake = self._wake_fd()
        if wake >= 0:
            poller.register(wake, select.POLLIN)
        if pidfd is not None:
            poller.register(pidfd, select.POLLIN)
        if self._news or self._detached:
            wait = 0.0  # (told before the pipe was made: nothing will be written to it)
        try:
            while alive:
                ready = {fd for fd, _ in poller.poll(wait * 1000)}
                if self._detached:
                    return False
                now = time.monotonic()
                if self._unreported_pid is not None and now >= self._report_start_at:
                    self._report_start()
                if now >= next_read:
                    lines = self._tail.read()
                    # (and the bar it is drawing, its line not ended yet, as progress)
                    partial = self._tail.pending_progress()
                    self._emit(lines if partial is None else [*lines, partial])
                    next_read = now + (CHATTY_INTERVAL if self._tail.skipped else 0.0)
                if now >= next_sample:
                    next_sample = now + SAMPLE_INTERVAL
                    self._sample()
                if wake in ready:
                    self._drain_wake()
                if self._news:
                    self._news = False
                    return True
                if self._shared and now >= next_look and not self.records.client.connected:
                    return True  # nobody will tell us: look at the record now and then
                if self._shared and self.records.client.connections != self._link:
                    return True  # connected again: look at the record once
                # A chatty program's watcher sleeps until its next look (its end, or news
                # from the service, still wakes it at once): fewer wake-ups competing with
                # the GUI thread.
                due = min(next_read, next_sample, next_look if self._shared else next_sample)
                if self._unreported_pid is not None:
                    due = min(due, self._report_start_at)
                wait = max(POLL_INTERVAL, due - time.monotonic())
                if pidfd is not None:
                    alive = pidfd not in ready
                elif watch_process:
                    alive = process_start_time(pid) == start_time
        finally:
            if pidfd is not None:
                os.close(pidfd)
        return not self._detached

    def _sample(self) -> None:
        tree = self._tree
        if tree is not None:
            rss, cpu = tree.sample()
            self.usage.add(rss, cpu)
            if rss is not None:
                self.resources.add(time.time(), rss, cpu or 0.0)
            now = time.monotonic()
            if self.on_resources is not None and now - self._resources_saved >= (
                RESOURCES_SAVE_INTERVAL
            ):
                self._resources_saved = now
                try:
                    self.on_resources(tuple(self.resources.points))
                except Exception:
                    _log.exception("the resource samples of job %s were not kept", self.job_id)

    def _read_record(self) -> SupervisorRecord | str:
        """The record (the final one the service sent, else the file), or why it cannot be
        had."""
        if self._end_record is not None:
            return self._end_record
        try:
            record = self.records.load(self.job_id)
        except ValueError as exc:
            return str(exc)
        if record is None:
            return f"its supervisor record {self.records.path(self.job_id)} is missing"
        return record

    def _ended(self, record: SupervisorRecord) -> ProgramEnd:
        if record.state is RecordState.START_FAILED:
            return ProgramEnd(EndKind.START_FAILED, error=record.error, ended_at=record.ended_at)
        assert record.state is RecordState.EXITED
        self.usage.add(record.max_rss, record.cpu_seconds)
        self.output_start = record.output_start
        found = self._stop_leftovers()
        return ProgramEnd(
            EndKind.EXITED,
            exit_code=record.exit_code,
            signal=record.signal,
            ended_at=record.ended_at,
            ended_before_watch=(
                self._reattached_at is not None
                and record.ended_at is not None
                and record.ended_at <= self._reattached_at
            ),
            tail=self._finish_output(),
            peak_rss=self.usage.peak_rss,
            cpu_seconds=self.usage.cpu_seconds,
            resources=tuple(self.resources.points),
            leftovers=max(found, record.leftovers),
            pid=self._take_unreported_pid(),
            log_lost=record.log_lost,
            log_lost_error=record.log_lost_error,
        )

    def _lost(self, why: str) -> ProgramEnd:
        return ProgramEnd(
            EndKind.LOST,
            error=why,
            tail=self._finish_output(),
            peak_rss=self.usage.peak_rss,
            cpu_seconds=self.usage.cpu_seconds,
            resources=tuple(self.resources.points),
            leftovers=self._stop_leftovers(),
            pid=self._take_unreported_pid(),
        )

    def _take_unreported_pid(self) -> int | None:
        pid, self._unreported_pid = self._unreported_pid, None
        return pid

    def _finish_output(self) -> tuple[str, ...]:
        """Read what is left to read (the latest lines only, when it is a lot), then the
        real last lines of this attempt, from the end of the log."""
        tail = self._tail
        if tail.offset == self.output_start == LogTail.end_of(self.log_path):
            tail.close()  # this attempt wrote nothing (and nothing was read): no lines
            return ()
        self._emit(tail.finish())
        return tuple(last_lines(self.log_path, TAIL_LINES, start=self.output_start))

    def _stop_leftovers(self) -> int:
        """Stop descendants that outlived the program; how many there were."""
        with self._lock:
            delayed, self._delayed = self._delayed, None
        if delayed is not None:
            delayed.cancel()
        tree = self._tree
        if tree is None:
            return 0
        leftovers = tree.leftovers()
        if leftovers:
            tree.terminate(self.grace)
        else:
            tree.cancel_escalation()
        return len(leftovers)

    def _emit(self, lines: list[str]) -> None:
        skipped = self._tail.skipped
        if skipped and self._on_skipped is not None:
            try:
                self._on_skipped(skipped)
            except Exception:
                _log.exception("on_skipped callback failed for job %s", self.job_id)
        if self._on_line is None:
            return
        for line in lines:
            try:
                self._on_line(line)
            except Exception:
                _log.exception("on_line callback failed for job %s; reading continues", self.job_id)

    def _close_wake(self) -> None:
        with self._lock:
            fds, self._wake_read, self._wake_write = (self._wake_read, self._wake_write), -2, -2
        for fd in fds:
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def __repr__(self) -> str:
        return f"<ProgramWatcher job={self.job_id} pid={self.pid}>"


def _open_pidfd(pid: int, start_time: float | None) -> int | None:
    """A pidfd for ``pid`` if it is the process that started at ``start_time``; else None
    (also where pidfds are not supported: the caller then polls)."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None
    if process_start_time(pid) != start_time:
        os.close(fd)
        return None
    return fd


def _duration(seconds: float) -> str:
    """``45 s``, ``3 min``: how long, for a sentence."""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
