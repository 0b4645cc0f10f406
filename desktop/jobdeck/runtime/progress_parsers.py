"""Progress from more programs' output: OSC 9;4, pv, dd, curl, ffmpeg and wget.

Two kinds of parser, both pure functions of text (no Qt, no I/O except a file's size):

* :data:`LINE_PARSERS` -- one line says all (tried before the generic forms of
  :mod:`.output_progress`, whose :func:`~.output_progress.parse_progress_line` calls them):

  - the **OSC 9;4** escape sequence (``ESC ] 9 ; 4 ; state ; percent BEL``, emitted by
    cargo, systemd, PowerShell and newer terminal tools): state 1 (normal), 2 (error) and 4
    (paused) give ``percent`` of 100, state 3 (indeterminate) an unknown total; the splitter
    keeps these sequences (and drops every other escape, state 0 included);
  - **curl**'s progress meter (``45 1024M 45 462M 0 0 98.2M 0 0:00:10 0:00:04 0:00:06
    98.4M``): the received percentage, message ``462M of 1024M, 98.4M/s, 0:00:06 left``;
  - **wget**'s bar (``file 45%[====>   ] 462.00M 98.2MB/s eta 6s``), with its rate and
    ETA as the message (the bar without a total gives bytes of an unknown total);
  - **pv**'s default line (``1.00GiB 0:00:05 [ 200MiB/s] [===>   ] 45% ETA 0:00:06``);
  - **dd status=progress** (``1073741824 bytes (1.1 GB, 1.0 GiB) copied, 5 s, 206 MB/s``):
    bytes of an unknown total (:class:`ProgramOutput` knows the total);
  - **ffmpeg** ``-progress pipe:1`` (``out_time_us=5000000``) and its stats line
    (``frame= 100 fps= 25 ... time=00:00:04.00 ... speed=1x``): seconds encoded of an unknown
    total (:class:`ProgramOutput` knows the total).

* :class:`ProgramOutput` -- per running program: what its command line and earlier lines
  tell. ``pv -n`` prints bare percentages (a bare number is never progress otherwise);
  ``dd if=FILE`` copies the file's size (or ``count`` x ``bs``); ffmpeg's input
  ``Duration: 00:01:00.00`` (or ``-t 60``) is the total of its encoded seconds.

A parser returns ``(current, total, message)`` (total 0: unknown; message None: none) or
None; :mod:`.output_progress` turns it into a :class:`~.output_progress.ParsedProgress`.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import shlex
from collections.abc import Callable, Sequence

__all__ = [
    "LINE_PARSERS",
    "OSC_PROGRESS",
    "ProgramOutput",
    "Reading",
    "curl_meter",
    "dd_progress",
    "ffmpeg_progress",
    "osc_progress",
    "pv_line",
    "wget_bar",
]

#: (current, total, message): what a parser read from a line.
Reading = tuple[float, float, str | None]
LineParser = Callable[[str], Reading | None]

# -- OSC 9;4 ----------------------------------------------------------------------------------

#: An OSC 9;4 progress sequence with a state other than 0 ("remove"): the splitter keeps it.
OSC_PROGRESS = re.compile(r"\x1b\]9;4;([1-4])(?:;([0-9]{0,3}))?(?:\x07|\x1b\\)")


def osc_progress(line: str) -> Reading | None:
    """The last OSC 9;4 sequence of ``line``; the rest of the line is the message."""
    if "\x1b]9;4;" not in line:
        return None
    found = list(OSC_PROGRESS.finditer(line))
    if not found:
        return None
    last = found[-1]
    rest = OSC_PROGRESS.sub("", line).strip() or None
    state, value = last[1], last[2]
    if state == "3":
        return (0.0, 0.0, rest)
    percent = min(100.0, float(value)) if value else 0.0
    if state == "2":
        rest = rest or "error"
    elif state == "4":
        rest = rest or "paused"
    return (percent, 100.0, rest)


# -- curl -------------------------------------------------------------------------------------

_SIZE = r"[0-9]{1,6}(?:\.[0-9]{1,3})?[kMGTP]?"
_CLOCK = r"(?:--:--:--|[0-9]{1,3}:[0-9]{2}:[0-9]{2}|[0-9]{1,4}d [0-9]{2}h|[0-9]{1,6}h)"
#: % Total  % Received  % Xferd  Dload Upload  Total Spent Left  Current
_CURL = re.compile(
    rf"^\s*([0-9]{{1,3}})\s+({_SIZE})\s+([0-9]{{1,3}})\s+({_SIZE})\s+([0-9]{{1,3}})\s+({_SIZE})"
    rf"\s+({_SIZE})\s+({_SIZE})\s+({_CLOCK})\s+({_CLOCK})\s+({_CLOCK})\s+({_SIZE})\s*$",
    re.ASCII,
)
_UNITS = {"": 1.0, "k": 1024.0, "K": 1024.0, "M": 1024.0**2, "G": 1024.0**3, "T": 1024.0**4}
_UNITS["P"] = 1024.0**5


def _bytes(text: str) -> float:
    """``462M`` -> bytes (curl and wget count in 1024s)."""
    text = text.replace(",", "")
    unit = text[-1] if text and text[-1] in _UNITS else ""
    number = text[: -len(unit)] if unit else text
    return float(number) * _UNITS[unit]


def curl_meter(line: str) -> Reading | None:
    m = _CURL.match(line)
    if m is None:
        return None
    total, received_pct, received, left, speed = m[2], m[3], m[4], m[11], m[12]
    if int(received_pct) > 100:
        return None
    if _bytes(total) <= 0 and _bytes(received) <= 0:
        return (0.0, 0.0, None)  # curl's first line: nothing known yet
    parts = [f"{received} of {total}" if _bytes(total) > 0 else received, f"{speed}/s"]
    if not left.startswith("-"):
        parts.append(f"{left} left")
    message = ", ".join(parts)
    if _bytes(total) <= 0:
        return (_bytes(received), 0.0, message)
    return (float(received_pct), 100.0, message)


# -- wget -------------------------------------------------------------------------------------

_WGET = re.compile(
    r"(?:(?<![\w.])([0-9]{1,3})%)?\[[ =>]*(?:<=>)?[ =>]*\]\s+([0-9][0-9.,]*[KMGT]?)"
    r"(?:\s+(?:--\.-|[0-9][0-9.,]*)[KMG]?B/s)?(?:\s+(?:eta|in)\s+(.+?))?\s*$",
    re.ASCII,
)
_WGET_RATE = re.compile(r"\s([0-9][0-9.,]*[KMG]?B/s)")


def wget_bar(line: str) -> Reading | None:
    if "[" not in line or "]" not in line:
        return None
    m = _WGET.search(line)
    if m is None:
        return None
    percent, size, when = m[1], m[2], m[3]
    rate = _WGET_RATE.search(line, m.start())
    parts = [rate[1]] if rate else []
    if when:
        parts.append(f"{when} left" if " eta " in line[m.start() :] else f"done in {when}")
    message = ", ".join(parts) or None
    if percent is None:
        if "<=>" not in line:
            return None
        return (_bytes(size), 0.0, message)
    if int(percent) > 100:
        return None
    return (float(percent), 100.0, message)


# -- pv ---------------------------------------------------------------------------------------

_PV = re.compile(
    r"\[\s*([0-9][0-9.,]*\s?[KMGTP]?i?B/s)\]\s*\[[=> ]*\]\s*([0-9]{1,3})%"
    r"(?:\s+ETA\s+([0-9:]+))?",
    re.ASCII,
)


def pv_line(line: str) -> Reading | None:
    if "B/s]" not in line:
        return None
    m = _PV.search(line)
    if m is None or int(m[2]) > 100:
        return None
    message = f"{m[1]}, {m[3]} left" if m[3] else m[1]
    return (float(m[2]), 100.0, message)


# -- dd ---------------------------------------------------------------------------------------

_DD = re.compile(
    r"^([0-9]{1,18}) bytes(?: \(([^)]{1,40})\))? copied, ([0-9][0-9.,]*) s, (.{1,30}?)\s*$",
    re.ASCII,
)


def dd_progress(line: str) -> Reading | None:
    if "copied," not in line:
        return None
    m = _DD.match(line)
    if m is None:
        return None
    shown = m[2].split(",")[0] if m[2] else f"{m[1]} bytes"
    return (float(m[1]), 0.0, f"{shown} copied, {m[4]}")


# -- ffmpeg -----------------------------------------------------------------------------------

_FFMPEG_US = re.compile(r"^out_time_(?:us|ms)=([0-9]{1,15})$", re.ASCII)
_FFMPEG_STATS = re.compile(
    r"^frame=\s*[0-9]+.*?\btime=(-?)([0-9]{1,4}):([0-9]{2}):([0-9]{2}(?:\.[0-9]{1,6})?)"
    r".*?(?:speed=\s*([0-9.]+x))?\s*$",
    re.ASCII,
)
_DURATION = re.compile(r"^\s*Duration: ([0-9]{1,4}):([0-9]{2}):([0-9]{2}(?:\.[0-9]{1,6})?),")


def _clock_seconds(h: str, m: str, s: str) -> float:
    return int(h) * 3600 + int(m) * 60 + float(s)


def ffmpeg_progress(line: str) -> Reading | None:
    """Seconds of output so far (total unknown here: see :class:`ProgramOutput`)."""
    if line.startswith("out_time_"):
        m = _FFMPEG_US.match(line)
        if m is None:
            return None
        # ffmpeg writes microseconds under both names (out_time_ms is a long-standing misnomer)
        return (int(m[1]) / 1e6, 0.0, None)
    if line.startswith("frame="):
        m = _FFMPEG_STATS.match(line)
        if m is None or m[1]:
            return None
        seconds = _clock_seconds(m[2], m[3], m[4])
        return (seconds, 0.0, f"speed {m[5]}" if m[5] else None)
    return None


#: The one-line parsers, in the order they are tried (before the generic forms).
LINE_PARSERS: tuple[LineParser, ...] = (
    osc_progress,
    curl_meter,
    pv_line,
    wget_bar,
    dd_progress,
    ffmpeg_progress,
)


# -- per program ------------------------------------------------------------------------------


def _words(argv: Sequence[str], shell: bool) -> list[str]:
    if shell and argv:
        try:
            return shlex.split(argv[-1])
        except ValueError:
            return argv[-1].split()
    return list(argv)


def _program_names(words: list[str]) -> set[str]:
    return {os.path.basename(w) for w in words if w and not w.startswith("-")}


def _dd_total(words: list[str], cwd: str | None) -> float:
    """What a dd command copies: ``count`` x ``bs`` (or ``ibs``) when given, else the size of
    its ``if=`` file (0 when neither is known)."""
    options = dict(w.split("=", 1) for w in words if "=" in w and not w.startswith("-"))
    block = _dd_number(options.get("ibs") or options.get("bs") or "512")
    count = options.get("count")
    if count is not None and "count_bytes" not in options.get("iflag", ""):
        n = _dd_number(count)
        if n and block:
            return n * block
    source = options.get("if")
    if not source:
        return 0.0
    path = source if os.path.isabs(source) or not cwd else os.path.join(cwd, source)
    try:
        size = os.stat(path).st_size
    except OSError:
        return 0.0
    skip = _dd_number(options.get("skip", "0")) * block
    return float(max(0.0, size - skip))


_DD_SUFFIX = {"c": 1, "w": 2, "b": 512, "k": 1024, "K": 1024, "M": 1024**2, "G": 1024**3}
_DD_SUFFIX.update({"kB": 1000, "KB": 1000, "MB": 1000**2, "GB": 1000**3})
_DD_SUFFIX.update({"KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "T": 1024**4})


def _dd_number(text: str) -> float:
    m = re.fullmatch(r"([0-9]{1,15})([A-Za-z]{0,3})", text)
    if m is None or m[2] not in ("", *_DD_SUFFIX):
        return 0.0
    return float(m[1]) * (_DD_SUFFIX[m[2]] if m[2] else 1)


def _ffmpeg_limit(words: list[str]) -> float:
    """``-t SECONDS`` (or ``-t HH:MM:SS``) of an ffmpeg command: how much it writes."""
    for flag, value in itertools.pairwise(words):
        if flag == "-t":
            parts = value.split(":")
            try:
                seconds = sum(float(p) * 60**i for i, p in enumerate(reversed(parts)))
            except ValueError:
                return 0.0
            return seconds if math.isfinite(seconds) and seconds > 0 else 0.0
    return 0.0


class ProgramOutput:
    """Reads one program's output lines (see the module): the one-line parsers, completed
    with what its command line (``argv``; ``shell``: one shell command string) and its
    earlier lines say. Feed it one program's lines in order, from one thread."""

    def __init__(
        self, argv: Sequence[str] = (), *, shell: bool = False, cwd: str | None = None
    ) -> None:
        words = _words(argv, shell)
        names = _program_names(words)
        self.pv_numeric = "pv" in names and any(
            w == "-n"
            or w == "--numeric"
            or (w.startswith("-") and not w.startswith("--") and "n" in w)
            for w in words
        )
        self.dd_total = _dd_total(words, cwd) if "dd" in names else 0.0
        self.media_total = _ffmpeg_limit(words) if "ffmpeg" in names else 0.0
        self.ffmpeg = "ffmpeg" in names

    def read(self, line: str) -> Reading | None:
        """What ``line`` says beyond the generic forms, or None (then try those)."""
        if self.pv_numeric:
            stripped = line.strip()
            if stripped.isdigit() and len(stripped) <= 3 and int(stripped) <= 100:
                return (float(stripped), 100.0, None)
        if self.media_total and "muxing overhead:" in line:
            return (self.media_total, self.media_total, None)  # ffmpeg's summary: all written
        if self.ffmpeg and not self.media_total and line.lstrip().startswith("Duration:"):
            m = _DURATION.match(line)
            if m is not None:
                self.media_total = _clock_seconds(m[1], m[2], m[3])
            return None
        for parser in LINE_PARSERS:
            reading = parser(line)
            if reading is not None:
                return self._complete(parser, reading)
        return None

    def _complete(self, parser: LineParser, reading: Reading) -> Reading:
        current, total, message = reading
        if parser is dd_progress and self.dd_total and total == 0:
            return (min(current, self.dd_total), self.dd_total, message)
        if parser is ffmpeg_progress and self.media_total and total == 0:
            return (min(current, self.media_total), self.media_total, message)
        return reading
