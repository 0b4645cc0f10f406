"""The channel protocol: newline-delimited JSON between a process job and Jobdeck.

A process that Jobdeck starts finds three environment variables:

===================  ===================================================
variable             meaning
===================  ===================================================
``JOBDECK_CHANNEL``  path of the local socket to connect to
``JOBDECK_JOB_ID``   the id of its job
``JOBDECK_TOKEN``    a secret proving the connection comes from that job
===================  ===================================================

It connects, sends ``hello`` first, then reports with the messages below. Each message is
one JSON object, UTF-8, on one line ending in ``\\n``; a line may be at most
:data:`MAX_LINE_BYTES` bytes (not counting its line break). Keys are camelCase.

Every message carries:

=============  ================  =====================================================
key            type              meaning
=============  ================  =====================================================
``type``       string            one of the types below
``jobId``      non-empty string  the job the message is about (``JOBDECK_JOB_ID``)
``timestamp``  number >= 0       when it was sent, epoch seconds
=============  ================  =====================================================

Message types and their own fields (``?`` marks an optional field, which may also be null):

=============  ==========  ==================================================================
type           direction   fields
=============  ==========  ==================================================================
``hello``      job -> app  ``token``: non-empty string, the value of ``JOBDECK_TOKEN``. Must
                           be the first message on a connection.
``started``    job -> app  (none) -- the work has begun.
``progress``   job -> app  either ``percent``: number 0-100 (read as current=percent,
                           total=100), or ``current``: number >= 0 with ``total?``: number
                           >= 0 (0 or absent = unknown); a current above a total > 0 is
                           read as the total (rounding and off-by-one are forgiven);
                           ``message?``: string; ``data?``: object (anything the job likes).
``heartbeat``  job -> app  (none) -- still alive.
``log``        job -> app  ``level``: one of ``debug``, ``info``, ``warning``, ``error``;
                           ``message``: string.
``completed``  job -> app  ``result?``: any JSON value.
``failed``     job -> app  ``error``: string, what went wrong; ``stack?``: string, a traceback.
``cancel``     app -> job  ``reason?``: string. The job should stop soon and report
                           ``failed`` or just exit; Jobdeck kills it after a grace period.
=============  ==========  ==================================================================

Numbers must be finite (no NaN or Infinity) and booleans are not numbers. Keys that are not
listed are ignored, so newer senders can add fields. Example::

    {"type":"progress","jobId":"01J...","timestamp":1718000000.5,"current":12,"total":100}

:func:`parse_message` turns one line into a message object and :func:`encode_message` does
the reverse; :class:`LineBuffer` frames a byte stream into lines. Everything invalid raises
:class:`ProtocolError` whose text says exactly what is wrong. Stdlib only, no Qt.

Longer than most modules, as the protocol's one reference: its tables are the documentation,
and :mod:`jobdeck.worker` mirrors its constants (a test compares them).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn

__all__ = [
    "ENV_CHANNEL",
    "ENV_JOB_ID",
    "ENV_TOKEN",
    "LOG_LEVELS",
    "MAX_LINE_BYTES",
    "MESSAGE_TYPES",
    "CancelMsg",
    "CompletedMsg",
    "FailedMsg",
    "Heartbeat",
    "Hello",
    "LineBuffer",
    "LogMsg",
    "Message",
    "ProgressMsg",
    "ProtocolError",
    "Started",
    "encode_message",
    "parse_message",
]

ENV_CHANNEL = "JOBDECK_CHANNEL"
ENV_JOB_ID = "JOBDECK_JOB_ID"
ENV_TOKEN = "JOBDECK_TOKEN"

#: The longest line accepted, in bytes, not counting the line break.
MAX_LINE_BYTES = 1024 * 1024

LOG_LEVELS = ("debug", "info", "warning", "error")


class ProtocolError(ValueError):
    """A channel message (or line) is not valid; the text says what is wrong with it."""


# ---------------------------------------------------------------------------------------
# Field checks. `where` is "<type>.<key>", e.g. "progress.percent", so errors name the field.
# ---------------------------------------------------------------------------------------


def _show(value: Any) -> str:
    """A short rendering of a bad value for an error message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fail(message: str) -> NoReturn:
    raise ProtocolError(message)


