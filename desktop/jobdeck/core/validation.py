"""Checks for values that go into the store, and the caps on what is stored per job.

Bad input is refused where it enters, with a ValueError that names the field. Text that is
valid Python but cannot be stored as UTF-8 (lone surrogates, e.g. the ``surrogateescape``
form of a non-UTF-8 file name, ``'caf\\udce9.bin'``) is made storable instead of refused,
visibly: an escaped byte becomes ``\\xe9`` (``'caf\\\\xe9.bin'``), any other lone surrogate
``\\udXXX``. JSON data (params, metadata, result) keeps such text exactly: JSON escapes it.

**Caps** (so that one chatty or hostile job cannot fill the disk):

- any single stored string — title, progress message, log line, error message — is cut at
  :data:`MAX_TEXT` characters with a visible ``… (truncated)`` marker; a traceback at
  :data:`MAX_TRACEBACK` characters, keeping its head and its (more telling) tail;
- a job keeps at most :data:`MAX_LOG_LINES` log lines; the line after that says later lines
  were dropped (:data:`LOG_CAP_MARKER`) and the rest are not stored;
- params, metadata and a result may take at most :data:`MAX_JSON_BYTES` as JSON (refused
  with a ValueError naming the field when larger).
"""

from __future__ import annotations

import codecs
import math
from typing import TYPE_CHECKING, Any, TypeGuard

if TYPE_CHECKING:
    from numbers import Integral, Real

__all__ = [
    "LOG_CAP_MARKER",
    "MAX_JSON_BYTES",
    "MAX_LOG_LINES",
    "MAX_TEXT",
    "MAX_TIMEOUT_FACTOR",
    "MAX_TRACEBACK",
    "TRUNCATED",
    "check_duration",
    "check_int",
    "check_json",
    "check_progress_number",
    "check_timeout_factor",
    "check_timestamp",
    "is_integral",
    "is_real",
    "storable_text",
    "storable_traceback",
]


def is_real(value: object) -> TypeGuard[Real]:
    """``isinstance(value, numbers.Real)`` (bools too), without importing :mod:`numbers`
    (its classes: ~1.7M instructions of the app's start) for a plain int or float."""
    if type(value) in (int, float):
        return True
    import numbers

    return isinstance(value, numbers.Real)


def is_integral(value: object) -> TypeGuard[Integral]:
    """``isinstance(value, numbers.Integral)`` (bools too), the same way."""
    if type(value) is int:
        return True
    import numbers

    return isinstance(value, numbers.Integral)


MAX_TEXT = 16_384
MAX_TRACEBACK = 65_536
MAX_LOG_LINES = 10_000
MAX_JSON_BYTES = 1_048_576
TRUNCATED = "… (truncated)"
LOG_CAP_MARKER = (
    f"… later log lines were dropped: a job keeps at most {MAX_LOG_LINES:,} lines in the store"
)

#: SQLite stores integers in 64 bits.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
#: The last second of year 9999: later "times" are absurd (and overflow datetime).
MAX_TIMESTAMP = 253_402_300_799.0
#: Longest timeout accepted (a year).
MAX_DURATION = 366 * 86_400.0


# -- text --------------------------------------------------------------------------------------


def _visible_surrogates(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    out = []
    for ch in error.object[error.start : error.end]:
        cp = ord(ch)
        out.append(f"\\x{cp - 0xDC00:02x}" if 0xDC80 <= cp <= 0xDCFF else f"\\u{cp:04x}")
    return "".join(out), error.end


codecs.register_error("jobdeck.visible", _visible_surrogates)


def _utf8_safe(text: str) -> str:
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "jobdeck.visible").decode("utf-8")


