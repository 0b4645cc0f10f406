"""Process jobs as programs under a supervisor: :class:`ProcessExecutor`.

A process job type's function builds a :class:`~jobdeck.core.process_spec.ProcessSpec`; the
executor checks it on this machine, starts the program under a supervisor (its output into
a per-job log file that is read for progress, the progress channel in its environment) and
judges how it ended — from its exit status, what it said on the channel, a kill for missing
heartbeats or a timeout — into one :class:`~jobdeck.runtime.executors.base.Outcome`. A
program can outlive the app: :meth:`ProcessExecutor.detach_all` leaves it running, and the
next app re-attaches it (:meth:`ProcessExecutor.reattach`). The programs' channel, records
and liveness are :mod:`jobdeck.runtime.process_jobs`'s.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import math
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QMetaObject, QObject, Qt, QThread, QTimer

from jobdeck.core.clock import Clock
from jobdeck.core.job import Job, JobError, JobStatus
from jobdeck.core.process_spec import ProcessFacts
from jobdeck.core.registry import JobKind, JobType
from jobdeck.core.tracker import JobTracker

from ..ends_together import EndsTogether
from ..store_folder import StoreFolder
from ..supervisor import DEFAULT_MAX_LOG_BYTES, JOURNAL_PREFIX, MIN_MAX_LOG_BYTES
from .base import Executor, ExecutorHost, Outcome, Run

if TYPE_CHECKING:  # the process machinery is imported when the first process job needs it
    from ..process_jobs import ProcessJobs, Program
    from ..program_watcher import EndKind, ProgramEnd
    from ..protocol import CompletedMsg, FailedMsg
    from ..supervisor_records import SupervisorRecords

__all__ = ["FAILURE_TAIL_LINES", "ProcessExecutor", "failure_message", "max_log_bytes"]

log = logging.getLogger(__name__)

#: How many of the last output lines a failure message quotes.
FAILURE_TAIL_LINES = 10
#: How many queued jobs are handed over to the supervisor service at most, each to start
#: the moment one of the running programs ends: :data:`HAND_OVER_PER_PROGRAM` per running
#: program, this many in all. With one per program the service's queue ran dry whenever a
#: few short programs ended together (about 1 end in 6 then waited for the app: 104
#: nudges, 49 of them too late, per 300 `true` jobs); with four, 6 in 300 on a quiet
#: machine, but 23-36 on a busy one (load 6 on 2 cores: the app, given less of a core, is
#: slower to hand over more than the service is to start them); with eight (32 in all),
#: 0-21 there. Each nudge is a round trip, and the start it asks for is recorded in a
#: commit of its own, apart from the end it replaced.
HAND_OVER_AHEAD = 32
HAND_OVER_PER_PROGRAM = 8


@dataclasses.dataclass(eq=False)
class _Handed:
    """A queued job handed over to the supervisor service, to start the moment one of our
    programs ends (see :meth:`ProcessExecutor._hand_over`). Still pending in the store
    until :meth:`ProcessExecutor._record_ends` adopts it (records its start)."""

    job: Job
    log_path: Path
    #: Its program (ctx None until adopted); set when the service first answers.
    program: Program | None = None
    #: The service started it (it holds a slot), waiting to be adopted.
    started: bool = False
    #: A thread is recording its start (see ProcessExecutor._record_ends).
    adopting: bool = False
    #: Its run once adopted.
    run: Run | None = None
    #: Adopting it found the job no longer pending: its program was stopped.
    dropped: bool = False
    withdrawing: bool = False
    #: The job whose program's place it took (the service started it as that one ended):
    #: its start is recorded with that end or after it, never before (see _may_adopt).
    follows: str | None = None
    #: Its end, when heard before its start was stored (the store refused that commit).
    end: tuple[Program, ProgramEnd] | None = None


class ProcessExecutor(Executor):
    """Runs process job types (``JobKind.PROCESS``) as supervised programs (see the module).

    ``grace``: seconds between SIGTERM and SIGKILL when a program is stopped. ``log_dir``
    holds the logs (default: ``<database>.d/logs/``, see
    :mod:`~jobdeck.runtime.store_folder`, or a temporary directory for ``:memory:``; private,
    0700, each log 0600). ``max_log_bytes`` caps each log (see :func:`max_log_bytes`).
    ``records_dir`` holds the supervisor records (default: ``<database>.d/supervised/``),
    ``channel_dir`` the progress channel's socket (default: one directory per database in
    the user's runtime directory; when no safe one exists, jobs run without the channel and
    their logs say so). A job that used the channel and then says nothing for
    ``heartbeat_timeout`` s is stale (see :meth:`stale_jobs`), for twice that it is killed
    and failed. Cancelling a job connected to the channel sends it ``cancel`` first and
    SIGTERM ``cancel_delay`` s later.
    """

    def __init__(
        self,
        *,
        grace: float = 5.0,
        log_dir: str | Path | None = None,
        records_dir: str | Path | None = None,
        channel_dir: str | Path | None = None,
        heartbeat_timeout: float = 30.0,
        cancel_delay: float = 1.0,
        max_log_bytes: int | None = DEFAULT_MAX_LOG_BYTES,
        parent: QObject | None = None,
    ) -> None:
        if isinstance(grace, bool) or not isinstance(grace, int | float) or not grace >= 0:
            raise ValueError(f"grace must be a number of seconds >= 0, got {grace!r}")
        for name, value in (
            ("heartbeat_timeout", heartbeat_timeout),
            ("cancel_delay", cancel_delay),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
        if not heartbeat_timeout > 0:
            raise ValueError(f"heartbeat_timeout must be positive, got {heartbeat_timeout!r}")
        self.grace = float(grace)
        self._log_dir_arg = Path(log_dir) if log_dir is not None else None
        self._log_dir: Path | None = None
        self._temp_logs: tempfile.TemporaryDirectory[str] | None = None
        self._records_dir_arg = Path(records_dir) if records_dir is not None else None
        self._channel_dir_arg = Path(channel_dir) if channel_dir is not None else None
        self._heartbeat_timeout = float(heartbeat_timeout)
        self._cancel_delay = float(cancel_delay)
        self._max_log_bytes = max_log_bytes
        self._programs: ProcessJobs | None = None
        #: Its records and the service's client (see :meth:`_supervisor_records`).
        self._records: SupervisorRecords | None = None
        #: Held while the programs' keeper is opened (the GUI thread, a watcher thread and
        #: the warm-up thread may all want it first) and while it is closed.
        self._open_lock = threading.RLock()
        self._warming = False
        self._warming_lock = threading.Lock()  # (the flag's: one warm-up, whoever expects)
        self._closed = True  # until opened
        # One timer checks every program's heartbeats while any runs (GUI thread).
        self._liveness = QTimer(parent)
        self._liveness.setInterval(max(20, min(1000, int(self._heartbeat_timeout * 1000 / 4))))
        self._liveness.timeout.connect(self.check_liveness)
        #: The ends the supervisor client's reader thread hears in one read: recorded (and
        #: the jobs that follow started) in one commit (see :meth:`_record_ends`).
        self._together: EndsTogether[tuple[Run, Program, Outcome] | _Handed] = EndsTogether(
            self._record_ends
        )
        #: The jobs handed over to the service (see :class:`_Handed`), by id.
        self._handed: dict[str, _Handed] = {}
        self._handed_lock = threading.Lock()
        #: One hand-over at a time (others skip theirs); an end is recorded outside one
        #: (see _record_ends). Re-entrant: a start from a recorded end hands over too.
        self._refilling = threading.RLock()
        #: Jobs whose program ended and a job handed over took its place (their ends free
        #: no slot: see _record_ends).
        self._replaced: set[str] = set()
        #: start_queued requests not answered yet (see _nudge).
        self._nudging = 0

    def accepts(self, job_type: JobType) -> bool:
        return job_type.kind is JobKind.PROCESS

    # -- where things go ----------------------------------------------------------------------

    @property
    def log_dir(self) -> Path:
        """Where process jobs write their output (created when the first one starts)."""
        if self._log_dir is None:
            store = self.tracker.store
            if self._log_dir_arg is not None:
                self._log_dir = self._log_dir_arg
            elif store.memory:
                self._temp_logs = tempfile.TemporaryDirectory(prefix="jobdeck-logs-")
                self._log_dir = Path(self._temp_logs.name)
            else:
                self._log_dir = StoreFolder(store.path).logs
        return self._log_dir

    @property
    def channel_path(self) -> Path | None:
        """The progress channel's socket while it is served (from the first time it is
        asked for or a process job runs until :meth:`close`), else None."""
        if self._programs is None and self._closed:
            return None
        return self._open_programs().channel_path

    def stale_jobs(self) -> dict[str, float]:
        """Process jobs silent on the channel for ``heartbeat_timeout`` or more: the
        seconds since each one's last message."""
        if self._programs is None:
            return {}
        return self._programs.stale_jobs(self.clock())

    def open(self, tracker: JobTracker, clock: Clock, host: ExecutorHost | None = None) -> None:
        """Ready to run process jobs. The process machinery (supervisors, the channel) is
        imported and opened when the first job needs it (:meth:`_open_programs`): an app
        whose first window needs none of it starts sooner."""
        super().open(tracker, clock, host)
        self._closed = False
        self._drop_stale_records()

    def _drop_stale_records(self) -> None:
        """Before any job starts: delete the records of ended programs whose ends are
        stored (see :func:`~jobdeck.runtime.supervisor_records.drop_stale_records`); the
        process machinery is imported only when there are records to look at."""
        store = self.tracker.store
        if self._records_dir_arg is not None:
            directory = self._records_dir_arg
        elif store.memory:
            return
        else:
            directory = StoreFolder(store.path).records
        try:
            if not any(name.endswith(".json") for name in os.listdir(directory)):
                return
        except OSError:
            return
        from ..supervisor_records import drop_stale_records

        tracker = self.tracker
        active = tracker.active_jobs()
        running = {j.id for j in active if j.status is JobStatus.RUNNING}
        next_attempts = {j.id: j.attempts + 1 for j in active if j.status is JobStatus.PENDING}
        stale = drop_stale_records(directory, running, next_attempts)
        if stale:
            log.info("dropped the records of %d ended programs whose ends are stored", len(stale))

    def expect(self, job_type: JobType) -> None:
        """A process job was queued (any thread): the first one opens the process machinery
        and connects to (or starts) the supervisor service on a thread of its own, so the
        job starts without waiting for that (about 0.1-0.2 s) once its turn comes."""
        if self._programs is not None or self._closed:
            return
        with self._warming_lock:
            if self._warming:
                return
            self._warming = True
        threading.Thread(target=self._warm_up, name="jobdeck-process-warm-up", daemon=True).start()

    def _warm_up(self) -> None:
        """Warm-up thread (see :meth:`expect`): the supervisor service is started (or
        connected to) on a thread of its own while this one imports and opens the process
        machinery: the first job waits for the longer of the two, not for both (each takes
        about 0.1 s). A failure is left for the job's start to report."""
        try:
            with self._open_lock:
                if self._closed:
                    return
                records = self._supervisor_records()
            connecting = threading.Thread(
                target=_connect_early, args=(records,), name="jobdeck-process-connect", daemon=True
            )
            connecting.start()
            with self._open_lock:
                if not self._closed:
                    self._open_programs()
            connecting.join()
        except Exception as exc:
            log.debug("process jobs: could not get ready in advance: %s", exc)

    def _supervisor_records(self) -> SupervisorRecords:
        """The supervisor records and the client of the service (made once, light: the
        service can be started before the rest of the process machinery is imported). The
        caller holds ``_open_lock``."""
        if self._records is not None:
            return self._records
        from ..supervisor_records import SupervisorRecords

        store = self.tracker.store
        if self._records_dir_arg is not None:
            records = SupervisorRecords(self._records_dir_arg)
        elif store.memory:
            records = SupervisorRecords(self.log_dir / ".supervised")
        else:
            folder = StoreFolder(store.path)
            records = SupervisorRecords(folder.records, legacy=folder.legacy_records)
        records.client.read_together = self._together.block
        records.client.on_replaced = self._on_replaced
        records.client.on_queue_empty = self._queue_was_empty
        self._records = records
        return records

    def _open_programs(self) -> ProcessJobs:
        """The programs' keeper, opened (and the channel served) on first use."""
        if self._programs is not None:
            return self._programs
        with self._open_lock:
            if self._programs is None:
                self._programs = self._new_programs()
            return self._programs

    def _new_programs(self) -> ProcessJobs:
        from ..channel import ChannelError
        from ..process_jobs import ProcessJobs, default_channel_dir_for

        tracker, clock = self.tracker, self.clock
        store = tracker.store
        records = self._supervisor_records()
        channel_dir: Path | None = self._channel_dir_arg
        problem = None
        if channel_dir is None:
            try:
                channel_dir = default_channel_dir_for(None if store.memory else store.path)
            except ChannelError as exc:
                problem = str(exc)
        programs = ProcessJobs(
            tracker,
            clock=clock,
            channel_dir=channel_dir,
            channel_problem=problem,
            records=records,
            grace=self.grace,
            cancel_delay=self._cancel_delay,
            heartbeat_timeout=self._heartbeat_timeout,
            max_log_bytes=self._max_log_bytes,
        )
        programs.open()
        return programs

    # -- running ------------------------------------------------------------------------------

    def prepare(self, job: Job, job_type: JobType) -> Any:
        return job_type.process_spec(job)

    def start(self, run: Run, prepared: Any) -> None:
        from ..process_launch import ProcessStartError

        programs = self._open_programs()
        # A retry appends to the log of the earlier attempts, wherever that is (an older
        # version's folder included), so the job keeps one whole log.
        earlier = run.job.log_path
        if earlier is not None and Path(earlier).is_file():
            log_path = Path(earlier)
        else:
            log_path = self.log_dir / f"{run.job_id}.log"
        try:
            run.handle = programs.spawn(
                run.job_id,
                run.ctx,
                prepared,
                log_path,
                on_started=lambda pid: self._started(run, pid, log_path),
                on_exit=lambda program, end: self._ended(run, program, end),
            )
        except ProcessStartError as exc:
            run.report(Outcome.failed(str(exc)))
            return
        except OSError as exc:  # the log, its folder or the record (unsafe, full disk, ...)
            log.warning("job %s could not start: %s", run.job_id, exc)
            run.report(Outcome.failed(f"could not start: {exc}"))
            return
        except Exception as exc:
            run.report(Outcome.failed(exc))
            return
        self._watch_liveness()
        self._hand_over()

    def _watch_liveness(self) -> None:
        """Run the heartbeat timer (from any thread: a watcher starting the next job asks
        the GUI thread)."""
        if self._liveness.isActive():
            return  # (read from a watcher thread too: at worst one start too many, harmless)
        if self._liveness.thread() is QThread.currentThread():
            self._liveness.start()
        else:
            QMetaObject.invokeMethod(self._liveness, "start", Qt.ConnectionType.QueuedConnection)

    def reattach(self, run: Run) -> bool:
        """Watch again the program of a job an earlier app left running (or record how it
        ended meanwhile, or that its end is lost)."""
        if run.job_type is not None and not self.accepts(run.job_type):
            return False
        from ..process_jobs import NEVER_STARTED

        programs = self._open_programs()
        program = programs.reattach(
            run.job,
            run.ctx,
            on_exit=lambda program, end: self._ended(run, program, end),
            log_path=self.log_dir / f"{run.job_id}.log",
        )
        if program == NEVER_STARTED:
            log.info("job %s: %s", run.job_id, program)
            job = run.job
            last_seen = job.last_seen_ts if job.last_seen_ts is not None else job.started_ts
            run.report(Outcome.failed(NEVER_STARTED, retry=True, ended_at=last_seen))
            return True
        if isinstance(program, str):
            log.warning("job %s is lost: %s", run.job_id, program)
            run.report(Outcome.failed(f"lost: {program}", retry=True))
            return True
        run.handle = program
        log.info("re-attached job %s", run.job_id)
        self._watch_liveness()
        return True

    def _started(self, run: Run, pid: int, log_path: Path) -> None:
        """Watcher thread: the program has run for a moment; record its pid and log file
        (one write; a program that ends sooner has them written with its end)."""
        try:
            self.tracker.set_process_info(run.job_id, pid=pid, log_path=str(log_path))
        except Exception:
            log.exception("could not record the pid of job %s", run.job_id)

    def _ended(self, run: Run, program: Program, end: ProgramEnd) -> None:
        """Watcher thread: the program ended (or was lost); report how the job ends and,
        when the next queued job is a process job the limits let start, start it from here
        (its start shares the commit of this end: no round trip through the GUI thread).
        Inside a block of :attr:`_together` (the ends the supervisor client read at once)
        that happens for them all at the end of the block, in one commit."""
        programs = self._programs
        assert programs is not None
        try:
            programs.settle(program)
            outcome = self.outcome(run, program, end)
        except Exception as exc:
            log.exception("could not judge how job %s ended", run.job_id)
            outcome = Outcome.failed(f"internal error: {exc}")
        outcome = dataclasses.replace(outcome, process=_facts(end, program))
        if end.resources:  # the chart's last samples, before the end is recorded
            try:
                self.tracker.save_resource_timeline(run.job_id, end.resources)
            except Exception:
                log.exception("could not store the resource timeline of job %s", run.job_id)
        if not self._together.add((run, program, outcome)):
            self._record_ends([(run, program, outcome)])

    def _record_ends(self, items: list[tuple[Run, Program, Outcome] | _Handed]) -> None:
        """Watcher thread (or the supervisor client's reader thread, for the ends it heard
        together, see :attr:`_together`): record the starts of the jobs handed over that
        the service started, how these jobs ended, and start the process jobs that follow
        them as far as the limits let, in one commit; then hand over the next ones.

        Never while jobs are being handed over (:meth:`_hand_over`, which waits): taken
        from the queue and not yet queued in the service, none of them was started in
        an ended program's place, and the first job left in the queue, which comes after
        them, was started instead (a job of priority 1 overtook three of priority 2)."""
        with self._refilling:
            self._record_ends_now(items)
        self._hand_over()

    def _record_ends_now(self, items: list[tuple[Run, Program, Outcome] | _Handed]) -> None:
        programs = self._programs
        assert programs is not None
        ends = [item for item in items if not isinstance(item, _Handed)]
        ending = {run.job_id for run, _, _ in ends}
        adopt: list[_Handed] = []
        with self._handed_lock:  # (and those whose start the store refused before)
            for handed in [i for i in items if isinstance(i, _Handed)] + [
                h for h in self._handed.values() if h.started
            ]:
                if not handed.adopting and self._may_adopt(handed, ending):
                    handed.adopting = True
                    adopt.append(handed)
        if not ends and not adopt:
            return  # (their starts wait for the ends they followed: see _may_adopt)
        adopted: dict[str, Run | None] = {}
        steps: list[tuple[Run, Any]] = []
        # The slots of the ends no job handed over took go to those handed over first.
        free, nudge = self._nudge(ends)
        wanted = free - nudge
        # The service forgets an end only once it is stored: one the store refused is told
        # when its retry (GUI thread) stores it; if the app goes first, the next app finds it.
        stored_here: list[str] = []
        here = threading.get_ident()

        def on_stored(job_id: str) -> None:
            if collecting and threading.get_ident() == here:
                stored_here.append(job_id)
            else:  # a retry stored it (the store refused this commit)
                programs.end_stored(job_id)
                self._adopt_followers(job_id)

        collecting = True
        for run, _, _ in ends:
            run.on_stored = functools.partial(on_stored, run.job_id)
        try:
            finished = [(run, outcome) for run, _, outcome in ends]
            if self.host is None or self._closed:
                for run, outcome in finished:
                    run.report(outcome)
            elif adopt:
                ids = [h.job.id for h in adopt]
                adopted, steps = self.host.adopt(self, ids, finished, wanted=wanted)
            else:
                steps = self.host.next_runs(self, finished, wanted=wanted)
        finally:
            collecting = False
            for _, program, _ in ends:
                programs.let_go(program)
            # The next program's start request tells the service these ends are stored.
            for job_id in stored_here:
                programs.end_stored(job_id, tell_later=bool(steps))
        for handed in adopt:
            if handed.job.id in adopted:
                self._adopted(handed, adopted[handed.job.id])
            else:
                handed.adopting = False  # the store refused it: the next commit tries again
        for step in steps:
            self._start_chained(*step)
        if steps:
            programs.records.client.flush()  # (if those starts went wrong before asking)

    # -- the jobs handed over to the service ----------------------------------------------------

    def _hand_over(self) -> None:
        """Hand the next queued jobs over to the supervisor service (at most
        :data:`HAND_OVER_PER_PROGRAM` per running program, :data:`HAND_OVER_AHEAD` in
        all): each starts the moment one of
        our programs ends, without waiting for this app (a queue of short jobs no longer
        waits for a commit and a round trip between one program and the next)."""
        host, programs = self.host, self._programs
        if host is None or programs is None or self._closed:
            return
        if not self._refilling.acquire(blocking=False):
            return  # another thread is at it
        try:
            with self._handed_lock:
                handed = len(self._handed)
            # (programs() counts those handed over.) A program an earlier app started
            # (re-attached) is not this connection's: its end starts none of those queued
            # in the service, which would wait while later jobs overtake them.
            ours = sum(1 for program in programs.programs() if not program.reattached)
            running = ours - handed
            want = min(HAND_OVER_AHEAD, running * HAND_OVER_PER_PROGRAM) - handed
            if want > 0:
                for job, prepared in host.hand_over(self, want):
                    self._queue_program(job, prepared)
        finally:
            self._refilling.release()

    def _queue_program(self, job: Job, prepared: Any) -> None:
        programs = self._programs
        assert programs is not None and self.host is not None
        earlier = job.log_path
        if earlier is not None and Path(earlier).is_file():
            log_path = Path(earlier)
        else:
            log_path = self.log_dir / f"{job.id}.log"
        handed = _Handed(job, log_path)
        with self._handed_lock:
            self._handed[job.id] = handed
        try:
            handed.program = programs.spawn(
                job.id,
                None,
                prepared,
                log_path,
                on_started=lambda pid: self._started_handed(handed, pid),
                on_exit=lambda program, end: self._ended_handed(handed, program, end),
                queued=({"attempt": job.attempts + 1}, self._answered(handed)),
            )
        except Exception as exc:  # it starts the usual way, which reports what is wrong
            log.debug("job %s is not handed over: %s", job.id, exc)
            with self._handed_lock:
                self._handed.pop(job.id, None)
            self.host.give_back([job.id])

    def _answered(self, handed: _Handed) -> Callable[[Program, dict[str, Any]], None]:
        def answered(program: Program, answer: dict[str, Any]) -> None:
            """Client thread: the service started the job handed over (or could not, or
            the connection broke first)."""
            handed.program = program
            op = answer.get("op")
            records = None if self._programs is None else self._programs.records
            if op == "lost" and records is not None and records.path(handed.job.id).exists():
                op = "started"  # it started, then the service went: its watcher says so
            if op != "started":  # not started: it starts the usual way (or fails then)
                self._give_back(handed)
                return
            handed.started = True
            if answer.get("nudged"):
                with self._handed_lock:
                    self._nudging = max(0, self._nudging - 1)
            if self.host is not None:
                self.host.started_elsewhere(handed.job.id, held=bool(answer.get("nudged")))
            if not self._together.add(handed):
                self._record_ends([handed])

        return answered

    def _may_adopt(self, handed: _Handed, ending: set[str]) -> bool:
        """Under ``_handed_lock``: whether ``handed``'s start may be recorded in a commit
        that records the ends of ``ending``: when the job whose program's place it took
        has its end in that commit or stored before. Its end comes later when its watcher
        thread is slow to record it (a busy machine), or when it is a job handed over
        whose own start is not stored yet; recording the start first would have the store
        say both ran at once, more than the limit allows. That end's commit adopts it."""
        before = handed.follows
        if before is None or before in ending:
            return True
        if before in self._handed:
            return False  # (its start, then its end, are not stored yet)
        return self.tracker.context(before) is None  # (no context: its end is stored)

    def _adopt_followers(self, job_id: str) -> None:
        """A retry stored the end of ``job_id`` (its commit was refused: a full disk): the
        jobs handed over whose starts waited for that end (see :meth:`_may_adopt`) are
        adopted now; nothing else would record them (their own ends, if heard already,
        wait with them)."""
        with self._handed_lock:
            waiting = any(
                h.follows == job_id and h.started and not h.adopting for h in self._handed.values()
            )
        if waiting:
            self._record_ends([])

    def _on_replaced(self, job_id: str, took: list[str]) -> None:
        """Client thread: the jobs handed over ``took`` took the place of ``job_id``'s
        program."""
        with self._handed_lock:
            self._replaced.add(job_id)
            for taker in took:
                handed = self._handed.get(taker)
                if handed is not None:
                    handed.follows = job_id

    def _nudge(self, ends: list[tuple[Run, Program, Outcome]]) -> tuple[int, int]:
        """For the ends no job handed over took the place of (it was handed over after
        the service saw the end, or the program was not one the service started for this
        app): the service starts the first jobs handed over now, their slots held for
        them, so they keep their turn. How many slots the ends free, and how many of
        those go to the jobs handed over."""
        programs, host = self._programs, self.host
        with self._handed_lock:
            free = 0
            for run, _, _ in ends:
                if run.job_id in self._replaced:
                    self._replaced.discard(run.job_id)
                else:
                    free += 1
            if programs is None or host is None or self._closed:
                return free, 0
            nudge = self._claim_handed_locked(free)
        self._start_claimed(programs, host, nudge)
        return free, nudge

    def _claim_handed_locked(self, slots: int) -> int:
        """Under ``_handed_lock``: how many of ``slots`` go to the jobs handed over and not
        yet started (those already being started not counted again); counted as such."""
        waiting = sum(1 for h in self._handed.values() if not h.started)
        nudge = max(0, min(slots, waiting - self._nudging))
        self._nudging += nudge
        return nudge

    @staticmethod
    def _start_claimed(programs: ProcessJobs, host: ExecutorHost, nudge: int) -> None:
        """Hold ``nudge`` slots and have the service start that many jobs handed over."""
        if nudge:
            host.hold_slot(nudge)
            programs.records.client.start_queued(nudge)

    def start_handed(self, count: int) -> int:
        """Free slots (the limit was raised) go to the jobs handed over first: the service
        starts the first ``count`` of them now, their slots held for them (as for an end
        no job handed over took the place of, see :meth:`_nudge`)."""
        programs, host = self._programs, self.host
        if programs is None or host is None or self._closed or count <= 0:
            return 0
        with self._handed_lock:
            nudge = self._claim_handed_locked(count)
        self._start_claimed(programs, host, nudge)
        return nudge

    def _queue_was_empty(self) -> None:
        """Client thread: a start_queued found nothing to start: its slot is free."""
        with self._handed_lock:
            self._nudging = max(0, self._nudging - 1)
        if self.host is not None:
            self.host.release_slot()

    def _give_back(self, handed: _Handed) -> None:
        with self._handed_lock:
            if self._handed.get(handed.job.id) is not handed:
                return
            del self._handed[handed.job.id]
        program = handed.program
        if program is not None and program.watcher is not None:
            program.watcher.abandon()
        if program is not None and self._programs is not None:
            self._programs.let_go(program)
        if self.host is not None:
            self.host.give_back([handed.job.id])

    def started_unstored(self) -> list[tuple[str, int]]:
        """The records the service wrote for programs it started from an earlier app's
        queue (``extra["queued"]``, with the attempt it is), when that app went before it
        stored their start (see :class:`~jobdeck.runtime.executors.base.Executor`); and
        those its journal names when the service was killed before it wrote their records
        (they are written now, see :mod:`~jobdeck.runtime.start_journal`)."""
        if self.tracker.store.memory:
            return []  # (nothing outlives an app whose store is in memory)
        folder = self._records_folder()
        with contextlib.suppress(OSError):  # (imported only when there are some)
            if any(name.startswith(JOURNAL_PREFIX) for name in os.listdir(folder)):
                from ..start_journal import take_up_journals

                take_up_journals(folder, self.tracker)
        found: list[tuple[str, int]] = []
        try:
            paths = [p for p in folder.iterdir() if p.suffix == ".json"]
        except OSError:
            return []
        for path in paths:
            try:
                data = json.loads(path.read_bytes())
                extra = data.get("extra") or {}
                if extra.get("queued") and isinstance(extra.get("attempt"), int):
                    found.append((str(data["job_id"]), int(extra["attempt"])))
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue  # not ours to judge here: a running job's reattach reads it again
        return found

    def _records_folder(self) -> Path:
        """Where :meth:`_new_programs` keeps the records (a store on file)."""
        if self._records_dir_arg is not None:
            return self._records_dir_arg
        return StoreFolder(self.tracker.store.path).records

    def queue_changed(self) -> None:
        """A scheduling pass is done: hand over the jobs queued meanwhile, if there is room."""
        if self._programs is not None and self._programs.has_runs():
            self._hand_over()

    def withdraw(self, job_id: str) -> None:
        """Take back a job handed over (cancelled, or a job that goes first was queued):
        if the service had started it already, it is adopted as usual (and stopped if it
        is no longer pending)."""
        programs = self._programs
        with self._handed_lock:
            handed = self._handed.get(job_id)
            if programs is None or handed is None or handed.started or handed.withdrawing:
                return
            handed.withdrawing = True
        client = programs.records.client
        client.withdraw(job_id, lambda started: None if started else self._give_back(handed))

    def _adopted(self, handed: _Handed, run: Run | None) -> None:
        """After the commit that adopted ``handed`` (``run``: its run; None: the job is no
        longer pending, e.g. cancelled, and its program is stopped)."""
        programs = self._programs
        program = handed.program
        assert programs is not None and program is not None
        with self._handed_lock:
            self._handed.pop(handed.job.id, None)
        program.ready.wait(_late().spawn_return_timeout)
        watcher = program.watcher
        if run is None:
            handed.dropped = True
            if watcher is not None:
                watcher.kill()
            return
        handed.run = run
        run.handle = program
        programs.adopted(program, run.ctx)
        if watcher is not None:
            watcher.follow()
        self._watch_liveness()
        if handed.end is not None:  # it ended before its start could be stored
            self._ended(run, *handed.end)
        elif run.ctx.cancelled:
            self.cancel(run)

    def _started_handed(self, handed: _Handed, pid: int) -> None:
        if handed.run is not None:
            self._started(handed.run, pid, handed.log_path)

    def _ended_handed(self, handed: _Handed, program: Program, end: ProgramEnd) -> None:
        """Watcher (or client) thread: the program of a job handed over ended."""
        if handed.run is not None:
            self._ended(handed.run, program, end)
        elif not handed.started:
            return  # (never started here: taken back, see _give_back)
        elif handed.dropped or self._programs is None:  # its job was no longer pending
            if self._programs is not None:
                self._programs.forget(program)
        else:  # its start is not stored yet (the store refused it): both, in one commit
            handed.end = (program, end)
            if not self._together.add(handed):
                self._record_ends([handed])

    def _start_chained(self, run: Run, prepared: Any) -> None:
        """Watcher thread: start the job the scheduler handed over as a slot freed."""
        try:
            self.start(run, prepared)
        except Exception as exc:
            log.exception("job %s could not start", run.job_id)
            run.report(Outcome.failed(f"could not start: {exc}"))
        if run.ctx.cancelled:
            self.cancel(run)

    def outcome(self, run: Run, program: Program, end: ProgramEnd) -> Outcome:
        """How the job ends, given how its program ended and what it said (call
        :meth:`~jobdeck.runtime.process_jobs.ProcessJobs.settle` first)."""
        late = _late()
        EndKind, CompletedMsg, FailedMsg = late.end_kind, late.completed, late.failed
        ctx = run.ctx
        code = end.exit_code
        if end.leftovers:
            ctx.log(f"stopped {end.leftovers} process(es) the program left running", "warning")
        if end.log_lost:
            ctx.log(
                f"{end.log_lost} bytes of the program's output could not be written to its "
                f"log ({end.log_lost_error or 'write error'}): the log misses them",
                "warning",
            )
        if end.kind is EndKind.START_FAILED:
            return Outcome.failed(end.error or "the program did not start")
        if program.kill_reason is not None:
            return Outcome.failed(program.kill_reason, exit_code=code, retry=True)
        if run.timed_out:
            return Outcome.failed(run.timeout_message, exit_code=code, retry=True)
        if ctx.cancelled:
            return Outcome.cancelled()
        if end.kind is EndKind.LOST:
            return Outcome.failed(f"lost: {end.error}", retry=True)
        ended_at = None
        if end.ended_before_watch and end.ended_at is not None:
            ended_at = end.ended_at
            ctx.log(f"ended while Jobdeck was not running ({_how(end)})", "info")
        else:
            ended_at = self._exit_time(run, end)
        report = program.report
        if isinstance(report, FailedMsg):
            error = JobError(report.error or "failed", report.stack)
            return Outcome.failed(error, exit_code=code, retry=True, ended_at=ended_at)
        if code == 0:
            if program.used_channel and report is None:
                ctx.log("the program exited with status 0 without reporting completed", "warning")
            result = report.result if isinstance(report, CompletedMsg) else None
            return Outcome.completed(result, exit_code=0, ended_at=ended_at)
        message = failure_message(code, end.signal, end.tail)
        return Outcome.failed(message, exit_code=code, retry=True, ended_at=ended_at)

    def _exit_time(self, run: Run, end: ProgramEnd) -> float | None:
        """When the program exited, as the service saw it (before it started a job handed
        over in its place), if that is between the job's stored start and now on the
        tracker's clock; else None (the time it is recorded). Stored when recorded, the end
        came after the start that took its place (the service's, recorded first), so the
        store showed more jobs running at once than the limit (Statistics ▸ Most at once:
        6 for a limit of 3)."""
        if end.ended_at is None:
            return None
        job = self.tracker.get_job(run.job_id)
        started = job.started_ts if job is not None else None
        if started is None or not started <= end.ended_at <= self.clock():
            return None
        return end.ended_at

    # -- stopping -----------------------------------------------------------------------------

    def cancel(self, run: Run) -> None:
        self._stop(run, "cancelled")

    def time_out(self, run: Run) -> None:
        self._stop(run, run.timeout_message)

    def _stop(self, run: Run, reason: str) -> None:
        if self._programs is None:
            return
        from ..process_jobs import Program

        program = run.handle
        if isinstance(program, Program):
            self._programs.stop(program, reason)

    def check_liveness(self) -> None:
        """GUI thread (timer, or a scheduler's poke): heartbeats of the running programs."""
        programs = self._programs
        if programs is None:
            return
        if not programs.has_runs():
            self._liveness.stop()
            return
        programs.check_liveness(self.clock())

    def detach_all(self) -> list[str]:
        self._liveness.stop()
        return [] if self._programs is None else self._programs.detach_all()

    def wait(self, deadline: float) -> None:
        if self._programs is not None:
            for program in self._programs.programs():
                if program.watcher is not None and program.ctx is not None:  # (not handed over)
                    program.watcher.wait(max(0.0, deadline - time.monotonic()))
            self._together.wait(max(0.0, deadline - time.monotonic()))  # ends being recorded

    def close(self, deadline: float) -> bool:
        """Kill what still runs, stop serving the channel."""
        with self._open_lock:  # not while the warm-up thread opens them
            self._closed = True
            early = self._records if self._programs is None else None
        if early is not None:  # connected by the warm-up; the machinery never opened
            early.close()
        self._liveness.stop()
        if self._programs is not None:
            for program in self._programs.programs():
                watcher = program.watcher
                if watcher is not None and program.ctx is None:
                    watcher.abandon()  # handed over, never started here: the service drops it
                elif watcher is not None and watcher.wait(0) is None:
                    watcher.kill()
                    watcher.wait(1.0)
            self._programs.close()
        if self._temp_logs is not None:
            self._temp_logs.cleanup()
            self._temp_logs = None
        return True


