"""Follow a growing log file and cut what is appended into output lines.

A supervised program writes straight into its job's log file (the app holds no pipe, so
the program outlives the app). :class:`LogTail` reads what was appended since the last
call, from a given offset (the end of the file when a job is re-attached), and splits it
with :class:`~jobdeck.runtime.output_progress.OutputSplitter`: ``\\n``, ``\\r\\n`` and bare
``\\r`` end lines (tqdm redraws become lines), ANSI escapes are stripped, blank lines are
skipped. No Qt, no threads of its own: the caller polls it.

The supervisor cuts the middle out of a log that grows past its cap (see
:class:`~jobdeck.runtime.supervisor.LogWriter`): when the file becomes shorter than the
reader's offset, the reader carries on from the new end. :meth:`LogTail.finish` never
parses more than the last :data:`FINISH_WINDOW` bytes of a log it has fallen behind on,
and :func:`last_lines` reads a finished program's last lines from the end of its log.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import deque
from pathlib import Path
from typing import BinaryIO

from .output_progress import OutputSplitter

__all__ = ["FINISH_WINDOW", "TAIL_LINES", "LogTail", "last_lines"]

_log = logging.getLogger(__name__)

TAIL_LINES = 20
"""How many of the last non-blank lines :attr:`LogTail.tail` keeps."""

#: Bytes read from the end of a log for its last lines, and at most what
#: :meth:`LogTail.finish` parses when it has fallen behind.
FINISH_WINDOW = 256 * 1024

_MAX_READ = 4 * 1024 * 1024  # per call, so one chatty job cannot hold its watcher forever
_MAX_LINE_BYTES = 64 * 1024  # a longer "line" is cut, so memory stays bounded


def last_lines(path: str | os.PathLike[str], count: int = TAIL_LINES, start: int = 0) -> list[str]:
    """The last ``count`` non-blank lines of the log at ``path``, at or after byte ``start``
    (where this attempt's output begins), read from the file's end: at most
    :data:`FINISH_WINDOW` bytes. ``[]`` when the file cannot be read."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            begin = max(0, start if start <= size else 0, size - FINISH_WINDOW)
            f.seek(begin)
            data = f.read(size - begin)
    except OSError:
        return []
    splitter = OutputSplitter(max_line=_MAX_LINE_BYTES)
    lines = splitter.feed(data) + splitter.flush()
    if begin > start and lines:
        lines = lines[1:]  # the window began inside a line
    return [line for line in lines if line.strip()][-count:]


class LogTail:
    """Reads ``path`` from ``offset`` on; not thread-safe (one watcher thread uses it)."""

    def __init__(self, path: str | os.PathLike[str], offset: int = 0) -> None:
        self.path = Path(path)
        self.offset = offset
        self._file: BinaryIO | None = None
        self._splitter = OutputSplitter(max_line=_MAX_LINE_BYTES)
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)

    @staticmethod
    def end_of(path: str | os.PathLike[str]) -> int:
        """The current size of ``path`` (0 if it does not exist yet)."""
        try:
            return os.stat(path).st_size
        except OSError:
            return 0

    def read(self) -> list[str]:
        """The complete, non-blank lines appended since the last call."""
        data = self._read_bytes()
        return self._keep(self._splitter.feed(data)) if data else []

    def finish(self) -> list[str]:
        """What is left, the last unterminated line included; closes the file.

        When more than :data:`FINISH_WINDOW` bytes are left unread (the program wrote faster
        than it was read), only the last ones are parsed: what is needed now is the final
        progress, not the middle of the output."""
        size = self.end_of(self.path)
        if size - self.offset > FINISH_WINDOW:
            self.offset = size - FINISH_WINDOW
            data = self._read_bytes()
            breaks = [i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0]
            data = data[min(breaks) + 1 :] if breaks else b""  # skip the partial first line
            self._splitter = OutputSplitter(max_line=_MAX_LINE_BYTES)
            lines = self._keep(self._splitter.feed(data)) if data else []
        else:
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
        if self._file is None:
            try:
                self._file = open(self.path, "rb")  # noqa: SIM115 - kept open while tailing
            except FileNotFoundError:
                return b""
            except OSError as exc:
                _log.warning("cannot read log file %s: %s", self.path, exc)
                return b""
        try:
            size = os.fstat(self._file.fileno()).st_size
            if size < self.offset:  # its middle was cut out (or it was truncated)
                self.offset = size
                self._splitter = OutputSplitter(max_line=_MAX_LINE_BYTES)
            self._file.seek(self.offset)
            data = self._file.read(_MAX_READ)
        except OSError as exc:
            _log.warning("cannot read log file %s: %s", self.path, exc)
            return b""
        self.offset += len(data)
        return data

    def _keep(self, lines: list[str]) -> list[str]:
        kept = [line for line in lines if line.strip()]
        self.tail.extend(kept)
        return kept