def storable_text(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` as it can be stored: lone surrogates escaped visibly, at most ``limit``
    characters (cut with :data:`TRUNCATED` at the end)."""
    text = _utf8_safe(text)
    if len(text) > limit:
        text = text[: limit - len(TRUNCATED)] + TRUNCATED
    return text


def storable_traceback(text: str | None) -> str | None:
    """A traceback as it can be stored: its head and tail when longer than the cap."""
    if text is None:
        return None
    text = _utf8_safe(text)
    if len(text) <= MAX_TRACEBACK:
        return text
    marker = f"\n{TRUNCATED}\n"
    head = (MAX_TRACEBACK - len(marker)) // 4
    tail = MAX_TRACEBACK - len(marker) - head
    return text[:head] + marker + text[-tail:]


# -- JSON --------------------------------------------------------------------------------------


class _Walk:
    """One pass over a JSON candidate: the first thing JSON cannot hold faithfully, and an
    upper bound of its size as JSON (so that most values need not be serialized to be
    measured)."""

    __slots__ = ("bad", "seen", "size")

    def __init__(self) -> None:
        self.bad: tuple[str, Any, str] | None = None
        self.seen: set[int] = set()
        self.size = 0

    def visit(self, value: Any, path: str) -> bool:
        """False once something bad was found (recorded in ``bad``)."""
        if value is None or isinstance(value, bool):
            self.size += 5
            return True
        if isinstance(value, str):
            self.size += 6 * len(value) + 2  # every character escaped, at worst
            return True
        if isinstance(value, int):
            self.size += 21 if -(10**19) < value < 10**19 else len(str(value))
            return True
        if isinstance(value, float):
            self.size += 24
            if math.isfinite(value):
                return True
            self.bad = (path, value, "")
            return False
        if not isinstance(value, dict | list | tuple):
            self.bad = (path, value, "")
            return False
        if id(value) in self.seen:
            self.bad = (path, value, "contains itself (a circular reference)")
            return False
        self.seen.add(id(value))
        self.size += 2
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    self.bad = (f"{path}[{key!r}]", key, "keys must be strings")
                    return False
                self.size += 6 * len(key) + 4
                if not self.visit(item, f"{path}.{key}" if path else key):
                    return False
        else:
            for i, item in enumerate(value):
                self.size += 1
                if not self.visit(item, f"{path}[{i}]"):
                    return False
        self.seen.discard(id(value))
        return True


def check_json(value: Any, name: str, max_bytes: int = MAX_JSON_BYTES) -> None:
    """Raise ValueError naming the place (e.g. ``metadata.when``) that JSON cannot hold
    faithfully — a value of another type, NaN or infinity, a non-string key (JSON would turn
    ``1`` into ``"1"``), a circular reference — or when the whole takes more than
    ``max_bytes`` as JSON."""
    walk = _Walk()
    try:
        walk.visit(value, "")
    except RecursionError:
        raise ValueError(f"{name} is nested too deeply to be stored") from None
    if walk.bad is not None:
        inner, what, why = walk.bad
        where = f"{name}{inner}" if inner.startswith("[") else f"{name}.{inner}" if inner else name
        if why:
            raise ValueError(f"{where}: {why}")
        raise ValueError(f"{where} is not JSON-serializable: {type(what).__name__} {_short(what)}")
    if walk.size <= max_bytes:
        return
    import json  # (a large value only: imported here, not by the first window)

    try:
        size = len(json.dumps(value, separators=(",", ":"), allow_nan=False))
    except RecursionError:
        raise ValueError(f"{name} is nested too deeply to be stored") from None
    if size > max_bytes:
        raise ValueError(
            f"{name} is too large to store: {size:,} bytes as JSON, at most {max_bytes:,}"
        )


def _short(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # a hostile __repr__
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."


# -- numbers -----------------------------------------------------------------------------------


def check_progress_number(name: str, value: Any) -> float:
    """A finite, non-negative real number below 2**63, or ValueError naming ``name``."""
    if isinstance(value, bool) or not is_real(value):
        raise ValueError(f"progress {name} must be a number, got {type(value).__name__} {value!r}")
    if isinstance(value, int):  # exact, even beyond the range of a float
        number: int | float = int(value)
    else:
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"progress {name} must be a finite number >= 0, got {value!r}")
    if number < 0:
        raise ValueError(f"progress {name} must be a finite number >= 0, got {value!r}")
    if number > INT64_MAX:
        raise ValueError(f"progress {name} must be below 2**63, got {_short(value)}")
    return value if isinstance(value, int | float) else number


def _bounds(low: int, high: int) -> str:
    lo = "-2**63" if low == INT64_MIN else f"{low:,}"
    hi = "2**63 - 1" if high == INT64_MAX else f"{high:,}"
    return f"from {lo} to {hi}"


def check_int(name: str, value: Any, low: int = INT64_MIN, high: int = INT64_MAX) -> int:
    """An int (not a bool) with ``low <= value <= high``, or ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {type(value).__name__} {_short(value)}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be an integer {_bounds(low, high)}, got {_short(value)}")
    return int(value)


def check_timestamp(name: str, value: Any) -> float:
    """Epoch seconds that are a real moment: finite, from 1970 to the end of year 9999."""
    if isinstance(value, bool) or not is_real(value):
        raise ValueError(
            f"{name} must be a datetime or epoch seconds, got {type(value).__name__} "
            f"{_short(value)}"
        )
    try:
        seconds = float(value)
    except OverflowError:
        seconds = math.inf
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_TIMESTAMP:
        raise ValueError(
            f"{name} must be a time between 1970 and the year 9999, got {_short(value)}"
        )
    return seconds


def check_duration(name: str, value: Any, high: float = MAX_DURATION) -> float:
    """A positive, finite number of seconds up to ``high``, or ValueError naming ``name``."""
    if isinstance(value, bool) or not is_real(value):
        raise ValueError(
            f"{name} must be a positive number of seconds, got {type(value).__name__} "
            f"{_short(value)}"
        )
    try:
        seconds = float(value)
    except OverflowError:
        seconds = math.inf
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{name} must be a positive, finite number of seconds, got {value!r}")
    if seconds > high:
        raise ValueError(f"{name} must be at most {high:,.0f} seconds (a year), got {value!r}")
    return seconds


#: The largest "fail after N x the usual duration" accepted.
MAX_TIMEOUT_FACTOR = 1000.0


def check_timeout_factor(name: str, value: Any) -> float:
    """A relative timeout ("fail after N x the usual duration"): a number from 1 to
    :data:`MAX_TIMEOUT_FACTOR`, or ValueError naming ``name``."""
    if isinstance(value, bool) or not is_real(value):
        raise ValueError(
            f"{name} must be a number (fail after that many times the usual duration), got "
            f"{type(value).__name__} {_short(value)}"
        )
    factor = float(value)
    if not (math.isfinite(factor) and 1.0 <= factor <= MAX_TIMEOUT_FACTOR):
        raise ValueError(
            f"{name} must be from 1 to {MAX_TIMEOUT_FACTOR:g} (times the usual duration), "
            f"got {value!r}"
        )
    return factor