@dataclasses.dataclass(frozen=True)
class _Late:
    """What the process machinery defines that every job's end uses here."""

    spawn_return_timeout: float
    end_kind: type[EndKind]
    completed: type[CompletedMsg]
    failed: type[FailedMsg]


@functools.cache
def _late() -> _Late:
    """The process machinery's names this module uses per job, imported once it is needed
    (an import statement inside a function costs ~7 µs each time it runs under PySide's
    import hook: three of them per job of a queue of short jobs)."""
    from ..process_jobs import SPAWN_RETURN_TIMEOUT
    from ..program_watcher import EndKind
    from ..protocol import CompletedMsg, FailedMsg

    return _Late(SPAWN_RETURN_TIMEOUT, EndKind, CompletedMsg, FailedMsg)


def _connect_early(records: SupervisorRecords) -> None:
    """Warm-up: connect to the store's supervisor service, starting it if none runs (a
    failure is left for the first job's start to report)."""
    try:
        records.client.connect()
    except Exception as exc:
        log.debug("process jobs: could not reach the supervisor in advance: %s", exc)


def max_log_bytes(value: int | str | None) -> int | None:
    """The log cap: an int (bytes), None (no cap), or "default" (``JOBDECK_MAX_LOG_BYTES``
    from the environment if set, else :data:`DEFAULT_MAX_LOG_BYTES`)."""
    where = "max_log_bytes"
    if value == "default":
        raw = os.environ.get("JOBDECK_MAX_LOG_BYTES", "").strip()
        if not raw:
            return DEFAULT_MAX_LOG_BYTES
        where = "JOBDECK_MAX_LOG_BYTES"
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"{where} must be a number of bytes, got {raw!r}") from None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < MIN_MAX_LOG_BYTES:
        raise ValueError(
            f"{where} must be an integer >= {MIN_MAX_LOG_BYTES} (bytes) or None, got {value!r}"
        )
    return value