def _number(where: str, value: Any, *, high: float | None = None) -> float:
    """``value`` as a finite float in ``[0, high]``; booleans are refused."""
    expected = "a non-negative number" if high is None else f"a number between 0 and {high:g}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        _fail(f"{where} must be {expected}, got {_show(value)}")
    try:
        number = float(value)
    except OverflowError:
        _fail(f"{where} must be {expected}, got an integer too large for a float")
    if not math.isfinite(number) or number < 0 or (high is not None and number > high):
        _fail(f"{where} must be {expected}, got {_show(value)}")
    return number


def _string(where: str, value: Any, *, non_empty: bool = False) -> str:
    if not isinstance(value, str):
        _fail(f"{where} must be a string, got {_show(value)}")
    if non_empty and not value:
        _fail(f"{where} must not be empty")
    return value


def _optional_string(where: str, value: Any) -> str | None:
    return None if value is None else _string(where, value)


def _optional_object(where: str, value: Any) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        _fail(f"{where} must be a JSON object, got {_show(value)}")
    return value


def _check_common(kind: str, job_id: Any, timestamp: Any) -> None:
    _string(f"{kind}.jobId", job_id, non_empty=True)
    _number(f"{kind}.timestamp", timestamp)


# ---------------------------------------------------------------------------------------
# Messages. Constructing one checks its fields, so an invalid message cannot exist.
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    """job -> app, first on a connection: which job this is and the token that proves it."""

    TYPE: ClassVar[str] = "hello"
    job_id: str
    token: str
    timestamp: float

    def __post_init__(self) -> None:
        _check_common(self.TYPE, self.job_id, self.timestamp)
        _string("hello.token", self.token, non_empty=True)


@dataclass(frozen=True, slots=True)
class Started:
    """job -> app: the work has begun."""

    TYPE: ClassVar[str] = "started"
    job_id: str
    timestamp: float

    def __post_init__(self) -> None:
        _check_common(self.TYPE, self.job_id, self.timestamp)


@dataclass(frozen=True, slots=True)
class ProgressMsg:
    """job -> app: how far the job has got. ``total == 0`` means unknown; a ``percent`` on
    the wire arrives here as ``current=percent, total=100``."""

    TYPE: ClassVar[str] = "progress"
    job_id: str
    timestamp: float
    current: float
    total: float = 0.0
    message: str | None = None
    data: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        _check_common(self.TYPE, self.job_id, self.timestamp)
        current = _number("progress.current", self.current)
        total = _number("progress.total", self.total)
        if total > 0 and current > total:
            _fail(
                f"progress.current must not exceed progress.total, "
                f"got current={self.current!r} and total={self.total!r}"
            )
        _optional_string("progress.message", self.message)
        _optional_object("progress.data", self.data)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """job -> app: still alive (a job that stops sending these is considered stuck)."""

    TYPE: ClassVar[str] = "heartbeat"
    job_id: str
    timestamp: float

    def __post_init__(self) -> None:
        _check_common(self.TYPE, self.job_id, self.timestamp)


@dataclass(frozen=True, slots=True)
class LogMsg:
    """job -> app: one line for the job's log, at ``level`` (one of :data:`LOG_LEVELS`)."""

    TYPE: ClassVar[str] = "log"
    job_id: str
    timestamp: float
    level: str
    message: str

    def __post_init__(self) -> None:
        _check_common(self.TYPE, self.job_id, self.timestamp)
        if self.level not in LOG_LEVELS:
            _fail(f"log.level must be one of {', '.join(LOG_LEVELS)}, got {_show(self.level)}")
        _string("log.message", self.message)


