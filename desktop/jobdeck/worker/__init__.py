"""Report progress to Jobdeck from a Python program that Jobdeck runs as a process job.

Standard library only, and one file on purpose (longer than our usual modules): copy it
next to your script if jobdeck is not installed. Typical use::

    from jobdeck.worker import RunningJob, run_job

    def main(job: RunningJob):
        items = job.data.get("items", 100)
        for i in range(items):
            if job.cancelled:
                job.warn("stopping early")
                return {"done": i}
            job.progress(current=i + 1, total=items, message=f"item {i + 1}")
        return {"done": items}

    run_job(main)

:func:`run_job` sends ``started``, calls ``fn(job)``, then sends ``completed`` (with the
returned value as the result) or ``failed`` (with the traceback) and exits with status 0 or 1.

Under Jobdeck the environment names a local socket (``JOBDECK_CHANNEL``) and the job id and
token to present. Messages are newline-delimited JSON, the format documented in
``jobdeck/runtime/protocol.py``. A daemon thread does all socket work, so calls from the job
never raise because the app went away:

* :meth:`RunningJob.progress` is as cheap as a buffered ``print``: it checks its arguments
  and stores them, nothing more (no lock, no message, no system call). The sender thread
  sends the latest values at most :data:`PROGRESS_RATE` times a second; the final state is
  always sent before ``completed``, ``failed``, :meth:`RunningJob.close` and the
  interpreter's exit.
* :meth:`RunningJob.log` lines are batched, never dropped while the app is reachable: a job
  that logs faster than the app reads waits once :data:`MAX_QUEUED_LOGS` lines are queued;
* heartbeats are sent every ``JOBDECK_HEARTBEAT_INTERVAL`` seconds (default 10);
* a ``cancel`` from the app sets :attr:`RunningJob.cancelled`;
* when the app quits or restarts, the thread reconnects with backoff, keeping meanwhile the
  latest progress and the last :data:`MAX_BUFFERED_LOGS` log messages (then one line says
  how many were dropped).

Outside Jobdeck (no ``JOBDECK_CHANNEL``) everything still works: log messages go to stderr
as ``warning: ...`` and progress as ``[ 42%] message`` lines, at most one a second.

``Job``, the old name of :class:`RunningJob`, still works but is deprecated.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import os
import socket
import sys
import threading
import time
import traceback
import warnings
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

__all__ = ["JobCancelled", "RunningJob", "run_and_report", "run_job"]

# Copied from jobdeck/runtime/protocol.py -- keep them equal (a test checks).
ENV_CHANNEL = "JOBDECK_CHANNEL"
ENV_JOB_ID = "JOBDECK_JOB_ID"
ENV_TOKEN = "JOBDECK_TOKEN"
MAX_LINE_BYTES = 1024 * 1024
LOG_LEVELS = ("debug", "info", "warning", "error")

ENV_JOB_DATA = "JOBDECK_JOB_DATA"
ENV_HEARTBEAT_INTERVAL = "JOBDECK_HEARTBEAT_INTERVAL"

DEFAULT_HEARTBEAT_INTERVAL = 10.0
PROGRESS_RATE = 20.0
"""Progress messages sent per second, at most."""
MAX_BUFFERED_LOGS = 100
"""Log messages kept while the app is unreachable; older ones are dropped."""
MAX_QUEUED_LOGS = 10_000
"""Log messages waiting to be sent on a live connection before :meth:`RunningJob.log` waits."""
FLUSH_TIMEOUT = 5.0
"""Seconds :func:`run_job` (and the interpreter's exit) waits for the last messages to go."""
MAX_STACK_CHARS = 64 * 1024
_RECONNECT_DELAYS = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
_STDERR_PROGRESS_INTERVAL = 1.0
_SEND_TIMEOUT = 10.0
#: Numbers up to this are taken as they are on the fast path (floats stay exact below it).
_FAST_MAX = 1 << 53


class JobCancelled(Exception):
    """Raised by :meth:`RunningJob.checkpoint` once Jobdeck has asked the job to stop."""


def _encode(obj: dict[str, Any]) -> bytes:
    """One NDJSON line, exactly as protocol.encode_message writes it."""
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    try:
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:  # lone surrogates
        return json.dumps(obj, allow_nan=False, separators=(",", ":")).encode("ascii") + b"\n"


def _number(name: str, value: Any) -> float:
    """``value`` checked as a finite number >= 0 (the slow path of :meth:`progress`)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return number


#: What :meth:`RunningJob.progress` stores: (percent, current, total, message, data), each
#: checked, but not yet clamped or turned into a message (the sender thread does that).
_Progress = tuple[Any, Any, Any, Any, Any]


def _progress_fields(latest: _Progress) -> dict[str, Any]:
    """The fields of a ``progress`` message for stored values (off the job's thread)."""
    percent, current, total, message, data = latest
    if percent is not None:
        fields: dict[str, Any] = {"percent": percent if percent <= 100 else 100}
    else:
        limit = 0 if total is None else total
        fields = {"current": current if limit <= 0 or current <= limit else limit, "total": limit}
    if message is not None:
        fields["message"] = message
    if data is not None:
        fields["data"] = data
    return fields


class _Dropped:
    """Queued in place of a line saying how many log messages were dropped; its count goes
    back to the channel if the batch holding it cannot be sent, so nothing is counted twice."""

    __slots__ = ("count",)

    def __init__(self, count: int) -> None:
        self.count = count


_Entry = tuple[str, Any]  # (type, fields) or ("dropped", _Dropped)


# ---------------------------------------------------------------------------------------
# The connection: one daemon thread writes, one reads; the job's thread only records.
# ---------------------------------------------------------------------------------------


class _Channel:
    """Sends messages to Jobdeck from a background thread and receives ``cancel``.

    Progress takes no lock: the job stores its latest values in ``owner._latest`` and wakes
    the sender only when ``owner._sender_asleep`` says it sleeps with nothing to send. The
    sender compares ``owner._latest`` with the last values it took (by identity), so a
    newer value is never missed: it marks itself asleep *before* looking one last time.
    """

    def __init__(
        self,
        owner: RunningJob,
        path: str,
        job_id: str,
        token: str,
        heartbeat_interval: float,
    ) -> None:
        self._owner = owner
        self._path = path
        self._job_id = job_id
        self._token = token
        self._heartbeat_interval = heartbeat_interval
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[_Entry] = deque()  # in order
        self._logs_queued = 0
        self._logs_dropped = 0
        self._taken: _Progress | None = None  # the latest values already queued or sent
        self._last_progress_sent = -math.inf
        self._sock: socket.socket | None = None
        self._reachable = True  # until a connect or send fails: then logs are kept to 100
        self._closing = False
        self._sending = False  # a batch is on its way
        self._thread = threading.Thread(target=self._run, name="jobdeck-worker", daemon=True)
        self._thread.start()

    # -- called from the job's threads ----------------------------------------------

    def wake(self) -> None:
        """New progress after a quiet spell: the sender sleeps, wake it (rare)."""
        with self._cond:
            self._owner._sender_asleep = False
            self._cond.notify_all()

    def send(self, kind: str, fields: dict[str, Any]) -> None:
        with self._cond:
            if kind == "log":
                while (
                    self._reachable
                    and self._logs_queued >= MAX_QUEUED_LOGS
                    and not self._closing
                    and threading.current_thread() is not self._thread
                ):
                    self._cond.wait()  # the app reads slower than we log: wait, drop nothing
            self._queue_progress()
            self._queue.append((kind, fields))
            if kind == "log":
                self._logs_queued += 1
                if not self._reachable and self._logs_queued > MAX_BUFFERED_LOGS:
                    self._drop_oldest_log()
            self._cond.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait until everything recorded so far was handed to the socket."""
        with self._cond:
            self._queue_progress()
            self._cond.notify_all()
            return self._cond.wait_for(self._drained, timeout)

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(1.0)
        self._disconnect()

    # -- helpers, called with the lock held --------------------------------------------

    def _progress_pending(self) -> bool:
        latest = self._owner._latest
        return latest is not None and latest is not self._taken

    def _queue_progress(self) -> None:
        """Queue the latest progress now (before a log or an outcome, keeping the order)."""
        if self._progress_pending():
            self._taken = self._owner._latest
            self._queue.append(("progress", self._taken))

    def _drained(self) -> bool:
        return not self._queue and not self._sending and not self._progress_pending()

    def _drop_oldest_log(self) -> None:
        for index, (kind, _) in enumerate(self._queue):
            if kind == "log":
                del self._queue[index]
                self._logs_queued -= 1
                self._logs_dropped += 1
                return

    def _take_batch(self, now: float) -> list[_Entry]:
        batch = list(self._queue)
        self._queue.clear()
        self._logs_queued = 0
        if self._logs_dropped:
            batch.insert(0, ("dropped", _Dropped(self._logs_dropped)))
            self._logs_dropped = 0
        if self._progress_pending() and now >= self._last_progress_sent + 1 / PROGRESS_RATE:
            self._taken = self._owner._latest
            batch.append(("progress", self._taken))
        if any(kind == "progress" for kind, _ in batch):
            self._last_progress_sent = now
        self._sending = True
        self._cond.notify_all()  # a log() waiting for room may go on
        return batch

    def _put_back(self, batch: list[_Entry]) -> None:
        """Re-queue what could not be sent: the newest logs, and the latest progress."""
        if any(kind == "progress" for kind, _ in batch) and self._owner._latest is self._taken:
            self._taken = None  # the latest values were not sent after all
        kept: list[_Entry] = []
        for kind, fields in batch:
            if kind == "dropped":
                self._logs_dropped += fields.count
            elif kind not in ("progress", "heartbeat"):
                kept.append((kind, fields))
        self._queue.extendleft(reversed(kept))
        self._logs_queued = sum(1 for kind, _ in self._queue if kind == "log")
        while self._logs_queued > MAX_BUFFERED_LOGS:
            self._drop_oldest_log()

    # -- the sender thread ----------------------------------------------------------

    def _run(self) -> None:
        next_heartbeat = time.monotonic() + self._heartbeat_interval
        failures = 0
        retry_at = 0.0
        while True:
            with self._cond:
                while True:
                    now = time.monotonic()
                    if self._closing:
                        return
                    if now >= next_heartbeat:
                        self._queue.append(("heartbeat", {}))
                        next_heartbeat = now + self._heartbeat_interval
                    progress_due = self._last_progress_sent + 1 / PROGRESS_RATE
                    pending = self._progress_pending()
                    ready = bool(self._queue) or (pending and now >= progress_due)
                    if ready and now >= retry_at:
                        break
                    wake = next_heartbeat
                    if self._queue:
                        wake = min(wake, retry_at)
                    elif pending:
                        wake = min(wake, max(retry_at, progress_due))
                    else:
                        # Nothing to send: sleep until the job wakes us. Say so first, then
                        # look once more, so a value stored meanwhile is not left behind.
                        self._owner._sender_asleep = True
                        if self._progress_pending():
                            self._owner._sender_asleep = False
                            continue
                        self._cond.notify_all()  # flush() may be waiting for this
                    self._cond.wait(max(0.0, wake - now))
                    self._owner._sender_asleep = False
                batch = self._take_batch(now)
            delivered = self._deliver(batch)
            with self._cond:
                self._sending = False
                if delivered:
                    failures = 0
                    retry_at = 0.0
                else:
                    delay = _RECONNECT_DELAYS[min(failures, len(_RECONNECT_DELAYS) - 1)]
                    retry_at = time.monotonic() + delay
                    failures += 1
                    self._put_back(batch)
                self._cond.notify_all()

    def _deliver(self, batch: list[_Entry]) -> bool:
        if self._sock is None and not self._connect():
            return False
        now = time.time()
        data = b"".join(self._line(kind, fields, now) for kind, fields in batch)
        try:
            assert self._sock is not None
            self._sock.sendall(data)
        except OSError:
            self._disconnect()
            with self._cond:
                self._reachable = False
            return False
        return True

    def _line(self, kind: str, fields: Any, now: float) -> bytes:
        if kind == "progress":
            fields = _progress_fields(fields)
        elif kind == "dropped":
            kind, fields = (
                "log",
                {
                    "level": "warning",
                    "message": f"{fields.count} log messages "
                    "were dropped because they could not be sent in time",
                },
            )
        obj = {"type": kind, "jobId": self._job_id, "timestamp": now, **fields}
        try:
            line = _encode(obj)
        except (TypeError, ValueError, RecursionError) as exc:
            return self._line(
                "log", {"level": "warning", "message": f"{kind} not sent: {exc}"}, now
            )
        if len(line) > MAX_LINE_BYTES + 1:
            note = f"{kind} not sent: {len(line)} bytes is over the {MAX_LINE_BYTES}-byte limit"
            return self._line("log", {"level": "warning", "message": note}, now)
        return line

    def _connect(self) -> bool:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(_SEND_TIMEOUT)
            sock.connect(self._path)
            hello = {"token": self._token}
            sock.sendall(self._line("hello", hello, time.time()))
        except OSError:
            sock.close()
            with self._cond:
                self._reachable = False
            return False
        self._sock = sock
        with self._cond:
            self._reachable = True
        reader = threading.Thread(
            target=self._read, args=(sock,), name="jobdeck-worker-reader", daemon=True
        )
        reader.start()
        return True

    def _disconnect(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    # -- the reader thread (one per connection) -------------------------------------

    def _read(self, sock: socket.socket) -> None:
        pending = b""
        while True:
            try:
                data = sock.recv(65536)
            except TimeoutError:  # the socket's timeout is for sending; reading just waits
                continue
            except OSError:
                data = b""
            if not data:
                break
            pending += data
            *lines, pending = pending.split(b"\n")
            if len(pending) > MAX_LINE_BYTES:
                pending = b""
            for line in lines:
                self._received(line)
        with self._cond:  # the app went away: let the sender notice and reconnect now
            if self._sock is sock:
                self._queue.append(("heartbeat", {}))
                self._cond.notify_all()

    def _received(self, line: bytes) -> None:
        try:
            obj = json.loads(line)
        except ValueError:
            return
        if isinstance(obj, dict) and obj.get("type") == "cancel":
            reason = obj.get("reason")
            self._owner._cancel(reason if isinstance(reason, str) else None)


# ---------------------------------------------------------------------------------------
# What the job's code sees
# ---------------------------------------------------------------------------------------


class RunningJob:
    """The running job, as its code sees it: parameters, progress, logs, cancellation.

    Create one with :meth:`from_environment` (``run_job`` does). Every method is safe to
    call from any thread; only :meth:`log` can wait (see the module docstring).
    """

    def __init__(
        self,
        data: dict[str, Any] | None = None,
        channel: _Channel | None = None,
        stderr: TextIO | None = None,
    ) -> None:
        self.data: dict[str, Any] = data if data is not None else {}
        self.cancel_reason: str | None = None
        #: The latest progress, as :meth:`progress` stored it (read by the sender thread).
        self._latest: _Progress | None = None
        #: True while nothing would notice new progress: the next call must wake someone.
        #: Without a channel it stays True, so every call goes to the stderr printer.
        self._sender_asleep = True
        self._channel = channel
        self._stderr = stderr
        self._cancelled = threading.Event()
        self._last_printed = -math.inf
        self._unprinted: str | None = None

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> RunningJob:
        """A job configured from ``JOBDECK_*`` variables (``os.environ`` by default)."""
        env = os.environ if environ is None else environ
        data = _job_data(env)
        path, job_id, token = env.get(ENV_CHANNEL), env.get(ENV_JOB_ID), env.get(ENV_TOKEN)
        if not path:
            return cls(data, stderr=sys.stderr)
        if not job_id or not token:
            missing = ENV_JOB_ID if not job_id else ENV_TOKEN
            print(
                f"jobdeck: {ENV_CHANNEL} is set but {missing} is not; progress is printed instead",
                file=sys.stderr,
            )
            return cls(data, stderr=sys.stderr)
        job = cls(data)
        job._channel = _Channel(job, path, job_id, token, _heartbeat_interval(env))
        atexit.register(job.close)  # the final state goes out even if nobody calls close()
        return job

    # -- cancellation ---------------------------------------------------------------

    @property
    def cancelled(self) -> bool:
        """True once Jobdeck has asked the job to stop (see :attr:`cancel_reason`)."""
        return self._cancelled.is_set()

    def wait_cancelled(self, timeout: float | None = None) -> bool:
        """Block up to ``timeout`` seconds for a cancel request; True if one came."""
        return self._cancelled.wait(timeout)

    def checkpoint(self) -> None:
        """Raise :class:`JobCancelled` if the job was asked to stop."""
        if self._cancelled.is_set():
            raise JobCancelled(self.cancel_reason or "cancelled")

    def _cancel(self, reason: str | None) -> None:
        self.cancel_reason = reason
        self._cancelled.set()

    # -- reporting ------------------------------------------------------------------

    def progress(
        self,
        percent: float | None = None,
        *,
        current: float | None = None,
        total: float | None = None,
        message: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Report how far the job is: ``percent`` (0-100) or ``current`` of ``total``.

        ``total`` 0 or None means unknown; ``current`` above ``total`` and ``percent``
        above 100 are clamped. ``data`` is any JSON object the job likes (sent as it is
        when the message goes out). Only the latest call within 1/20 s is sent. Raises
        TypeError or ValueError, naming the argument, for anything else.
        """
        # The hot path: an int or float in range passes a type test and two comparisons
        # (NaN fails them), anything else is checked in full. Clamping and building the
        # message happen on the sender thread.
        if percent is None:
            if current is None:
                raise ValueError("progress needs percent or current (with an optional total)")
            kind = type(current)
            if (kind is not int and kind is not float) or not 0 <= current <= _FAST_MAX:
                current = _number("current", current)
            if total is not None:
                kind = type(total)
                if (kind is not int and kind is not float) or not 0 <= total <= _FAST_MAX:
                    total = _number("total", total)
        elif current is not None or total is not None:
            raise ValueError("give either percent or current/total, not both")
        else:
            kind = type(percent)
            if (kind is not int and kind is not float) or not 0 <= percent <= _FAST_MAX:
                percent = _number("percent", percent)
        if message is not None and type(message) is not str:
            if not isinstance(message, str):
                raise TypeError(f"message must be a string, got {message!r}")
            message = str(message)
        if data is not None and not isinstance(data, dict):
            raise TypeError(f"data must be a dict, got {type(data).__name__}")
        self._latest = (percent, current, total, message, data)
        if self._sender_asleep:
            self._new_progress()

    def _new_progress(self) -> None:
        """Progress while nobody watches ``_latest``: wake the sender, or print."""
        channel = self._channel
        if channel is not None:
            channel.wake()
        elif self._stderr is not None and self._latest is not None:
            self._print_progress(_progress_fields(self._latest))

    def log(self, message: str, level: str = "info") -> None:
        """Add ``message`` to the job's log at ``level`` (debug, info, warning, error)."""
        if level not in LOG_LEVELS:
            raise ValueError(f"level must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
        message = str(message)
        if self._channel is not None:
            self._channel.send("log", {"level": level, "message": message})
        elif self._stderr is not None:
            self._print(f"{level}: {message}")

    def debug(self, message: str) -> None:
        self.log(message, "debug")

    def info(self, message: str) -> None:
        self.log(message, "info")

    def warn(self, message: str) -> None:
        self.log(message, "warning")

    warning = warn

    def error(self, message: str) -> None:
        self.log(message, "error")

    def heartbeat(self) -> None:
        """Say "still alive" now (they are also sent automatically)."""
        if self._channel is not None:
            self._channel.send("heartbeat", {})

    # -- used by run_job -------------------------------------------------------------

    def started(self) -> None:
        if self._channel is not None:
            self._channel.send("started", {})

    def completed(self, result: Any = None) -> None:
        fields: dict[str, Any] = {}
        if result is not None:
            try:
                json.dumps(result, allow_nan=False)
                fields["result"] = result
            except (TypeError, ValueError, RecursionError) as exc:
                self.warn(f"the job's result was not sent: it is not JSON ({exc})")
        if self._channel is not None:
            self._channel.send("completed", fields)
        elif self._stderr is not None:
            self._flush_printed_progress()

    def failed(self, error: str, stack: str | None = None) -> None:
        if self._channel is not None:
            fields: dict[str, Any] = {"error": error}
            if stack:
                fields["stack"] = stack[-MAX_STACK_CHARS:]
            self._channel.send("failed", fields)
        elif self._stderr is not None:
            self._flush_printed_progress()
            self._print(stack.rstrip() if stack else f"error: {error}")

    def close(self, timeout: float = FLUSH_TIMEOUT) -> bool:
        """Send what is pending, the latest progress included (waiting up to ``timeout``
        s), and disconnect. Returns False if something could not be sent in time."""
        channel = self._channel
        if channel is None:
            return True
        delivered = channel.flush(timeout)
        self._channel = None
        self._sender_asleep = False  # progress after close() goes nowhere
        channel.close()
        atexit.unregister(self.close)
        return delivered

    # -- outside Jobdeck -------------------------------------------------------------

    def _print_progress(self, fields: dict[str, Any]) -> None:
        if "percent" in fields:
            text = f"[{fields['percent']:3.0f}%]"
        elif fields["total"] > 0:
            text = f"[{fields['current']:g}/{fields['total']:g}]"
        else:
            text = f"[{fields['current']:g}]"
        if fields.get("message"):
            text += f" {fields['message']}"
        now = time.monotonic()
        if now - self._last_printed >= _STDERR_PROGRESS_INTERVAL:
            self._last_printed = now
            self._unprinted = None
            self._print(text)
        else:
            self._unprinted = text

    def _flush_printed_progress(self) -> None:
        if self._unprinted is not None:
            self._print(self._unprinted)
            self._unprinted = None

    def _print(self, text: str) -> None:
        assert self._stderr is not None
        with contextlib.suppress(OSError, ValueError):
            print(text, file=self._stderr, flush=True)


if TYPE_CHECKING:
    Job = RunningJob  # the old name (deprecated)
else:

    def __getattr__(name: str) -> Any:
        if name == "Job":
            warnings.warn(
                "jobdeck.worker.Job was renamed RunningJob; the old name will go away",
                PendingDeprecationWarning,
                stacklevel=2,
            )
            return RunningJob
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _job_data(env: Any) -> dict[str, Any]:
    raw = env.get(ENV_JOB_DATA)
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"{ENV_JOB_DATA} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{ENV_JOB_DATA} must be a JSON object, got {type(data).__name__}")
    return data


def _heartbeat_interval(env: Any) -> float:
    raw = env.get(ENV_HEARTBEAT_INTERVAL)
    if not raw:
        return DEFAULT_HEARTBEAT_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value <= 0:
        print(
            f"jobdeck: ignoring {ENV_HEARTBEAT_INTERVAL}={raw!r}, not a positive number of "
            f"seconds; using {DEFAULT_HEARTBEAT_INTERVAL:g}",
            file=sys.stderr,
        )
        return DEFAULT_HEARTBEAT_INTERVAL
    return value


def run_job(fn: Callable[[RunningJob], Any]) -> None:
    """Run ``fn(job)`` as a Jobdeck job and exit: status 0 on success, 1 on failure.

    Sends ``started``; then ``completed`` with ``fn``'s return value as the result (it must
    be JSON, else it is left out with a warning), or ``failed`` with the exception and its
    traceback. ``sys.exit(0)`` inside ``fn`` counts as success, other exit codes as failure.
    """
    sys.exit(run_and_report(fn))


def run_and_report(fn: Callable[[RunningJob], Any], job: RunningJob | None = None) -> int:
    """Like :func:`run_job` but return the exit status instead of exiting."""
    if job is None:
        try:
            job = RunningJob.from_environment()
        except ValueError as exc:
            print(f"jobdeck: {exc}", file=sys.stderr)
            return 1
    job.started()
    status = 0
    try:
        result = fn(job)
    except SystemExit as exc:
        code = exc.code
        if code in (None, 0):
            job.completed()
        else:
            status = code if isinstance(code, int) and 0 < code < 256 else 1
            job.failed(f"exited with {code!r}")
    except BaseException as exc:
        status = 1
        stack = "".join(traceback.format_exception(exc))
        text = str(exc)
        job.failed(f"{type(exc).__name__}: {text}" if text else type(exc).__name__, stack)
    else:
        job.completed(result)
    job.close()
    return status
