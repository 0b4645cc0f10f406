"""Report progress to Jobdeck from a Python program that Jobdeck runs as a process job.

Standard library only: copy this one file next to your script if jobdeck is not installed.
Typical use::

    from jobdeck.worker import run_job

    def main(job):
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
never block and never raise because the app went away:

* :meth:`Job.progress` only records the latest values; at most :data:`PROGRESS_RATE`
  progress messages per second are sent (the latest wins), and the final state is always
  sent before ``completed`` or ``failed``. A tight loop pays no system call per call.
* heartbeats are sent every ``JOBDECK_HEARTBEAT_INTERVAL`` seconds (default 10);
* a ``cancel`` from the app sets :attr:`Job.cancelled`;
* when the app quits or restarts, the thread reconnects with backoff, keeping meanwhile the
  latest progress and the last :data:`MAX_BUFFERED_LOGS` log messages.

Outside Jobdeck (no ``JOBDECK_CHANNEL``) everything still works: log messages go to stderr
as ``warning: ...`` and progress as ``[ 42%] message`` lines, at most one a second.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["Job", "JobCancelled", "run_and_report", "run_job"]

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
"""Log messages waiting to be sent while connected (a job logging faster than a socket)."""
FLUSH_TIMEOUT = 5.0
"""Seconds :func:`run_job` waits, at the end, for the last messages to reach the app."""
MAX_STACK_CHARS = 64 * 1024
_RECONNECT_DELAYS = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
_STDERR_PROGRESS_INTERVAL = 1.0


class JobCancelled(Exception):
    """Raised by :meth:`Job.checkpoint` once Jobdeck has asked the job to stop."""


def _encode(obj: dict[str, Any]) -> bytes:
    """One NDJSON line, exactly as protocol.encode_message writes it."""
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    try:
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:  # lone surrogates
        return json.dumps(obj, allow_nan=False, separators=(",", ":")).encode("ascii") + b"\n"


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return number


# ---------------------------------------------------------------------------------------
# The connection: one daemon thread writes, one reads; the job's thread only records.
# ---------------------------------------------------------------------------------------


class _Channel:
    """Sends messages to Jobdeck from a background thread and receives ``cancel``."""

    def __init__(
        self,
        path: str,
        job_id: str,
        token: str,
        heartbeat_interval: float,
        on_cancel: Callable[[str | None], None],
    ) -> None:
        self._path = path
        self._job_id = job_id
        self._token = token
        self._heartbeat_interval = heartbeat_interval
        self._on_cancel = on_cancel
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[tuple[str, dict[str, Any]]] = deque()  # (type, fields), in order
        self._logs_queued = 0
        self._logs_dropped = 0
        self._progress: dict[str, Any] | None = None  # latest, not yet sent
        self._progress_noticed = False  # the sender has been woken for it
        self._last_progress_sent = -math.inf
        self._sock: socket.socket | None = None
        self._reachable = True  # until a connect or send fails: then logs are kept to 100
        self._closing = False
        self._idle = True  # nothing queued and nothing being sent
        self._thread = threading.Thread(target=self._run, name="jobdeck-worker", daemon=True)
        self._thread.start()

    # -- called from the job's threads ----------------------------------------------

    def send(self, kind: str, fields: dict[str, Any]) -> None:
        with self._cond:
            self._move_progress_to_queue()
            self._queue.append((kind, fields))
            if kind == "log":
                self._logs_queued += 1
                limit = MAX_QUEUED_LOGS if self._reachable else MAX_BUFFERED_LOGS
                if self._logs_queued > limit:
                    self._drop_oldest_log()
            self._idle = False
            self._cond.notify()

    def progress(self, fields: dict[str, Any]) -> None:
        with self._cond:
            self._progress = fields
            if not self._progress_noticed:  # one wake-up per sent message, not per call
                self._progress_noticed = True
                self._idle = False
                self._cond.notify()

    def flush(self, timeout: float) -> bool:
        """Wait until everything recorded so far was handed to the socket."""
        with self._cond:
            self._move_progress_to_queue()
            self._cond.notify()
            return self._cond.wait_for(lambda: self._idle, timeout)

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(1.0)
        self._disconnect()

    # -- helpers, called with the lock held --------------------------------------------

    def _move_progress_to_queue(self) -> None:
        if self._progress is not None:
            self._queue.append(("progress", self._progress))
            self._progress = None
            self._progress_noticed = False

    def _drop_oldest_log(self) -> None:
        for index, (kind, _) in enumerate(self._queue):
            if kind == "log":
                del self._queue[index]
                self._logs_queued -= 1
                self._logs_dropped += 1
                return

    def _take_batch(self, now: float) -> list[tuple[str, dict[str, Any]]]:
        batch = list(self._queue)
        self._queue.clear()
        self._logs_queued = 0
        if self._logs_dropped:
            batch.insert(
                0,
                (
                    "log",
                    {
                        "level": "warning",
                        "message": f"{self._logs_dropped} log messages "
                        "were dropped because they could not be sent in time",
                    },
                ),
            )
            self._logs_dropped = 0
        if self._progress is not None and now >= self._last_progress_sent + 1 / PROGRESS_RATE:
            batch.append(("progress", self._progress))
            self._progress = None
            self._progress_noticed = False
        if any(kind == "progress" for kind, _ in batch):
            self._last_progress_sent = now
        return batch

    def _put_back(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
        """Re-queue what could not be sent: only the latest progress, the newest logs."""
        progress = [fields for kind, fields in batch if kind == "progress"]
        kept = [(k, f) for k, f in batch if k not in ("progress", "heartbeat")]
        if progress and self._progress is None:
            self._progress = progress[-1]
            self._progress_noticed = True
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
                    ready = bool(self._queue) or (
                        self._progress is not None and now >= progress_due
                    )
                    if ready and now >= retry_at:
                        break
                    if not self._queue and self._progress is None:
                        self._idle = True
                        self._cond.notify_all()
                    wake = next_heartbeat
                    if self._queue or self._progress is not None:
                        wake = min(wake, max(retry_at, progress_due if not self._queue else now))
                    self._cond.wait(max(0.0, wake - now))
                batch = self._take_batch(now)
            if not batch:
                continue
            if self._deliver(batch):
                failures = 0
                retry_at = 0.0
            else:
                retry_at = (
                    time.monotonic() + _RECONNECT_DELAYS[min(failures, len(_RECONNECT_DELAYS) - 1)]
                )
                failures += 1
                with self._cond:
                    self._put_back(batch)

    def _deliver(self, batch: list[tuple[str, dict[str, Any]]]) -> bool:
        if self._sock is None and not self._connect():
            return False
        now = time.time()
        data = b"".join(self._line(kind, fields, now) for kind, fields in batch)
        try:
            assert self._sock is not None
            self._sock.sendall(data)
        except OSError:
            self._disconnect()
            self._reachable = False
            return False
        return True

    def _line(self, kind: str, fields: dict[str, Any], now: float) -> bytes:
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
            sock.settimeout(10.0)
            sock.connect(self._path)
            hello = {"token": self._token}
            sock.sendall(self._line("hello", hello, time.time()))
        except OSError:
            sock.close()
            self._reachable = False
            return False
        self._sock = sock
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
                self._idle = False
                self._cond.notify()

    def _received(self, line: bytes) -> None:
        try:
            obj = json.loads(line)
        except ValueError:
            return
        if isinstance(obj, dict) and obj.get("type") == "cancel":
            reason = obj.get("reason")
            self._on_cancel(reason if isinstance(reason, str) else None)


# ---------------------------------------------------------------------------------------
# What the job's code sees
# ---------------------------------------------------------------------------------------


class Job:
    """The running job, as its code sees it: parameters, progress, logs, cancellation.

    Create one with :meth:`from_environment` (``run_job`` does). Every method is safe to
    call from any thread and returns at once.
    """

    def __init__(
        self,
        data: dict[str, Any] | None = None,
        channel: _Channel | None = None,
        stderr: TextIO | None = None,
    ) -> None:
        self.data: dict[str, Any] = data if data is not None else {}
        self.cancel_reason: str | None = None
        self._channel = channel
        self._stderr = stderr
        self._cancelled = threading.Event()
        self._last_printed = -math.inf
        self._unprinted: str | None = None

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Job:
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
        job._channel = _Channel(path, job_id, token, _heartbeat_interval(env), job._cancel)
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

        ``total`` 0 or None means unknown; ``current`` above ``total`` is clamped. ``data``
        is any JSON object the job likes. Only the latest call within 1/20 s is sent.
        """
        if percent is not None:
            if current is not None or total is not None:
                raise ValueError("give either percent or current/total, not both")
            fields: dict[str, Any] = {"percent": min(_number("percent", percent), 100.0)}
        elif current is not None:
            value = _number("current", current)
            limit = 0.0 if total is None else _number("total", total)
            fields = {"current": min(value, limit) if limit > 0 else value, "total": limit}
        else:
            raise ValueError("progress needs percent or current (with an optional total)")
        if message is not None:
            if not isinstance(message, str):
                raise TypeError(f"message must be a string, got {message!r}")
            fields["message"] = message
        if data is not None:
            if not isinstance(data, dict):
                raise TypeError(f"data must be a dict, got {type(data).__name__}")
            fields["data"] = data
        if self._channel is not None:
            self._channel.progress(fields)
        elif self._stderr is not None:
            self._print_progress(fields)

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
        """Send what is pending (waiting up to ``timeout`` s) and disconnect.

        Returns False if something could not be sent in time.
        """
        if self._channel is None:
            return True
        delivered = self._channel.flush(timeout)
        self._channel.close()
        self._channel = None
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


def run_job(fn: Callable[[Job], Any]) -> None:
    """Run ``fn(job)`` as a Jobdeck job and exit: status 0 on success, 1 on failure.

    Sends ``started``; then ``completed`` with ``fn``'s return value as the result (it must
    be JSON, else it is left out with a warning), or ``failed`` with the exception and its
    traceback. ``sys.exit(0)`` inside ``fn`` counts as success, other exit codes as failure.
    """
    sys.exit(run_and_report(fn))


def run_and_report(fn: Callable[[Job], Any], job: Job | None = None) -> int:
    """Like :func:`run_job` but return the exit status instead of exiting."""
    if job is None:
        try:
            job = Job.from_environment()
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