@dataclass(frozen=True, slots=True)
class CompletedMsg:
    """job -> app: the work finished; ``result`` is any JSON value (or None)."""

    TYPE: ClassVar[str] = "completed"
    job_id: str
    timestamp: float
    result: Any = None

    def __post_init__(self) -> None:
        _check_common(self.TYPE, self.job_id, self.timestamp)


@dataclass(frozen=True, slots=True)
class FailedMsg:
    """job -> app: the work failed with ``error``; ``stack`` is an optional traceback."""

    TYPE: ClassVar[str] = "failed"
    job_id: str
    timestamp: float
    error: str
    stack: str | None = None

    def __post_init__(self) -> None:
        _check_common(self.TYPE, self.job_id, self.timestamp)
        _string("failed.error", self.error)
        _optional_string("failed.stack", self.stack)


@dataclass(frozen=True, slots=True)
class CancelMsg:
    """app -> job: please stop; ``reason`` says why (optional)."""

    TYPE: ClassVar[str] = "cancel"
    job_id: str
    timestamp: float
    reason: str | None = None

    def __post_init__(self) -> None:
        _check_common(self.TYPE, self.job_id, self.timestamp)
        _optional_string("cancel.reason", self.reason)


Message = Hello | Started | ProgressMsg | Heartbeat | LogMsg | CompletedMsg | FailedMsg | CancelMsg

_MESSAGE_CLASSES = (
    Hello,
    Started,
    ProgressMsg,
    Heartbeat,
    LogMsg,
    CompletedMsg,
    FailedMsg,
    CancelMsg,
)


# ---------------------------------------------------------------------------------------
# Wire format -> message
# ---------------------------------------------------------------------------------------


def _required(kind: str, obj: dict[str, Any], key: str) -> Any:
    if key not in obj:
        _fail(f"{kind}.{key} is required but missing")
    return obj[key]


def _progress_from(job_id: str, timestamp: float, obj: dict[str, Any]) -> ProgressMsg:
    percent = obj.get("percent")
    current: Any = obj.get("current")
    total: Any = obj.get("total")
    if percent is not None:
        if current is not None or total is not None:
            _fail("progress must give either percent or current/total, not both")
        current = _number("progress.percent", percent, high=100.0)
        total = 100.0
    elif current is None:
        _fail("progress needs either percent (0-100) or current (with an optional total)")
    current = _number("progress.current", current)
    total = 0.0 if total is None else _number("progress.total", total)
    if total > 0 and current > total:  # e.g. 100.00000001 of 100: clamp rather than drop
        current = total
    return ProgressMsg(job_id, timestamp, current, total, obj.get("message"), obj.get("data"))


_Builder = Callable[[str, float, dict[str, Any]], Message]

_BUILDERS: dict[str, _Builder] = {
    "hello": lambda j, t, o: Hello(j, _required("hello", o, "token"), t),
    "started": lambda j, t, o: Started(j, t),
    "progress": _progress_from,
    "heartbeat": lambda j, t, o: Heartbeat(j, t),
    "log": lambda j, t, o: LogMsg(
        j, t, _required("log", o, "level"), _required("log", o, "message")
    ),
    "completed": lambda j, t, o: CompletedMsg(j, t, o.get("result")),
    "failed": lambda j, t, o: FailedMsg(j, t, _required("failed", o, "error"), o.get("stack")),
    "cancel": lambda j, t, o: CancelMsg(j, t, o.get("reason")),
}

#: Every message type, in the order of the schema table.
MESSAGE_TYPES = tuple(_BUILDERS)