def failure_message(exit_code: int | None, signal_number: int | None, tail: Sequence[str]) -> str:
    """``exit status N`` (or ``killed by signal SIGKILL (9)``) and the last output lines."""
    if signal_number is not None:
        try:
            name = signal.Signals(signal_number).name
        except ValueError:
            name = "an unknown signal"
        head = f"killed by signal {name} ({signal_number})"
    else:
        head = f"exit status {exit_code}"
    lines = list(tail)[-FAILURE_TAIL_LINES:]
    if not lines:
        return f"{head} (no output)"
    return head + "; last output:\n" + "\n".join(lines)


def _facts(end: ProgramEnd, program: Program) -> ProcessFacts | None:
    """What the job's end writes of its program: its resource use, and its pid and log
    file -- written at its start already, unless it ended before (see
    :data:`~jobdeck.runtime.program_watcher.START_REPORT_DELAY`) or the store refused
    that write (a full disk): the end, recorded once the store takes it, has them too."""
    peak_rss = end.peak_rss if end.peak_rss is not None and end.peak_rss >= 0 else None
    cpu = end.cpu_seconds
    if cpu is not None and not (math.isfinite(cpu) and cpu >= 0):
        cpu = None
    watcher = program.watcher
    pid = end.pid if end.pid is not None or watcher is None else watcher.pid
    log_path = None
    # The service creates the log with the program's first output: no file, no output --
    # unless output was read from it (the log was deleted while the program ran: it is gone).
    no_output = (
        watcher is not None and not watcher.printed and not os.path.lexists(watcher.log_path)
    )
    if pid is not None and watcher is not None and not no_output:
        log_path = os.fspath(watcher.log_path)
    if pid is None and peak_rss is None and cpu is None and not no_output:
        return None
    return ProcessFacts(
        pid=pid, log_path=log_path, peak_rss=peak_rss, cpu_seconds=cpu, no_output=no_output
    )


def _how(end: ProgramEnd) -> str:
    if end.signal is not None:
        return f"killed by signal {end.signal}"
    return f"exit status {end.exit_code}"
