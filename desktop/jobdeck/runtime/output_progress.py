"""Progress read from a process's output, for jobs that have no structured channel.

Two pieces, both free of Qt:

* :class:`OutputSplitter` turns the raw byte chunks a process writes into text lines. It
  splits on ``\\n``, ``\\r\\n`` *and* a bare ``\\r`` (tqdm, wget and rsync redraw their bar
  with ``\\r``), decodes UTF-8 leniently, strips ANSI escape sequences and bounds memory by
  truncating over-long lines.
* :func:`parse_progress_line` recognises one line as progress, or returns None.

Recognised lines, in the order they are tried (the first that matches wins):

* **tqdm bar with a total** -- ``Downloading:  42%|████▏     | 42/100 [00:01<00:01, 41.9it/s]``
  gives 42 of 100 with message ``"Downloading"``. The ``n/total`` part is preferred over the
  rounded percentage, unit-scaled counts are expanded (``1.26k/2.00k`` -> 1260 of 2000; k, M,
  G, ...) and a bar whose right part was customised away falls back to its percentage.
* **tqdm without a total** -- ``Reading: 1.26kB [00:00, 34.9MB/s]`` gives 1260 of unknown (0).
* **rich bar, as pip draws it** -- ``━━━━━╸━━━━━ 1.2/3.4 MB 10.0 MB/s eta 0:00:01`` gives 1.2
  of 3.4.
* **rsync** (``--info=progress2`` or ``--progress``) -- ``1,234,567  42%   10.00MB/s
  0:00:05`` gives 42 of 100 with rsync's own rate and time left as the message,
  ``"10.00MB/s, 0:00:05 left"``. The line rsync writes when a file is done,
  ``5.37G  99%   88.39MB/s    0:00:58 (xfr#40, to-chk=0/45)``, shows the time so far, not
  the time left: its message is ``"88.39MB/s, 40 files transferred"``.
* **a percentage** -- ``42%``, ``Progress: 42.5 %``, cmake's ``[ 42%]``, wget's
  ``45%[=====>    ]``: current=percent, total=100.
* **a count** -- ``12/100``, ``[12/100]``, ``[  3/ 10]``, ``(12 of 100)``, ``[12 of 100]``.

Before these, the parsers of more programs (:mod:`.progress_parsers`: OSC 9;4, curl, wget,
pv, dd, ffmpeg) are tried; given a program's
:class:`~jobdeck.runtime.progress_parsers.ProgramOutput`, what its command line says too
(``pv -n``, dd's input size, ffmpeg's duration). The splitter keeps OSC 9;4 sequences.

Only tqdm lines (the bar's description) and rsync lines carry a ``message``; everything
else gives None.

Things that look numeric but are not progress are refused: dates (``2024/01/02``), times,
version strings (``1.2/3``), IP addresses and CIDR blocks, paths (``/v1/12/100``), numbers
with leading zeros (``01/02``), fractions whose current exceeds the total, percentages over
100 or with a sign (``-5%``), ``%`` that starts a format or URL escape (``%d``, ``%20``),
and plain numbers. ``N of M`` counts only inside parentheses or brackets.

Every regex is compiled once at import and a cheap substring test rules out most lines
before any regex runs, so a line that is not progress costs a few microseconds.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .progress_parsers import LINE_PARSERS, OSC_PROGRESS, ProgramOutput, Reading

__all__ = ["OutputSplitter", "ParsedProgress", "parse_progress_line"]


@dataclass(frozen=True, slots=True)
class ParsedProgress:
    """Progress read from one output line. ``total == 0`` means the total is unknown.

    A percentage becomes ``current=percent, total=100``. When ``total > 0``,
    ``0 <= current <= total`` always holds.
    """

    current: float
    total: float
    message: str | None = None


# ---------------------------------------------------------------------------------------
# Line recognition
# ---------------------------------------------------------------------------------------

#: Lines longer than this are only examined up to here: progress sits near the start.
_MAX_PARSE_CHARS = 4096

#: tqdm's unit-scale suffixes (format_sizeof). The ratio current/total does not depend on
#: whether tqdm divided by 1000 or 1024, so 1000 is used throughout.
_SCALE = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18, "Z": 1e21}

# A tqdm number: bounded digits so float() can never overflow, optional unit-scale suffix.
_TQDM_NUM = r"([0-9]{1,18}(?:\.[0-9]{1,6})?)([kMGTPEZ]?)"

# `{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate}]`.
# The bar may be empty (narrow terminal); the r_bar may be cut off or customised away.
_TQDM_BAR = re.compile(
    r"(?<![0-9.])([0-9]{1,3}(?:\.[0-9]{1,6})?)%\|[^|]*\|"
    + r"(?:\s*"
    + _TQDM_NUM
    + "/"
    + _TQDM_NUM
    + r"(?![0-9.]))?",
    re.ASCII,
)

# `{desc}: {n_fmt}{unit} [{elapsed}, {rate_fmt}{postfix}]` -- tqdm without a total.
_TQDM_COUNT = re.compile(
    r"(?<!\S)"
    + _TQDM_NUM
    + r"(?![0-9.])[^\s\[\]]* \[(?:[0-9]+:)?[0-9]{2}:[0-9]{2}, (?:\?|[0-9])[^\]\s]*/",
    re.ASCII,
)

# rich's DownloadColumn, as pip draws it: `━━━━╸━━━ 1.2/3.4 MB 10.0 MB/s eta 0:00:01`.
_RICH_BAR = re.compile(
    r"[━╸╺]+\s+([0-9]{1,15}(?:\.[0-9]{1,6})?)/([0-9]{1,15}(?:\.[0-9]{1,6})?)\s*(?:[kMGT]i?B|bytes)\b"
)

# A percentage: not glued to a word, sign, decimal or thousands separator before it, and
# the `%` not followed by a word character (`%d`, `%20`) or another `%`.
_PERCENT = re.compile(
    r"(?<![\w.,+\-])([0-9]{1,3}(?:\.[0-9]{1,6})?)[ \t]?%(?![\w%])",
    re.ASCII,
)

# Integers without leading zeros (a lone 0 is fine). Bounded so they stay exact in a float.
_INT = r"(0|[1-9][0-9]{0,14})"

# `12/100`: not part of a path, date, version, CIDR block, word or thousands-separated number.
_FRACTION = re.compile(
    r"(?<![\w/:=\-])(?<![0-9][.,])" + _INT + "/" + _INT + r"(?![\w/:\-])(?![.,][0-9])",
    re.ASCII,
)

# `[ 3/ 10]` (padded counters, ninja/cmake style) and `(12 of 100)` / `[12 of 100]`.
_BRACKETED = re.compile(
    r"\[\s*"
    + _INT
    + r"(?:\s*/\s*|\s+of\s+)"
    + _INT
    + r"\s*\]|\(\s*"
    + _INT
    + r"\s+of\s+"
    + _INT
    + r"\s*\)",
    re.ASCII,
)


# rsync's progress line: `{bytes} {pct}% {rate}{units} {h:mm:ss}[ (xfr#N, to-chk=R/T)]`.
# Bytes are `1,234,567` or, with -h, `5.37G`; the time is `??:??:??` when rsync cannot tell.
_RSYNC = re.compile(
    r"^\s*[0-9][0-9,.]{0,30}[KMGTP]?\s+([0-9]{1,3})%\s+"
    r"([0-9]{1,12}\.[0-9]{2}[kMGTP]B/s)\s+([0-9]{1,6}:[0-9]{2}:[0-9]{2}|\?\?:\?\?:\?\?)"
    r"(?:\s+\(xfr#([0-9]{1,12}), (?:to|ir)-chk=[0-9]{1,12}/[0-9]{1,12}\))?\s*$",
    re.ASCII,
)


def _tqdm_number(digits: str, suffix: str) -> float:
    return float(digits) * _SCALE[suffix]


def _tqdm_description(prefix: str) -> str | None:
    """tqdm writes ``{desc}: `` before the bar; give back ``desc`` (None when empty)."""
    desc = prefix.strip()
    if desc.endswith(":"):
        desc = desc[:-1].rstrip()
    return desc or None


def _counted(current: float, total: float, message: str | None = None) -> ParsedProgress | None:
    """A counted progress, or None when the numbers cannot be progress."""
    if not (math.isfinite(current) and math.isfinite(total)) or current < 0 or total <= 0:
        return None
    if current > total:
        return None
    return ParsedProgress(current, total, message)


def _parse_tqdm_bar(line: str) -> ParsedProgress | None:
    m = _TQDM_BAR.search(line)
    if m is None:
        return None
    message = _tqdm_description(line[: m.start()])
    percent, n, n_suffix, total, total_suffix = m.groups()
    if n is not None:
        current_value = _tqdm_number(n, n_suffix)
        total_value = _tqdm_number(total, total_suffix)
        if total_value > 0:
            # tqdm rounds n_fmt and total_fmt separately, so clamp a rounding overshoot.
            return ParsedProgress(min(current_value, total_value), total_value, message)
    value = float(percent)
    if value > 100:
        return None
    return ParsedProgress(value, 100.0, message)


def _parse_tqdm_count(line: str) -> ParsedProgress | None:
    m = _TQDM_COUNT.search(line)
    if m is None:
        return None
    return ParsedProgress(_tqdm_number(m[1], m[2]), 0.0, _tqdm_description(line[: m.start()]))


def _parse_rich_bar(line: str) -> ParsedProgress | None:
    m = _RICH_BAR.search(line)
    if m is None:
        return None
    return _counted(float(m[1]), float(m[2]))


def _parse_rsync(line: str) -> ParsedProgress | None:
    m = _RSYNC.match(line)
    if m is None:
        return None
    percent, rate, time_text, transferred = m.groups()
    if int(percent) > 100:
        return None
    if transferred is not None:  # a file is done: rsync shows the time so far
        files = "1 file" if transferred == "1" else f"{transferred} files"
        message = f"{rate}, {files} transferred"
    elif time_text.startswith("?") or float(rate[:-4]) == 0:
        message = rate  # no estimate yet (rsync prints 0:00:00 while its rate is 0)
    else:
        message = f"{rate}, {time_text} left"
    return ParsedProgress(float(percent), 100.0, message)


def _parse_percent(line: str) -> ParsedProgress | None:
    for m in _PERCENT.finditer(line):
        value = float(m[1])
        if value <= 100:
            return ParsedProgress(value, 100.0, None)
    return None


def _parse_fraction(line: str) -> ParsedProgress | None:
    for m in _BRACKETED.finditer(line):
        current, total = (m[1], m[2]) if m[1] is not None else (m[3], m[4])
        parsed = _counted(float(current), float(total))
        if parsed is not None:
            return parsed
    for m in _FRACTION.finditer(line):
        parsed = _counted(float(m[1]), float(m[2]))
        if parsed is not None:
            return parsed
    return None


def _more_programs(line: str, program: ProgramOutput | None) -> ParsedProgress | None:
    """The parsers of :mod:`.progress_parsers` (the registration point for more formats)."""
    reading: Reading | None = None
    if program is not None:
        reading = program.read(line)
    else:
        for parser in LINE_PARSERS:
            reading = parser(line)
            if reading is not None:
                break
    if reading is None:
        return None
    current, total, message = reading
    if total == 0:
        return ParsedProgress(current, 0.0, message) if math.isfinite(current) else None
    return _counted(current, total, message)


def parse_progress_line(line: str, program: ProgramOutput | None = None) -> ParsedProgress | None:
    """Read progress from one line of output, or return None if the line reports none.

    ``program``: what the program's command line and earlier lines said (see
    :class:`~jobdeck.runtime.progress_parsers.ProgramOutput`). See the module docstring for
    the recognised forms. Never raises on any text.
    """
    if len(line) > _MAX_PARSE_CHARS:
        line = line[:_MAX_PARSE_CHARS]
    more = _more_programs(line, program)
    if more is not None:
        return more
    has_percent = "%" in line
    if has_percent and "|" in line:
        parsed = _parse_tqdm_bar(line)
        if parsed is not None:
            return parsed
    has_slash = "/" in line
    if has_slash and "[" in line:
        parsed = _parse_tqdm_count(line)
        if parsed is not None:
            return parsed
    if has_slash and "━" in line:
        parsed = _parse_rich_bar(line)
        if parsed is not None:
            return parsed
    if has_percent and "B/s" in line:
        parsed = _parse_rsync(line)
        if parsed is not None:
            return parsed
    if has_percent:
        parsed = _parse_percent(line)
        if parsed is not None:
            return parsed
    if has_slash or " of " in line:
        return _parse_fraction(line)
    return None


# ---------------------------------------------------------------------------------------
# Splitting raw output into lines
# ---------------------------------------------------------------------------------------

_LINE_BREAK = re.compile(rb"\r\n?|\n")

# CSI (`ESC [ ... final`, also the 8-bit form U+009B), OSC (`ESC ] ... BEL|ST`), other
# two-byte escapes (`ESC (B`, `ESC =`, ...), and any stray ESC left over.
_ANSI = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[ -/]*[0-~]"
    r"|\x1b"
)


def _keep_progress_escape(m: re.Match[str]) -> str:
    """Drop an escape sequence, except an OSC 9;4 progress report (parsed later)."""
    return m[0] if OSC_PROGRESS.fullmatch(m[0]) else ""


def _strip_ansi(text: str) -> str:
    if "\x1b" not in text and "\x9b" not in text:
        return text
    if "\x1b]9;4;" in text:
        return _ANSI.sub(_keep_progress_escape, text)
    return _ANSI.sub("", text)


def _cut_at_char_boundary(data: bytes | bytearray, limit: int) -> bytes:
    """The first ``limit`` bytes of ``data`` (which holds at least ``limit + 1``), backed off
    so that no UTF-8 character is cut in half."""
    end = limit
    # Continuation bytes look like 0b10xxxxxx; a character is at most 4 bytes long.
    while end > 0 and limit - end < 3 and (data[end] & 0xC0) == 0x80:
        end -= 1
    if end == 0 or (data[end] & 0xC0) == 0x80:
        end = limit  # not valid UTF-8 here anyway: cut where the limit says
    return bytes(data[:end])


class OutputSplitter:
    """Cuts a process's raw output, fed in arbitrary chunks, into complete text lines.

    A line ends at ``\\n``, ``\\r\\n`` or a bare ``\\r``; a ``\\r\\n`` split across two
    chunks still ends just one line. Lines come back without their terminator, decoded as
    UTF-8 with ``errors="replace"`` and with ANSI escape sequences removed. Empty lines are
    kept (a tqdm redraw that starts with ``\\r`` yields one).

    A line longer than ``max_line`` bytes is not lost: its first ``max_line`` bytes are
    returned as soon as they arrive, and the rest up to the next line break is dropped, so
    memory stays bounded whatever the process writes.

    Not thread-safe: feed it from one thread.
    """

    __slots__ = ("_discarding", "_max_line", "_pending", "_skip_lf")

    def __init__(self, max_line: int = 65536) -> None:
        if isinstance(max_line, bool) or not isinstance(max_line, int) or max_line < 1:
            raise ValueError(f"max_line must be a positive int (bytes), got {max_line!r}")
        self._max_line = max_line
        self._pending = bytearray()
        self._discarding = False  # inside an over-long line that was already returned
        self._skip_lf = False  # the last chunk ended with \r: a leading \n belongs to it

    def feed(self, data: bytes) -> list[str]:
        """Take the next chunk of output; return the lines it completed."""
        lines: list[str] = []
        start = 0
        if self._skip_lf and data[:1] == b"\n":
            start = 1
        if data:
            self._skip_lf = False
        for m in _LINE_BREAK.finditer(data, start):
            self._take(data, start, m.start(), lines)
            if self._discarding:
                self._discarding = False
            else:
                lines.append(self._decode(self._pending))
            self._pending.clear()
            start = m.end()
            if m.end() == len(data) and m.group() == b"\r":
                self._skip_lf = True
        self._take(data, start, len(data), lines)
        return lines

    def pending_text(self) -> str:
        """The line begun and not ended yet, as it would come back ("" when none)."""
        return "" if self._discarding or not self._pending else self._decode(self._pending)

    def flush(self) -> list[str]:
        """Return what is left after the last line break (at EOF) and reset."""
        rest = [] if self._discarding or not self._pending else [self._decode(self._pending)]
        self._pending.clear()
        self._discarding = False
        self._skip_lf = False
        return rest

    def skip_line(self) -> None:
        """Drop what is pending and what comes up to the next line break: the reader
        jumped into the middle of a line whose start it never saw."""
        self._pending.clear()
        self._discarding = True
        self._skip_lf = False

    def _take(self, data: bytes, start: int, end: int, lines: list[str]) -> None:
        """Append ``data[start:end]`` to the current line, cutting it at ``max_line``."""
        if self._discarding or start >= end:
            return
        room = self._max_line - len(self._pending)
        if end - start <= room:
            self._pending += data[start:end]
            return
        self._pending += data[start : start + room + 1]
        kept = _cut_at_char_boundary(self._pending, self._max_line)
        lines.append(self._decode(kept))
        self._pending.clear()
        self._discarding = True

    @staticmethod
    def _decode(raw: bytes | bytearray) -> str:
        return _strip_ansi(raw.decode("utf-8", errors="replace"))