def _refuse_constant(name: str) -> NoReturn:
    _fail(f"message contains {name}, which is not a valid JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        _fail(f"message contains the number {text[:40]}, which is too large to represent")
    return value


def parse_message(line: bytes | str) -> Message:
    """Parse one line of the channel (a trailing line break is allowed) into a message.

    Raises :class:`ProtocolError`, and nothing else, for any invalid input: a line over
    :data:`MAX_LINE_BYTES`, bytes that are not UTF-8, text that is not JSON or not an
    object, an unknown ``type``, missing or wrongly typed fields, non-finite numbers, or a
    boolean where a number belongs.
    """
    if isinstance(line, str):
        text = line
        body = _body_length(line)
        # Cheap bound first: a str of n characters encodes to at most 4n bytes.
        size = body if body * 4 <= MAX_LINE_BYTES else _utf8_size(line[:body])
    elif isinstance(line, bytes | bytearray | memoryview):
        raw = bytes(line)
        size = _body_length(raw)
    else:
        _fail(f"a message line must be bytes or str, got {type(line).__name__}")
    if size > MAX_LINE_BYTES:
        _fail(f"message line is {size} bytes, more than the limit of {MAX_LINE_BYTES}")
    if not isinstance(line, str):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            _fail(f"message is not valid UTF-8 (bad byte at position {exc.start})")
    if not text.strip():
        _fail("message line is empty")
    try:
        obj = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except ProtocolError:
        raise
    except RecursionError:
        _fail("message is nested too deeply to parse")
    except json.JSONDecodeError as exc:
        _fail(f"message is not valid JSON: {exc}")
    except ValueError:  # int() refuses literals longer than sys.get_int_max_str_digits()
        _fail("message contains an integer with too many digits")
    if not isinstance(obj, dict):
        _fail(f"message must be a JSON object, got {_json_kind(obj)}")
    return _message_from(obj)


def _body_length(line: bytes | str) -> int:
    """The length of ``line`` without a trailing ``\\n`` or ``\\r\\n``."""
    newline, carriage_return = ("\n", "\r") if isinstance(line, str) else (b"\n", b"\r")
    length = len(line)
    if line[length - 1 : length] == newline:
        length -= 1
        if line[length - 1 : length] == carriage_return:
            length -= 1
    return length


def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8", errors="surrogatepass"))


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array"


def _message_from(obj: dict[str, Any]) -> Message:
    if "type" not in obj:
        _fail("message has no 'type'")
    kind = obj["type"]
    if not isinstance(kind, str):
        _fail(f"message 'type' must be a string, got {_show(kind)}")
    builder = _BUILDERS.get(kind)
    if builder is None:
        _fail(f"unknown message type {_show(kind)}; expected one of {', '.join(MESSAGE_TYPES)}")
    job_id = _string(f"{kind}.jobId", _required(kind, obj, "jobId"), non_empty=True)
    timestamp = _number(f"{kind}.timestamp", _required(kind, obj, "timestamp"))
    return builder(job_id, timestamp, obj)


# ---------------------------------------------------------------------------------------
# Message -> wire format
# ---------------------------------------------------------------------------------------


def _fields(msg: Message) -> dict[str, Any]:
    """The type-specific keys of ``msg``, optional ones left out when None."""
    match msg:
        case Hello():
            return {"token": msg.token}
        case ProgressMsg():
            fields: dict[str, Any] = {"current": msg.current, "total": msg.total}
            if msg.message is not None:
                fields["message"] = msg.message
            if msg.data is not None:
                fields["data"] = msg.data
            return fields
        case LogMsg():
            return {"level": msg.level, "message": msg.message}
        case CompletedMsg():
            return {} if msg.result is None else {"result": msg.result}
        case FailedMsg():
            fields = {"error": msg.error}
            if msg.stack is not None:
                fields["stack"] = msg.stack
            return fields
        case CancelMsg():
            return {} if msg.reason is None else {"reason": msg.reason}
        case Started() | Heartbeat():
            return {}
    raise AssertionError(f"unhandled message class {type(msg).__name__}")


def encode_message(msg: Message) -> bytes:
    """``msg`` as one compact JSON line, UTF-8, ending in ``b"\\n"``.

    Raises :class:`ProtocolError` when ``msg`` is not a message, when its ``result`` or
    ``data`` is not JSON (a set, NaN, a cycle, ...) or when the line would be longer than
    :data:`MAX_LINE_BYTES`.
    """
    if not isinstance(msg, _MESSAGE_CLASSES):
        _fail(f"cannot encode {type(msg).__name__}: not a channel message")
    obj = {"type": msg.TYPE, "jobId": msg.job_id, "timestamp": msg.timestamp}
    obj.update(_fields(msg))
    try:
        text = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError) as exc:
        _fail(f"{msg.TYPE} message is not JSON-serialisable: {exc}")
    try:
        line = text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: \u-escapes keep the line valid UTF-8
        line = json.dumps(obj, allow_nan=False, separators=(",", ":")).encode("ascii")
    if len(line) > MAX_LINE_BYTES:
        _fail(f"{msg.TYPE} message is {len(line)} bytes, more than the limit of {MAX_LINE_BYTES}")
    return line + b"\n"


