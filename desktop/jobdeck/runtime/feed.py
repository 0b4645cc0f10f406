"""What widgets and desktop integration see of the runtime: the job feed Protocols.

:class:`~jobdeck.runtime.signals.JobSignals` is the real feed; tests drive fakes. Every
signal is emitted on the GUI thread.

* :class:`JobFeed` — ``jobsAdded(list[Job])``, ``jobsChanged(list[Job])``,
  ``jobFinished(Job)`` and ``active_jobs()`` for the state at start: what the taskbar, the
  tray and the desktop integration (notifications, dock progress, sleep inhibition) need.
* :class:`JobEvents` — a feed with ``logAppended(list[LogEntry])``, the store's trouble
  (``storeTroubleChanged(str)``: a readable message, ``""`` once it is over;
  ``store_trouble``: the current one) and its ``tracker``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject, Signal, SignalInstance

from jobdeck.core.job_source import JobSource
from jobdeck.core.unopened import UnopenedStore

if TYPE_CHECKING:
    from jobdeck.core.job import Job


__all__ = ["JobEvents", "JobFeed", "NoEventsYet"]


class JobFeed(Protocol):
    """Batched job changes on the GUI thread (see the module)."""

    @property
    def jobsAdded(self) -> SignalInstance: ...

    @property
    def jobsChanged(self) -> SignalInstance: ...

    @property
    def jobFinished(self) -> SignalInstance: ...

    def active_jobs(self) -> list[Job]:
        """Pending and running jobs, oldest first."""
        ...


class JobEvents(JobFeed, Protocol):
    """A :class:`JobFeed` with log lines and the store's trouble (see the module)."""

    @property
    def logAppended(self) -> SignalInstance: ...

    @property
    def storeTroubleChanged(self) -> SignalInstance: ...

    @property
    def store_trouble(self) -> str:
        """Why changes cannot be saved now, in words ("" when they can)."""
        ...

    @property
    def tracker(self) -> JobSource:
        """The tracker whose jobs these are."""
        ...


class NoEventsYet(QObject):
    """The :class:`JobEvents` of a store not opened yet: no jobs, no trouble, and signals
    that are never emitted. The main window is built with it (and an
    :class:`~jobdeck.core.unopened.UnopenedStore`) to be painted before the store opens;
    the app then attaches the real feed (``MainWindow.attach``)."""

    jobsAdded = Signal(list)
    jobsChanged = Signal(list)
    jobFinished = Signal(object)
    logAppended = Signal(list)
    storeTroubleChanged = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tracker = UnopenedStore()

    def active_jobs(self) -> list[Job]:
        return []

    @property
    def store_trouble(self) -> str:
        return ""

    @property
    def tracker(self) -> JobSource:
        return self._tracker
