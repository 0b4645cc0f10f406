"""Process jobs' programs: supervised, heard on the channel, watched for life, judged at the end.

:class:`ProcessJobs` owns the app-wide :class:`~jobdeck.runtime.channel.ChannelServer` and
the directory of supervisor records. It starts a process job's program under a supervisor
(:meth:`~ProcessJobs.spawn`) or re-attaches one that outlived the previous app
(:meth:`~ProcessJobs.reattach`), routes what the program says (channel messages and output
lines) into the job's :class:`~jobdeck.core.context.JobContext`, watches heartbeats
(:meth:`~ProcessJobs.check_liveness`) and turns the way a program ended into the job's
outcome (judged by :class:`~jobdeck.runtime.executors.processes.ProcessExecutor`).

A job's exit is judged only once the channel has read everything the job sent
(:meth:`~jobdeck.runtime.channel.ChannelServer.drain`, bounded by :data:`DRAIN_TIMEOUT`), so
a ``completed`` result never loses the race with the exit. When no safe channel directory
exists, jobs run without the channel and each job's log says so.

No Qt: callbacks arrive on the channel thread and the watcher threads and only touch the
thread-safe context and tracker; the process executor
(:class:`~jobdeck.runtime.executors.processes.ProcessExecutor`) calls ``check_liveness``
from its GUI-thread timer.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jobdeck.core.clock import Clock
from jobdeck.core.context import JobContext
from jobdeck.core.job import Job
from jobdeck.core.process_spec import ProcessSpec
from jobdeck.core.store_errors import StoreError
from jobdeck.core.tracker import JobTracker

from .channel import ChannelError, ChannelServer, default_channel_dir
from .log_tail import last_lines
from .output_progress import parse_progress_line
from .process_launch import prepare_command
from .process_tree import ProcessTree
from .program_watcher import ProgramEnd, ProgramWatcher
from .progress_parsers import ProgramOutput
from .protocol import (
    ENV_TOKEN,
    CompletedMsg,
    FailedMsg,
    Hello,
    LogMsg,
    Message,
    ProgressMsg,
)
from .supervisor import DEFAULT_MAX_LOG_BYTES, RecordState, SupervisorRecord
from .supervisor_records import SupervisorRecords
from .watcher_threads import WatcherThreads

__all__ = [
    "ENV_HEARTBEAT_INTERVAL",
    "ENV_JOB_DATA",
    "NEVER_STARTED",
    "ProcessJobs",
    "Program",
    "default_channel_dir_for",
]

log = logging.getLogger(__name__)

ENV_JOB_DATA = "JOBDECK_JOB_DATA"
ENV_HEARTBEAT_INTERVAL = "JOBDECK_HEARTBEAT_INTERVAL"
#: Output lines of one process attempt copied into the job's log (the file keeps them all).
#: Once a program prints faster than its output is followed line by line, no more of its
#: lines are copied (see :meth:`ProcessJobs._on_skipped`).
MAX_LOGGED_LINES = 2000
#: The longest output line shown as a job's progress message.
MAX_MESSAGE_CHARS = 200
#: Lines of a re-attached program's output looked at for its latest progress (they are
#: read from the end of its log, at most :data:`~jobdeck.runtime.log_tail.FINISH_WINDOW`
#: bytes, however large the log).
CATCH_UP_LINES = 5000
#: Seconds the end of a program waits for :meth:`ProcessJobs.spawn` to return.
SPAWN_RETURN_TIMEOUT = 30.0
#: Seconds a finished job's channel connections may take to be read to the end.
DRAIN_TIMEOUT = 3.0
#: Why a process job an earlier app left running, with no trace of a program (no pid
#: stored, no supervisor record, no process), is interrupted: it went before the program
#: started.
NEVER_STARTED = "interrupted: Jobdeck stopped before this job's program started"

OnExit = Callable[["Program", ProgramEnd], None]


class Program:
    """One attempt of one process job: the watcher of its program, and what the program
    has said on the channel so far."""

    def __init__(self, job_id: str, ctx: JobContext | None, *, reattached: bool) -> None:
        self.job_id = job_id
        #: None while its program is handed over to start later and its start is not
        #: stored yet (see :meth:`ProcessJobs.spawn`'s ``queued``): what it says meanwhile
        #: is not shown.
        self.ctx = ctx
        self.reattached = reattached
        self.watcher: ProgramWatcher | None = None
        self.used_channel = False  # sent at least one message (hello included)
        self.last_message: float | None = None  # clock time of the latest one
        self.report: CompletedMsg | FailedMsg | None = None
        self.stale = False
        self.message_before_stale = ""
        self.shown_silence = -1
        self.kill_reason: str | None = None
        self.logged_lines = 0
        #: Bytes of output the reader jumped over (only the latest lines were read).
        self.skipped_bytes = 0
        #: what the program's command line says about its output (pv -n, dd's input size)
        self.output = ProgramOutput()
        #: Warnings of its start, for its job's log once its start is stored.
        self.notes: list[str] = []
        #: What it said on the channel before its start was stored (see ``ctx``), in order:
        #: handled once it is (a short job's ``completed`` and its result included).
        self.early: list[Message] = []
        #: Set once :meth:`ProcessJobs.spawn` (or ``reattach``) has returned its watcher:
        #: the end of a short program can be heard before that, and waits for it.
        self.ready = threading.Event()


class ProcessJobs:
    """Starts, re-attaches, listens to and judges process jobs' programs. Thread-safe.

    ``channel_dir`` holds the channel socket (private, 0700); None runs without a channel,
    ``channel_problem`` saying why. ``records`` holds the supervisor records.
    ``heartbeat_timeout``: a job that used the channel and is silent that long is stale,
    twice that long it is killed. ``cancel_delay``: after a ``cancel`` message, how long the
    program gets before SIGTERM (SIGKILL follows ``grace`` seconds later).
    ``max_log_bytes``: the cap of each job's log file (see
    :class:`~jobdeck.runtime.supervisor.LogWriter`; None: no cap).
    """

    def __init__(
        self,
        tracker: JobTracker,
        *,
        clock: Clock,
        channel_dir: Path | None,
        records: SupervisorRecords,
        grace: float,
        cancel_delay: float,
        heartbeat_timeout: float,
        channel_problem: str | None = None,
        max_log_bytes: int | None = DEFAULT_MAX_LOG_BYTES,
    ) -> None:
        self._tracker = tracker
        self._clock = clock
        self._channel_dir = channel_dir
        #: Why jobs run without a channel (None while it is served).
        self.channel_problem: str | None = channel_problem or "the channel is not open"
        self.max_log_bytes = max_log_bytes
        self.records = records
        self._grace = grace
        self._cancel_delay = cancel_delay
        self.heartbeat_timeout = heartbeat_timeout
        self._lock = threading.Lock()
        self._runs: dict[str, Program] = {}
        self._channel: ChannelServer | None = None
        #: The watchers' threads, reused from one program to the next.
        self._threads = WatcherThreads()

    # -- the channel --------------------------------------------------------------------------

    def open(self) -> None:
        """Start serving the channel; without it, jobs still run (output parsing only)."""
        if self._channel_dir is None:
            log.warning("process jobs run without a progress channel: %s", self.channel_problem)
            return
        server = ChannelServer(self._on_message, self._on_warning, directory=self._channel_dir)
        try:
            server.start()
        except ChannelError as exc:
            self.channel_problem = str(exc)
            log.warning("process jobs run without a progress channel: %s", exc)
            server.close()
            return
        self._channel = server
        self.channel_problem = None

    def close(self) -> None:
        """Stop serving the channel (jobs that outlive us reconnect to the next app) and let
        go of the supervisor service (it exits once it has nothing left to watch); idle
        watcher threads end."""
        self._threads.close()
        self.records.close()
        if self._channel is not None:
            self._channel.close()
            self._channel = None
            if self._channel_dir is not None:
                with contextlib.suppress(OSError):
                    self._channel_dir.rmdir()  # only if empty

    @property
    def channel_path(self) -> Path | None:
        return None if self._channel is None else self._channel.path

    def _run(self, job_id: str | None) -> Program | None:
        if job_id is None:
            return None
        with self._lock:
            run = self._runs.get(job_id)
        return run if run is not None and run.ctx is not None else None

    def _on_message(self, job_id: str, msg: Message) -> None:
        """Channel thread: one authenticated message of ``job_id``."""
        with self._lock:
            run = self._runs.get(job_id)
            if run is not None and run.ctx is None:  # its start is not stored yet
                run.early.append(msg)
                return
        if run is None:
            return
        ctx = run.ctx
        if ctx is None:
            return
        run.used_channel = True
        run.last_message = self._clock()
        if run.stale:
            run.stale = False
            ctx.log("the job is responding again", "info")
            if not isinstance(msg, ProgressMsg) or msg.message is None:
                ctx.update_progress(ctx.current, None, run.message_before_stale)
        if isinstance(msg, ProgressMsg):
            ctx.update_progress(msg.current, msg.total, msg.message)
        elif isinstance(msg, LogMsg):
            ctx.log(msg.message, msg.level)
        elif isinstance(msg, CompletedMsg | FailedMsg):
            run.report = msg
        elif isinstance(msg, Hello) and run.reattached:
            log.info("job %s reconnected to the channel", job_id)

    def _on_warning(self, job_id: str | None, text: str) -> None:
        """Channel thread: bad input; a warning line on the job it concerns."""
        run = self._run(job_id)
        if run is None or run.ctx is None:
            log.warning("progress channel: %s", text)
            return
        run.ctx.log(text, "warning")

    # -- starting -----------------------------------------------------------------------------

    def spawn(
        self,
        job_id: str,
        ctx: JobContext | None,
        command: ProcessSpec,
        log_path: Path,
        *,
        on_started: Callable[[int], None],
        on_exit: OnExit,
        queued: tuple[dict[str, Any], Callable[[Program, dict[str, Any]], None]] | None = None,
    ) -> Program:
        """Check ``command`` and start it under a supervisor (the channel variables and
        ``JOBDECK_JOB_DATA`` in its environment). Raises ProcessStartError (nothing ran)
        or OSError.

        ``queued`` (ctx None): hand it over to start the moment one of this app's programs
        ends (see :meth:`ProgramWatcher.spawn`'s ``on_answer``): ``(extra, on_answer)``,
        the entries for its record's ``extra`` (the attempt it is, for the next app to
        adopt it) and who hears the service's answer (the Program and the answer, client
        thread). Once its start is stored, :meth:`adopted` gives it its ``ctx``; then call
        its watcher's ``follow``."""
        prepared = prepare_command(command)
        if ENV_HEARTBEAT_INTERVAL not in command.env:  # (the job's own value wins)
            interval = max(0.05, self.heartbeat_timeout / 3)
            prepared.env[ENV_HEARTBEAT_INTERVAL] = f"{interval:g}"
        extra: dict[str, Any] = dict(queued[0]) if queued is not None else {}
        notes: list[str] = []
        if self._channel is not None:
            channel_env = self._channel.register(job_id)
            prepared.env.update(channel_env)
            extra["token"] = channel_env[ENV_TOKEN]
        else:
            for name in ("JOBDECK_CHANNEL", "JOBDECK_JOB_ID", "JOBDECK_TOKEN"):
                prepared.env.pop(name, None)  # never let a job talk to another app's channel
            notes.append(
                f"no progress channel ({self.channel_problem}): progress is read from the "
                "program's output only"
            )
        prepared.env[ENV_JOB_DATA] = json.dumps(command.data)
        run = Program(job_id, ctx, reattached=False)
        run.notes = notes
        if ctx is not None:
            self.adopted(run, ctx)
        run.output = ProgramOutput(command.argv, shell=command.shell, cwd=command.cwd)
        with self._lock:
            self._runs[job_id] = run
        try:
            run.watcher = ProgramWatcher.spawn(
                self.records,
                job_id,
                prepared,
                log_path,
                grace=self._grace,
                extra=extra,
                on_started=on_started,
                on_line=lambda line: self._on_line(run, line),
                on_exit=lambda end: self._ended(run, end, on_exit),
                max_log_bytes=self.max_log_bytes,
                on_skipped=lambda count: self._on_skipped(run, count),
                threads=self._threads,
                on_answer=None if queued is None else lambda answer: queued[1](run, answer),
            )
            run.watcher.on_resources = lambda points: self._keep_resources(job_id, points)
            run.watcher.on_waiting = lambda text: self._on_waiting(run, text)
        except BaseException:
            self.forget(run)
            raise
        finally:
            run.ready.set()
        return run

    def adopted(self, run: Program, ctx: JobContext) -> None:
        """``run``'s start is stored (``ctx``: its job's context): what it says is shown
        from now on, the warnings of its start first."""
        notes, run.notes = run.notes, []
        for note in notes:
            ctx.log(note, "warning")
        with self._lock:
            run.ctx = ctx
            early, run.early = run.early, []
        for msg in early:
            self._on_message(run.job_id, msg)

    def reattach(
        self, job: Job, ctx: JobContext, *, on_exit: OnExit, log_path: Path | None = None
    ) -> Program | str:
        """Watch again the program of ``job``, left running by an earlier app; the reason
        it is lost when there is nothing to watch (:data:`NEVER_STARTED` when it surely
        never started: no pid stored, no record and no process of it).

        The program is found by its record, or, when that is missing or unreadable, by the
        processes carrying its job's marker (watched when the store's supervisor service
        runs, which tells its end; stopped, saying so, when no service does). A program
        whose pid and log the earlier app had not stored yet gets them stored now
        (``log_path``: where its log is when the job has none stored).

        The progress the program printed while no app was watching is read from the end of
        its log (a bounded tail), so the job shows how far it got at once, not only after
        its next line."""
        problem = "no supervisor record: its program cannot be found again"
        try:
            record = self.records.load(job.id)
        except ValueError as exc:
            record, problem = None, str(exc)
        if record is None:
            found = self._record_from_processes(job, job.log_path or log_path, problem)
            if isinstance(found, str):
                return found
            if found is None:
                # (no pid stored: this attempt's program was not seen to start; a retry
                # keeps the log of the earlier attempts, never their pid)
                return NEVER_STARTED if job.pid is None else problem
            record = found
        if job.log_path is None and record.pid is not None:
            try:
                self._tracker.set_process_info(job.id, pid=record.pid, log_path=record.log_path)
            except (StoreError, ValueError, RuntimeError, KeyError) as exc:
                log.warning("the pid and log of job %s were not stored: %s", job.id, exc)
        run = Program(job.id, ctx, reattached=True)
        token = record.extra.get("token")
        if self._channel is not None and isinstance(token, str) and token:
            self._channel.register(job.id, token)
        with self._lock:
            self._runs[job.id] = run
        self._catch_up(ctx, last_lines(record.log_path, CATCH_UP_LINES, start=record.output_start))
        try:
            run.watcher = ProgramWatcher.reattach(
                self.records,
                record,
                grace=self._grace,
                on_line=lambda line: self._on_line(run, line),
                on_exit=lambda end: self._ended(run, end, on_exit),
                on_skipped=lambda count: self._on_skipped(run, count),
                threads=self._threads,
            )
            run.watcher.on_resources = lambda points: self._keep_resources(job.id, points)
        finally:
            run.ready.set()
        return run

    def _record_from_processes(
        self, job: Job, log_path: str | os.PathLike[str] | None, problem: str
    ) -> SupervisorRecord | str | None:
        """A record to watch ``job``'s program by when its record is missing or unreadable
        (``problem``) but a process of it runs; None when none runs; the reason it is lost
        when its processes run with no service to tell their end (they are stopped)."""
        from .lost_start import parent_of, processes_of_job

        found = processes_of_job(job.id)
        if not found:
            return None
        pid, start_time = found[0]
        client = self.records.client
        if (
            log_path is not None
            and client.connect_if_running()
            and parent_of(pid) == client.service_pid
        ):
            # The store's service runs it: it tells its end (and writes it into this file).
            record = SupervisorRecord(
                job_id=job.id,
                argv=[],
                log_path=os.fspath(log_path),
                state=RecordState.RUNNING,
                supervisor_pid=client.service_pid,
                supervisor_start_time=client.service_start_time,
                pid=pid,
                start_time=start_time,
                shared=True,
            )
            try:
                self.records.create(record)
            except OSError as exc:
                problem = f"{problem}; it could not be written again: {exc}"
            else:
                log.warning("job %s: %s; its program (pid %s) is watched", job.id, problem, pid)
                return record
        for other, other_start in found:
            ProcessTree(other, other_start).kill()
        return (
            f"{problem}; its program (pid {pid}) ran on, but nothing could record its end, so "
            "it was stopped and its exit status is unknown"
        )

    def forget(self, run: Program, *, tell_later: bool = False) -> None:
        """The job is recorded as finished: :meth:`let_go` of it and :meth:`end_stored`."""
        self.let_go(run)
        self.end_stored(run.job_id, tell_later=tell_later)

    def let_go(self, run: Program) -> None:
        """The job's end is judged: drop its token and state. Its record (and the end the
        service holds) stays until :meth:`end_stored`: an app that goes before it stored
        the end leaves it for the next one."""
        with self._lock:
            self._runs.pop(run.job_id, None)
        if self._channel is not None:
            self._channel.unregister(run.job_id)

    def end_stored(self, job_id: str, *, tell_later: bool = False) -> None:
        """The job's end is stored: drop its record and tell the service (``tell_later``:
        with the next program started, see
        :meth:`~jobdeck.runtime.supervisor_records.SupervisorRecords.remove`)."""
        self.records.remove(job_id, tell_later=tell_later)

    def detach_all(self) -> list[str]:
        """Stop watching every program and leave it running; the ids of their jobs."""
        with self._lock:
            runs, self._runs = list(self._runs.values()), {}
        for run in runs:
            if run.watcher is not None:
                run.watcher.detach()
        return [run.job_id for run in runs]

    # -- output -------------------------------------------------------------------------------

    @staticmethod
    def _catch_up(ctx: JobContext, lines: list[str]) -> None:
        """Show what a program reached while no app watched it (``lines``: the end of its
        output): its latest progress line and, if it said something after that, its last
        line as the message."""
        for line in reversed(lines):
            parsed = parse_progress_line(line)
            if parsed is not None:
                ctx.update_progress(parsed.current, parsed.total, parsed.message)
                break
        if lines and parse_progress_line(lines[-1]) is None:
            ctx.update_progress(ctx.current, None, lines[-1][:MAX_MESSAGE_CHARS])

    @staticmethod
    def _show_line(ctx: JobContext, line: str, program: ProgramOutput | None = None) -> bool:
        """Show one output line as the job's progress or message; True if it was progress."""
        parsed = parse_progress_line(line, program)
        if parsed is not None:
            ctx.update_progress(parsed.current, parsed.total, parsed.message)
            return True
        if not ctx.cancelled:  # what a program says while it stops is no news
            ctx.update_progress(ctx.current, None, line[:MAX_MESSAGE_CHARS])
        return False

    def _on_skipped(self, run: Program, count: int) -> None:
        """Watcher thread: the program printed faster than it can be followed line by line,
        and ``count`` bytes of its output were jumped over. The first time, the job's log
        says where its output is; from then on its lines only show as progress and
        message (the job's log keeps no gappy copy of them), and its last lines are added
        when it ends (:meth:`_ended`)."""
        first = run.skipped_bytes == 0
        run.skipped_bytes += count
        if first and run.logged_lines <= MAX_LOGGED_LINES and run.ctx is not None:
            where = run.watcher.log_path if run.watcher is not None else "the log file"
            run.ctx.log(
                f"(the program prints faster than it can be copied here: its output is in "
                f"{where}; its last lines follow when it ends)"
            )
            run.logged_lines = MAX_LOGGED_LINES + 1

    def _ended(self, run: Program, end: ProgramEnd, on_exit: OnExit) -> None:
        """Watcher thread: the program ended. A job whose output went by too fast to copy
        gets the last lines of it (read from the end of its log, not what the reader last
        saw) in its log; then ``on_exit`` judges it (once :meth:`spawn` has returned)."""
        if not run.ready.wait(SPAWN_RETURN_TIMEOUT):
            log.warning("job %s ended before its start was done; judging it anyway", run.job_id)
        if run.skipped_bytes and run.ctx is not None:
            for line in end.tail:
                if parse_progress_line(line) is None:
                    run.ctx.log(line)
        on_exit(run, end)

    def _on_waiting(self, run: Program, text: str | None) -> None:
        """Watcher thread: the supervisor service is late to answer the program's start
        (``text`` says so in plain words: a warning in the job's log and its message, in
        its row and details), or answered at last (None)."""
        ctx = run.ctx
        if ctx is None:  # (handed over: its start is not stored yet)
            return
        if text is None:
            ctx.log("the supervisor service answered: the program has started", "info")
            ctx.update_progress(ctx.current, None, "")
            return
        ctx.log(text, "warning")
        ctx.update_progress(ctx.current, None, text)

    def _keep_resources(self, job_id: str, points: tuple[tuple[float, ...], ...]) -> None:
        """A running program's resource samples so far, stored for its chart (watcher
        thread, every few seconds; its end stores the last ones)."""
        try:
            self._tracker.save_resource_timeline(job_id, points)
        except (StoreError, ValueError, RuntimeError, KeyError) as exc:  # closing, or ended
            log.debug("resource samples of job %s not kept: %s", job_id, exc)

    def _on_line(self, run: Program, line: str) -> None:
        """Watcher thread: one output line: progress, message, log."""
        ctx = run.ctx
        if ctx is None:  # (handed over, its start not stored: see Program.ctx)
            return
        if self._show_line(ctx, line, run.output):
            return
        if run.logged_lines < MAX_LOGGED_LINES:
            ctx.log(line)
        elif run.logged_lines == MAX_LOGGED_LINES:
            where = run.watcher.log_path if run.watcher is not None else "the log file"
            ctx.log(f"(more output in {where})")
        run.logged_lines += 1

    # -- stopping -----------------------------------------------------------------------------

    def stop(self, run: Program, reason: str) -> None:
        """Ask the program to stop: a channel ``cancel`` first (then SIGTERM after
        ``cancel_delay``), or SIGTERM at once when it has no channel; SIGKILL after grace."""
        process = run.watcher
        if process is None:
            return
        sent = self._channel is not None and self._channel.send_cancel(run.job_id, reason)
        process.terminate(self._grace, delay=self._cancel_delay if sent else 0.0)

    def kill(self, run: Program) -> None:
        if run.watcher is not None:
            run.watcher.kill()

    # -- liveness -----------------------------------------------------------------------------

    def programs(self) -> list[Program]:
        """The programs being watched."""
        with self._lock:
            return list(self._runs.values())

    def has_runs(self) -> bool:
        with self._lock:
            return bool(self._runs)

    def silences(self, now: float) -> dict[str, float]:
        """Seconds since the last message of every job that used the channel."""
        with self._lock:
            runs = list(self._runs.values())
        return {
            run.job_id: max(0.0, now - run.last_message)
            for run in runs
            if run.used_channel and run.last_message is not None and run.kill_reason is None
        }

    def stale_jobs(self, now: float) -> dict[str, float]:
        """Jobs silent for at least ``heartbeat_timeout``: seconds since their last message."""
        return {
            job_id: silence
            for job_id, silence in self.silences(now).items()
            if silence >= self.heartbeat_timeout
        }

    def check_liveness(self, now: float) -> None:
        """Mark silent jobs stale (a warning, and the message says so); kill those silent
        for twice the timeout."""
        for job_id, silence in self.silences(now).items():
            run = self._run(job_id)
            if run is None or run.ctx is None or silence < self.heartbeat_timeout:
                continue
            ctx = run.ctx
            if silence >= 2 * self.heartbeat_timeout:
                run.kill_reason = f"no heartbeat for {silence:.0f} s: killed"
                ctx.log(run.kill_reason, "error")
                self.kill(run)
                continue
            shown = int(silence)
            if not run.stale:
                run.stale = True
                run.message_before_stale = ctx.message
                ctx.log(f"no heartbeat for {shown} s: the job may be stuck", "warning")
            if shown != run.shown_silence:
                run.shown_silence = shown
                ctx.update_progress(ctx.current, None, f"no heartbeat for {shown} s")

    # -- the outcome --------------------------------------------------------------------------

    def settle(self, run: Program) -> None:
        """Wait (up to :data:`DRAIN_TIMEOUT`) until the channel has read everything the
        ended job sent, so its report is known before its verdict."""
        channel = self._channel
        if channel is None:
            return
        drained = channel.drain(run.job_id, DRAIN_TIMEOUT)
        if not drained and self._channel is not None and run.ctx is not None:
            run.ctx.log(
                f"its channel was still busy {DRAIN_TIMEOUT:g} s after it ended: "
                "later messages are ignored",
                "warning",
            )


def default_channel_dir_for(db_path: Path | None) -> Path:
    """The channel directory of the store at ``db_path``: the same on every start, so jobs
    that outlived the app reconnect; distinct per database, so two stores never share one.
    ``None`` (an in-memory store): a directory of its own. Raises
    :class:`~jobdeck.runtime.channel.ChannelError` when no safe runtime directory exists."""
    if db_path is None:
        return default_channel_dir() / f"mem-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    digest = hashlib.sha256(os.fsencode(db_path.resolve())).hexdigest()[:12]
    return default_channel_dir() / digest
