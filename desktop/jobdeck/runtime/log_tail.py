"""Follow a growing log file at a bounded cost, and read a finished program's last lines.

A supervised program writes straight into its job's log file (the app holds no pipe, so
the program outlives the app). :class:`LogTail` reads what was appended since its last
look, from a given offset (the end of the file when a job is re-attached), and splits it
with :class:`~jobdeck.runtime.output_progress.OutputSplitter`: ``\\n``, ``\\r\\n`` and bare
``\\r`` end lines (tqdm redraws become lines), ANSI escapes are stripped, blank lines are
skipped. No Qt, no threads of its own: the caller polls it.

A look costs the same whatever the program writes. When what was appended since the last
look is modest (at most :data:`LIVE_BYTES` bytes and :data:`LIVE_LINES` lines) every line
comes back, so a job that prints a few lines a second shows each of them. When it is more
(``rsync -v``, ``find``, a print loop), the reader jumps to the end: it reads at most the
last :data:`LATEST_WINDOW` bytes and gives back only the last :data:`LATEST_LINES` complete
lines -- a progress bar needs the latest state, not every state -- and
:attr:`LogTail.skipped` says how many bytes it jumped over. The file keeps everything.

The supervisor cuts the middle out of a log that grows past its cap (see
:class:`~jobdeck.runtime.supervisor.LogWriter`): when the file becomes shorter than the
reader's offset, the reader carries on from the new end. :meth:`LogTail.finish` follows the
same bounds, and :func:`last_lines` reads a finished program's last lines from the end of
its log, looking no further back than it needs to (at most :data:`FINISH_WINDOW` bytes).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import deque
from pathlib import Path
from typing import BinaryIO

from .output_progress import OutputSplitter, parse_progress_line

__all__ = [
    "FINISH_WINDOW",
    "LATEST_LINES",
    "LATEST_WINDOW",
    "LIVE_BYTES",
    "LIVE_LINES",
    "TAIL_LINES",
    "LogTail",
    "last_lines",
]

_log = logging.getLogger(__name__)

TAIL_LINES = 20
"""How many of the last non-blank lines :attr:`LogTail.tail` keeps."""

#: Bytes read from the end of a log, at most, for its last lines.
FINISH_WINDOW = 256 * 1024

#: A look that finds at most this many new bytes *and* :data:`LIVE_LINES` line breaks
#: returns every new line; more, and it returns only the latest ones.
LIVE_BYTES = 64 * 1024
LIVE_LINES = 50
#: How many complete lines a look that jumped ahead returns (the latest ones) ...
LATEST_LINES = 10
#: ... read from at most this many bytes at the end of the file.
LATEST_WINDOW = 16 * 1024

_MAX_LINE_BYTES = 64 * 1024  # a longer "line" is cut, so memory stays bounded
_FIRST_LOOK = 16 * 1024  # how far back last_lines looks first (then 4x further each time)


def _start_of_last_lines(data: bytes, lines: int) -> int | None:
    """Where the last ``lines`` complete lines of ``data`` begin: just after the line break
    that precedes them. None when ``data`` holds ``lines`` line breaks or fewer (its first
    line may then have begun before it). ``\\r\\n`` counts as two breaks, so a CRLF file
    yields fewer lines than asked; callers ask for enough."""
    # The last line may be unterminated: count breaks up to and including its terminator.
    end = len(data)
    for _ in range(lines + 1):
        end = max(data.rfind(b"\n", 0, end), data.rfind(b"\r", 0, end))
        if end < 0:
            return None
    return end + 1


def _split_all(data: bytes) -> list[str]:
    splitter = OutputSplitter(max_line=_MAX_LINE_BYTES)
    return splitter.feed(data) + splitter.flush()


def last_lines(
    path: str | os.PathLike[str],
    count: int = TAIL_LINES,
    start: int = 0,
    end: int | None = None,
) -> list[str]:
    """The last ``count`` non-blank lines of the log at ``path``, at or after byte ``start``
    (where this attempt's output begins) and before byte ``end`` (default: the file's end),
    read backwards from there: a few KB when the lines are short, never more than
    :data:`FINISH_WINDOW` bytes. ``[]`` when the file cannot be read."""
    if count <= 0:
        return []
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if end is not None:
                size = min(size, end)
            first = start if start <= size else 0
            lowest = max(first, size - FINISH_WINDOW)
            window, wanted = _FIRST_LOOK, 4 * count
            while True:
                begin = max(lowest, size - window)
                data = os.pread(f.fileno(), size - begin, begin)
                cut = _start_of_last_lines(data, wanted)
                if cut is not None:
                    kept = [line for line in _split_all(data[cut:]) if line.strip()]
                    if len(kept) >= count:
                        return kept[-count:]
                if begin <= lowest:
                    break
                window, wanted = window * 4, wanted * 4
            lines = _split_all(data)
            if begin > first and lines:
                lines = lines[1:]  # the window began inside a line
            return [line for line in lines if line.strip()][-count:]
    except OSError:
        return []


class LogTail:
    """Reads ``path`` from ``offset`` on, at a bounded cost per look (see the module);
    not thread-safe (one watcher thread uses it).

    :attr:`skipped` is how many bytes the latest :meth:`read` or :meth:`finish` jumped over
    (0 when it returned every new line); :attr:`tail` keeps the last lines it returned.
    """

    def __init__(self, path: str | os.PathLike[str], offset: int = 0) -> None:
        self.path = path if isinstance(path, Path) else Path(path)
        self.offset = offset
        self.skipped = 0
        self._file: BinaryIO | None = None
        self._splitter = OutputSplitter(max_line=_MAX_LINE_BYTES)
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self._told = ""  # the unfinished line pending_progress() last gave

    @staticmethod
    def end_of(path: str | os.PathLike[str]) -> int:
        """The current size of ``path`` (0 if it does not exist yet)."""
        try:
            return os.stat(path).st_size
        except OSError:
            return 0

    def read(self) -> list[str]:
        """The complete, non-blank lines appended since the last look: all of them when
        they are few, else the latest :data:`LATEST_LINES` (:attr:`skipped` says so)."""
        data = self._read_bytes()
        return self._keep(self._splitter.feed(data)) if data else []

    def pending_progress(self) -> str | None:
        """The line the program has begun and not ended yet, when it reads as progress and
        is new since the last call; else None. tqdm and curl begin each redraw of their
        bar with ``\\r`` (an OSC 9;4 report may have no line break at all): the bar drawn
        last ends only when the next one comes, which a slow job's next step may be
        minutes away. Not a line: :meth:`read` still returns it once it ends."""
        text = self._splitter.pending_text()
        if not text or text == self._told or parse_progress_line(text) is None:
            return None
        self._told = text
        return text

    def finish(self) -> list[str]:
        """What is left (within the same bounds), the last unterminated line included;
        closes the file. What is needed now is the final progress, not the middle of the
        output: the caller reads the last lines with :func:`last_lines`."""
        lines = self.read()
        lines += self._keep(self._splitter.flush())
        self.close()
        return lines

    def close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    def _read_bytes(self) -> bytes:
        """What the splitter should be fed next: every new byte, or -- past the bounds --
        the start of the last few complete lines on (the splitter restarted)."""
        self.skipped = 0
        if self._file is None:
            try:
                self._file = open(self.path, "rb")  # noqa: SIM115 - kept open while tailing
            except FileNotFoundError:
                return b""
            except OSError as exc:
                _log.warning("cannot read log file %s: %s", self.path, exc)
                return b""
        try:
            fd = self._file.fileno()
            size = os.fstat(fd).st_size
            if size < self.offset:  # its middle was cut out (or it was truncated)
                self.offset = size
                self._splitter = OutputSplitter(max_line=_MAX_LINE_BYTES)
            new = size - self.offset
            if new <= 0:
                return b""
            if new <= LIVE_BYTES:
                data = os.pread(fd, new, self.offset)
                if data.count(b"\n") + data.count(b"\r") <= LIVE_LINES:
                    self.offset += len(data)
                    return data
            else:
                data = os.pread(fd, LATEST_WINDOW, size - LATEST_WINDOW)
        except OSError as exc:
            _log.warning("cannot read log file %s: %s", self.path, exc)
            return b""
        return self._jump(data, size)

    def _jump(self, data: bytes, size: int) -> bytes:
        """Skip to the last :data:`LATEST_LINES` complete lines of ``data`` (the end of the
        file, which is ``size`` bytes long); the unterminated rest stays pending."""
        begin = size - len(data)
        cut = _start_of_last_lines(data, LATEST_LINES)
        self._splitter = OutputSplitter(max_line=_MAX_LINE_BYTES)
        if cut is None:  # a few very long lines: start after the first break, if any
            breaks = [i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0]
            if not breaks and begin > self.offset:
                self._splitter.skip_line()  # inside a line that began before the window
            cut = min(breaks) + 1 if breaks and begin > self.offset else 0
        self.skipped = begin + cut - self.offset
        self.offset = size
        return data[cut:]

    def _keep(self, lines: list[str]) -> list[str]:
        kept = [line for line in lines if line.strip()]
        self.tail.extend(kept)
        return kept
