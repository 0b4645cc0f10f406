"""Short human-readable texts for durations, percentages, counts, errors and times.

Every view (taskbar rows, history, details, tray) formats numbers through these helpers, so
a job's progress reads the same everywhere.

No Qt here (the terminal commands use these helpers too): texts go through Qt's
translations (:mod:`jobdeck.i18n`) only when PySide6 is already loaded, i.e. in the GUI.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import timedelta

    from ..core.job import Job

__all__ = [
    "EM_DASH",
    "error_summary",
    "format_count",
    "format_duration",
    "format_local_time",
    "format_percent",
    "format_progress",
    "status_text",
    "translate",
    "type_text",
    "where_text",
    "worker_host",
]

#: Shown where a value is unknown.
EM_DASH = "\u2014"

_TRACEBACK_HEAD = "Traceback (most recent call last)"


def QT_TRANSLATE_NOOP(context: str, text: str) -> str:
    """Marks ``text`` for translation in ``context`` without translating it (yet)."""
    return text


_qt_translate: Callable[[str, str, str | None, int], str] | None = None


def translate(context: str, text: str, disambiguation: str | None = None, n: int = -1) -> str:
    """:func:`jobdeck.i18n.translate` when PySide6 is loaded, else ``text`` as it is (with
    ``%n`` and ``(s)`` worked out as in English)."""
    global _qt_translate
    if _qt_translate is None and "PySide6.QtCore" in sys.modules:
        from jobdeck.i18n import translate as qt_translate

        _qt_translate = qt_translate
    if _qt_translate is not None:
        return _qt_translate(context, text, disambiguation, n)
    if n >= 0:
        text = text.replace("%n", str(n)).replace("(s)", "" if n == 1 else "s")
    return text


#: The name of each job status as people read it (keys: ``JobStatus`` values).
STATUS_TEXTS = {
    "pending": QT_TRANSLATE_NOOP("JobStatus", "Pending"),
    "running": QT_TRANSLATE_NOOP("JobStatus", "Running"),
    "completed": QT_TRANSLATE_NOOP("JobStatus", "Completed"),
    "failed": QT_TRANSLATE_NOOP("JobStatus", "Failed"),
    "cancelled": QT_TRANSLATE_NOOP("JobStatus", "Cancelled"),
}


def type_text(text: str) -> str:
    """A job type's title, description, parameter label or help as shown: translated in
    the ``JobType`` context when a translation has it (the job types mark their texts),
    else as the type gave it."""
    return translate("JobType", text) if text else text


def status_text(status: Any) -> str:
    """``Running`` for ``JobStatus.RUNNING`` (or ``"running"``), translated."""
    value = str(getattr(status, "value", status))
    text = STATUS_TEXTS.get(value)
    return translate("JobStatus", text) if text is not None else value.capitalize()


def format_duration(value: timedelta | float | None) -> str:
    """``3s``, ``4m 05s``, ``2h 03m``, ``3d 4h``; ``—`` for None."""
    if value is None:
        return EM_DASH
    from datetime import timedelta  # (datetime: with the first job shown, not the first window)

    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    s = max(0, round(seconds))
    if s < 60:
        return translate("Duration", "{seconds}s").format(seconds=s)
    m, s = divmod(s, 60)
    if m < 60:
        return translate("Duration", "{minutes}m {seconds}s").format(minutes=m, seconds=f"{s:02d}")
    h, m = divmod(m, 60)
    if h < 24:
        return translate("Duration", "{hours}h {minutes}m").format(hours=h, minutes=f"{m:02d}")
    d, h = divmod(h, 24)
    return translate("Duration", "{days}d {hours}h").format(days=d, hours=h)


def format_percent(percent: float | None) -> str:
    """``45%`` (one decimal below 10 % so slow starts show movement); ``—`` when unknown."""
    if percent is None:
        return EM_DASH
    if 0 < percent < 10:
        return f"{percent:.1f}%"
    return f"{int(percent)}%"


def format_count(value: float) -> str:
    """A progress count: ``60``, ``1,250``, ``5.8`` (whole numbers stay whole, others get
    one decimal), never ``5.82218``."""
    if abs(value - round(value)) < 0.05:
        return f"{round(value):,}"
    return f"{value:,.1f}"


def format_progress(current: float, total: float) -> str:
    """``9.7% (5.8 of 60)``; with an unknown total (0), ``—``."""
    if not total:
        return EM_DASH
    percent = max(0.0, min(100.0, 100.0 * current / total))
    return translate("Progress", "{percent} ({current} of {total})").format(
        percent=format_percent(percent), current=format_count(current), total=format_count(total)
    )


#: What a process job's error puts between its exit status and the program's last output
#: lines (``runtime.executors.processes.failure_message``).
_OUTPUT_HEADING = "; last output:"


def error_summary(error: Any) -> str:
    """The one line of an error a person reads: never a traceback.

    ``error`` is a :class:`~jobdeck.core.job.JobError`, a string or None. A message that is
    itself a Python traceback gives its last line (``ValueError: bad input``); a program's
    ``exit status 3; last output:`` followed by its last lines gives the status and the
    last of those lines (``exit status 3: error: cannot open config.yml``), which usually
    says why; any other message gives its first non-empty line.
    """
    if error is None:
        return ""
    text = str(getattr(error, "message", error)).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    if lines[0].startswith(_TRACEBACK_HEAD):
        # the exception line is the last one that is not indented in the original text
        for line in reversed(text.splitlines()):
            if line.strip() and not line.startswith((" ", "\t")):
                return line.strip()
        return lines[-1]
    if lines[0].endswith(_OUTPUT_HEADING) and len(lines) > 1:
        return f"{lines[0].removesuffix(_OUTPUT_HEADING)}: {lines[-1]}"
    return lines[0]


def format_local_time(ts: float | None, now: float | None = None) -> str:
    """Epoch seconds as local time, short: ``14:03:12`` today, ``01 May 14:03`` this year,
    ``2024-05-01 14:03`` before (or without ``now``)."""
    if ts is None:
        return EM_DASH
    from datetime import datetime

    when = datetime.fromtimestamp(ts)
    if now is not None:
        today = datetime.fromtimestamp(now)
        if today.date() == when.date():
            return when.strftime("%H:%M:%S")
        if today.year == when.year:
            return when.strftime("%d %b %H:%M")
    return when.strftime("%Y-%m-%d %H:%M")


def where_text(job: Job, here: str | None = None) -> str | None:
    """Where a running job runs, when that is not simply here: "on node3" (a cluster
    worker's host), "on alice@desk" (the app instance on a shared board that runs it, unless
    it is ``here``, this one), or "on node3 via alice@desk" (both)."""
    host = worker_host(job)
    instance = job.metadata.get("instance")
    instance = instance if isinstance(instance, str) and instance and instance != here else None
    if host and instance:
        return translate("JobRow", "on {host} via {instance}").format(host=host, instance=instance)
    if host or instance:
        return translate("JobRow", "on {host}").format(host=host or instance)
    return None


def worker_host(job: Job) -> str | None:
    """The host of the cluster worker that runs ``job`` (its ``metadata["worker"]``), if any."""
    worker = job.metadata.get("worker")
    host = worker.get("host") if isinstance(worker, dict) else None
    return host if isinstance(host, str) and host else None
