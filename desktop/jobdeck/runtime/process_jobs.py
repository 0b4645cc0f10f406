"""Process jobs for the Runner: supervised programs, their channel, liveness and outcome.

:class:`ProcessJobs` owns the app-wide :class:`~jobdeck.runtime.channel.ChannelServer` and
the directory of supervisor records. It starts a ``command`` job's program under a
supervisor (:meth:`~ProcessJobs.spawn`) or adopts one that outlived the previous app
(:meth:`~ProcessJobs.adopt`), routes what the program says (channel messages and output
lines) into the job's :class:`~jobdeck.core.context.JobContext`, watches heartbeats
(:meth:`~ProcessJobs.check_liveness`) and turns the way a program ended into a
:class:`Verdict` the Runner records.

A job's exit is judged only once the channel has read everything the job sent
(:meth:`~jobdeck.runtime.channel.ChannelServer.drain`, bounded by :data:`DRAIN_TIMEOUT`), so
a ``completed`` result never loses the race with the exit. When no safe channel directory
exists, jobs run without the channel and each job's log says so.

No Qt: callbacks arrive on the channel thread and the watcher threads and only touch the
thread-safe context and tracker; the Runner calls ``check_liveness`` from its GUI-thread
timer.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import signal
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobdeck.core.clock import Clock
from jobdeck.core.context import JobContext
from jobdeck.core.job import Job, JobError
from jobdeck.core.process_spec import ProcessSpec
from jobdeck.core.tracker import JobTracker

from .channel import ChannelError, ChannelServer, default_channel_dir
from .output_progress import parse_progress_line
from .process import prepare_command
from .protocol import (
    ENV_TOKEN,
    CompletedMsg,
    FailedMsg,
    Hello,
    LogMsg,
    Message,
    ProgressMsg,
)
from .supervised import ProcessOutcome, SupervisedProcess, SupervisorRecords
from .supervisor import DEFAULT_MAX_LOG_BYTES

__all__ = [
    "ENV_HEARTBEAT_INTERVAL",
    "ENV_JOB_DATA",
    "ProcessJobs",
    "ProcessRun",
    "Verdict",
    "default_channel_dir_for",
    "failure_message",
]

log = logging.getLogger(__name__)

ENV_JOB_DATA = "JOBDECK_JOB_DATA"
ENV_HEARTBEAT_INTERVAL = "JOBDECK_HEARTBEAT_INTERVAL"
#: Output lines of one process attempt copied into the job's log (the file keeps them all).
MAX_LOGGED_LINES = 2000
#: The longest output line shown as a job's progress message.
MAX_MESSAGE_CHARS = 200
#: Seconds a finished job's channel connections may take to be read to the end.
DRAIN_TIMEOUT = 3.0
#: The message of a job that stopped because it was cancelled (set by the Runner).
CANCELLED_MESSAGE = "Cancelled"
#: How many of the last output lines a failure message quotes.
FAILURE_TAIL_LINES = 10

OnExit = Callable[["ProcessRun", ProcessOutcome], None]


@dataclass(frozen=True)
class Verdict:
    """How a finished process job is recorded: ``status`` is completed, failed or cancelled."""

    status: str
    error: str | JobError | None = None
    result: Any = None
    exit_code: int | None = None
    retry: bool = False
    completed_ts: float | None = None


class ProcessRun:
    """One attempt of one process job: its program and what its channel has said so far."""

    def __init__(self, job_id: str, ctx: JobContext, *, adopted: bool) -> None:
        self.job_id = job_id
        self.ctx = ctx
        self.adopted = adopted
        self.process: SupervisedProcess | None = None
        self.used_channel = False  # sent at least one message (hello included)
        self.last_message: float | None = None  # clock time of the latest one
        self.report: CompletedMsg | FailedMsg | None = None
        self.stale = False
        self.message_before_stale = ""
        self.shown_silence = -1
        self.kill_reason: str | None = None
        self.logged_lines = 0


class ProcessJobs:
    """Starts, adopts, listens to and judges the Runner's process jobs. Thread-safe.

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
        self._runs: dict[str, ProcessRun] = {}
        self._channel: ChannelServer | None = None

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
        """Stop serving the channel (jobs that outlive us reconnect to the next app)."""
        if self._channel is not None:
            self._channel.close()
            self._channel = None
            if self._channel_dir is not None:
                with contextlib.suppress(OSError):
                    self._channel_dir.rmdir()  # only if empty

    @property
    def channel_path(self) -> Path | None:
        return None if self._channel is None else self._channel.path

    def _run(self, job_id: str | None) -> ProcessRun | None:
        if job_id is None:
            return None
        with self._lock:
            return self._runs.get(job_id)

    def _on_message(self, job_id: str, msg: Message) -> None:
        """Channel thread: one authenticated message of ``job_id``."""
        run = self._run(job_id)
        if run is None:
            return
        run.used_channel = True
        run.last_message = self._clock()
        ctx = run.ctx
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
        elif isinstance(msg, Hello) and run.adopted:
            log.info("job %s reconnected to the channel", job_id)

    def _on_warning(self, job_id: str | None, text: str) -> None:
        """Channel thread: bad input; a warning line on the job it concerns."""
        run = self._run(job_id)
        if run is None:
            log.warning("progress channel: %s", text)
            return
        run.ctx.log(text, "warning")

    # -- starting -----------------------------------------------------------------------------

    def spawn(
        self,
        job_id: str,
        ctx: JobContext,
        command: ProcessSpec,
        log_path: Path,
        *,
        on_started: Callable[[int], None],
        on_exit: OnExit,
    ) -> ProcessRun:
        """Check ``command`` and start it under a supervisor (the channel variables and
        ``JOBDECK_JOB_DATA`` in its environment). Raises ProcessStartError (nothing ran)
        or OSError."""
        env = dict(command.env)
        env.setdefault(ENV_HEARTBEAT_INTERVAL, f"{max(0.05, self.heartbeat_timeout / 3):g}")
        prepared = prepare_command(dataclasses.replace(command, env=env))
        extra: dict[str, str] = {}
        if self._channel is not None:
            channel_env = self._channel.register(job_id)
            prepared.env.update(channel_env)
            extra["token"] = channel_env[ENV_TOKEN]
        else:
            for name in ("JOBDECK_CHANNEL", "JOBDECK_JOB_ID", "JOBDECK_TOKEN"):
                prepared.env.pop(name, None)  # never let a job talk to another app's channel
            ctx.log(
                f"no progress channel ({self.channel_problem}): progress is read from the "
                "program's output only",
                "warning",
            )
        prepared.env[ENV_JOB_DATA] = json.dumps(command.data)
        run = ProcessRun(job_id, ctx, adopted=False)
        with self._lock:
            self._runs[job_id] = run
        try:
            run.process = SupervisedProcess.spawn(
                self.records,
                job_id,
                prepared,
                log_path,
                grace=self._grace,
                extra=extra,
                on_started=on_started,
                on_line=lambda line: self._on_line(run, line),
                on_exit=lambda outcome: on_exit(run, outcome),
                max_log_bytes=self.max_log_bytes,
            )
        except BaseException:
            self.forget(run)
            raise
        return run

    def adopt(self, job: Job, ctx: JobContext, *, on_exit: OnExit) -> ProcessRun | str:
        """Watch again the program of ``job``, left running by an earlier app; the reason
        it is lost when there is nothing to watch."""
        try:
            record = self.records.load(job.id)
        except ValueError as exc:
            return str(exc)
        if record is None:
            return "no supervisor record: its program cannot be found again"
        run = ProcessRun(job.id, ctx, adopted=True)
        token = record.extra.get("token")
        if self._channel is not None and isinstance(token, str) and token:
            self._channel.register(job.id, token)
        with self._lock:
            self._runs[job.id] = run
        run.process = SupervisedProcess.attach(
            self.records,
            record,
            grace=self._grace,
            on_line=lambda line: self._on_line(run, line),
            on_exit=lambda outcome: on_exit(run, outcome),
        )
        return run

    def forget(self, run: ProcessRun) -> None:
        """The job is recorded as finished: drop its token, record and state."""
        with self._lock:
            self._runs.pop(run.job_id, None)
        if self._channel is not None:
            self._channel.unregister(run.job_id)
        self.records.remove(run.job_id)

    def detach_all(self) -> list[str]:
        """Stop watching every program and leave it running; the ids of their jobs."""
        with self._lock:
            runs, self._runs = list(self._runs.values()), {}
        for run in runs:
            if run.process is not None:
                run.process.detach()
        return [run.job_id for run in runs]

    # -- output -------------------------------------------------------------------------------

    def _on_line(self, run: ProcessRun, line: str) -> None:
        """Watcher thread: one output line: progress, message, log."""
        ctx = run.ctx
        parsed = parse_progress_line(line)
        if parsed is not None:
            ctx.update_progress(parsed.current, parsed.total, parsed.message)
            return
        if not ctx.cancelled:  # what a program says while it stops is no news (see verdict)
            ctx.update_progress(ctx.current, None, line[:MAX_MESSAGE_CHARS])
        if run.logged_lines < MAX_LOGGED_LINES:
            ctx.log(line)
        elif run.logged_lines == MAX_LOGGED_LINES:
            where = run.process.log_path if run.process is not None else "the log file"
            ctx.log(f"(more output in {where})")
        run.logged_lines += 1

    # -- stopping -----------------------------------------------------------------------------

    def stop(self, run: ProcessRun, reason: str) -> None:
        """Ask the program to stop: a channel ``cancel`` first (then SIGTERM after
        ``cancel_delay``), or SIGTERM at once when it has no channel; SIGKILL after grace."""
        process = run.process
        if process is None:
            return
        sent = self._channel is not None and self._channel.send_cancel(run.job_id, reason)
        process.terminate(self._grace, delay=self._cancel_delay if sent else 0.0)

    def kill(self, run: ProcessRun) -> None:
        if run.process is not None:
            run.process.kill()

    # -- liveness -----------------------------------------------------------------------------

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
            if run is None or silence < self.heartbeat_timeout:
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

    def settle(self, run: ProcessRun) -> None:
        """Wait (up to :data:`DRAIN_TIMEOUT`) until the channel has read everything the
        ended job sent, so its report is known before its verdict."""
        channel = self._channel
        if channel is None:
            return
        if not channel.drain(run.job_id, DRAIN_TIMEOUT) and self._channel is not None:
            run.ctx.log(
                f"its channel was still busy {DRAIN_TIMEOUT:g} s after it ended: "
                "later messages are ignored",
                "warning",
            )

    def verdict(
        self, run: ProcessRun, outcome: ProcessOutcome, *, timeout_message: str | None
    ) -> Verdict:
        """How the job ends, given how its program ended and what the job said. Call
        :meth:`settle` first."""
        ctx = run.ctx
        code = outcome.exit_code
        if outcome.leftovers:
            ctx.log(f"stopped {outcome.leftovers} process(es) the program left running", "warning")
        if outcome.peak_rss is not None or outcome.cpu_seconds is not None:
            self._record_usage(run, outcome)
        if outcome.kind == "start_failed":
            return Verdict("failed", outcome.error or "the program did not start")
        if run.kill_reason is not None:
            return Verdict("failed", error=run.kill_reason, exit_code=code, retry=True)
        if timeout_message is not None:
            return Verdict("failed", error=timeout_message, exit_code=code, retry=True)
        if ctx.cancelled:
            return Verdict("cancelled")
        if outcome.kind == "lost":
            return Verdict("failed", error=f"lost: {outcome.error}", retry=True)
        completed_ts = None
        if outcome.ended_before_watch and outcome.ended_at is not None:
            completed_ts = outcome.ended_at
            ctx.log(f"ended while Jobdeck was not running ({_how(outcome)})", "info")
        report = run.report
        if isinstance(report, FailedMsg):
            error = JobError(report.error or "failed", report.stack)
            return Verdict("failed", error, exit_code=code, retry=True, completed_ts=completed_ts)
        if code == 0:
            if run.used_channel and report is None:
                ctx.log("the program exited with status 0 without reporting completed", "warning")
            result = report.result if isinstance(report, CompletedMsg) else None
            return Verdict("completed", result=result, exit_code=0, completed_ts=completed_ts)
        message = failure_message(code, outcome.signal, outcome.tail)
        return Verdict("failed", message, exit_code=code, retry=True, completed_ts=completed_ts)

    def _record_usage(self, run: ProcessRun, outcome: ProcessOutcome) -> None:
        try:
            self._tracker.set_resource_usage(
                run.job_id, peak_rss=outcome.peak_rss, cpu_seconds=outcome.cpu_seconds
            )
        except Exception:
            log.exception("could not record the resource use of job %s", run.job_id)


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


def _how(outcome: ProcessOutcome) -> str:
    if outcome.signal is not None:
        return f"killed by signal {outcome.signal}"
    return f"exit status {outcome.exit_code}"


def default_channel_dir_for(db_path: Path | None) -> Path:
    """The channel directory of the store at ``db_path``: the same on every start, so jobs
    that outlived the app reconnect; distinct per database, so two stores never share one.
    ``None`` (an in-memory store): a directory of its own. Raises
    :class:`~jobdeck.runtime.channel.ChannelError` when no safe runtime directory exists."""
    if db_path is None:
        return default_channel_dir() / f"mem-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    digest = hashlib.sha256(os.fsencode(db_path.resolve())).hexdigest()[:12]
    return default_channel_dir() / digest
