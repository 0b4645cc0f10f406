"""Follow a growing log file and cut what is appended into output lines.

A supervised program writes straight into its job's log file (the app holds no pipe, so
the program outlives the app). :class:`LogTail` reads what was appended since the last
call, from a given offset (the end of the file when a job is re-attached), and splits it
with :class:`~jobdeck.runtime.output_progress.OutputSplitter`: ``\\n``, ``\\r\\n`` and bare
``\\r`` end lines (tqdm redraws become lines), ANSI escapes are stripped, blank lines are
skipped. No Qt, no threads of its own: the caller polls it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import deque
from pathlib import Path
from typing import BinaryIO

from .output_progress import OutputSplitter

__all__ = ["TAIL_LINES", "LogTail"]

_log = logging.getLogger(__name__)

TAIL_LINES = 20
"""How many of the last non-blank lines :attr:`LogTail.tail` keeps."""

_READ_CHUNK = 64 * 1024
_MAX_READ = 4 * 1024 * 1024  # per call, so one chatty job cannot hold its watcher forever
_MAX_LINE_BYTES = 64 * 1024  # a longer "line" is cut, so memory stays bounded


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
        """Everything left, the last unterminated line included; closes the file."""
        lines = self.read() + self._keep(self._splitter.flush())
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
            if os.fstat(self._file.fileno()).st_size < self.offset:
                self.offset = 0  # truncated or replaced: start over
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