# ---------------------------------------------------------------------------------------
# Stream framing
# ---------------------------------------------------------------------------------------


class LineBuffer:
    """Frames the bytes read from a channel socket into NDJSON lines.

    :meth:`feed` takes whatever ``recv`` returned and gives back, in order, each complete
    line (without its ``\\n`` or ``\\r\\n``) as bytes, or a :class:`ProtocolError` standing
    for a line longer than ``max_line_bytes``. Such a line yields exactly one error; the
    rest of it is dropped up to the next newline without being buffered, so a misbehaving
    peer cannot make the buffer grow past ``max_line_bytes``. Blank lines are skipped.

    Not thread-safe: feed it from the thread that reads the socket.
    """

    __slots__ = ("_discarding", "_max", "_pending")

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        if isinstance(max_line_bytes, bool) or not isinstance(max_line_bytes, int):
            raise ValueError(f"max_line_bytes must be a positive int, got {max_line_bytes!r}")
        if max_line_bytes < 1:
            raise ValueError(f"max_line_bytes must be a positive int, got {max_line_bytes!r}")
        self._max = max_line_bytes
        self._pending = bytearray()
        self._discarding = False

    @property
    def pending_bytes(self) -> int:
        """How many bytes of an unfinished line are buffered."""
        return len(self._pending)

    def feed(self, data: bytes) -> list[bytes | ProtocolError]:
        """Take the next chunk from the socket; return the lines (or errors) it completed."""
        out: list[bytes | ProtocolError] = []
        start = 0
        if self._discarding:
            newline = data.find(b"\n")
            if newline < 0:
                return out
            self._discarding = False
            start = newline + 1
        while (newline := data.find(b"\n", start)) >= 0:
            if self._pending:
                self._pending += data[start:newline]
                line = bytes(self._pending)
                self._pending.clear()
            else:
                line = data[start:newline]
            self._emit(line, out)
            start = newline + 1
        # The unfinished tail. One extra byte is allowed for the \r of a \r\n ending.
        if len(self._pending) + len(data) - start > self._max + 1:
            out.append(self._too_long())
            self._pending.clear()
            self._discarding = True
        else:
            self._pending += data[start:]
        return out

    def flush(self) -> list[bytes | ProtocolError]:
        """At end of stream: the last line if it had no newline, then reset."""
        out: list[bytes | ProtocolError] = []
        if self._pending and not self._discarding:
            self._emit(bytes(self._pending), out)
        self._pending.clear()
        self._discarding = False
        return out

    def _emit(self, line: bytes, out: list[bytes | ProtocolError]) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > self._max:
            out.append(self._too_long())
        elif line.strip():
            out.append(line)

    def _too_long(self) -> ProtocolError:
        return ProtocolError(
            f"line longer than {self._max} bytes; discarded up to the next newline"
        )
