"""The question asked when the user quits while jobs run or wait, kept true while it is open.

:class:`QuitDialog` says how many jobs run and how many are queued, and what each answer
does to them; it recounts whenever the job feed reports a change, so a job that ends (or
starts) while the user reads changes the text and the buttons at once. With only queued
jobs left it asks whether to keep them queued (the default) or cancel them. Once nothing
runs or waits, nothing is left to cancel: the question becomes "All jobs have finished."
with Quit as the default button. It does not quit by itself: a dialog that vanished under the user's
pointer, or an app that went away while they read, would surprise more than one Enter.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal, SignalInstance
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox, QPushButton, QWidget

from jobdeck.core.job_status import JobStatus
from jobdeck.i18n import translate
from jobdeck.ui.quit_choice import QuitChoice

if TYPE_CHECKING:
    from jobdeck.core.job import Job

__all__ = ["QuitChoice", "QuitCounts", "QuitDialog", "count_for_quit"]


@dataclass(frozen=True)
class QuitCounts:
    """What quitting would affect: jobs running here (``processes`` of them external
    programs, which can outlive the app) and jobs queued."""

    running: int = 0
    processes: int = 0
    queued: int = 0


def count_for_quit(jobs: list[Job], is_program: Callable[[Job], bool]) -> QuitCounts:
    """The counts of ``jobs`` (the tracker's active jobs); ``is_program(job)``: whether a
    running job is an external program that can keep running without the app."""
    running = [j for j in jobs if j.status is JobStatus.RUNNING]
    return QuitCounts(
        running=len(running),
        processes=sum(1 for j in running if is_program(j)),
        queued=sum(1 for j in jobs if j.status is JobStatus.PENDING),
    )


class QuitDialog(QMessageBox):
    """The "Quit Jobdeck?" question, its counts live. Create and use it on the GUI thread.

    ``counts()`` gives the current :class:`QuitCounts`; each emission of a signal in
    ``changed`` (the job feed's ``jobsAdded`` and ``jobsChanged``) recounts and, when the
    counts differ, rewrites the text and the buttons (:meth:`show_counts`). ``shared``: the
    store is a board other Jobdeck instances share (they may start queued jobs meanwhile).
    Emits ``countsShown(QuitCounts)`` (GUI thread) after each rewrite. :meth:`answer`
    tells which button ended it.
    """

    countsShown = Signal(object)

    def __init__(
        self,
        counts: Callable[[], QuitCounts],
        changed: list[SignalInstance],
        *,
        shared: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._counts = counts
        self._shared = shared
        self._shown: QuitCounts | None = None
        self.setIcon(QMessageBox.Icon.Question)
        self.setWindowTitle(translate("QuitDialog", "Quit Jobdeck?"))
        self.quit_button: QPushButton = self.addButton(
            translate("QuitDialog", "Quit"), QMessageBox.ButtonRole.DestructiveRole
        )
        self.keep_button: QPushButton = self.addButton(
            translate("QuitDialog", "Keep running in the background and quit"),
            QMessageBox.ButtonRole.AcceptRole,
        )
        self.stay_button: QPushButton = self.addButton(
            translate("QuitDialog", "Stay"), QMessageBox.ButtonRole.RejectRole
        )
        self.setEscapeButton(self.stay_button)
        self._changed = changed
        for signal in changed:
            signal.connect(self._recount)
        self.show_counts(counts())

    def disconnect_feed(self) -> None:
        """Stop following the job feed (the dialog has been answered)."""
        for signal in self._changed:
            with contextlib.suppress(RuntimeError, TypeError):  # (the feed went first)
                signal.disconnect(self._recount)
        self._changed = []

    def answer(self) -> QuitChoice:
        """The :class:`QuitChoice` of the button that ended the dialog (Stay when closed)."""
        clicked = self.clickedButton()
        if clicked is self.quit_button:
            if self._only_queued(self._shown):
                return QuitChoice.DROP_QUEUED_AND_QUIT
            return QuitChoice.CANCEL_AND_QUIT
        if clicked is self.keep_button and self.keep_button.isVisibleTo(self):
            return QuitChoice.KEEP_AND_QUIT
        return QuitChoice.STAY

    def _only_queued(self, counts: QuitCounts | None) -> bool:
        """True when ``counts`` are queued jobs only (on a board others share, they are
        theirs to start as well: not ours to drop)."""
        return counts is not None and not counts.running and counts.queued > 0 and not self._shared

    def _recount(self, *_: object) -> None:
        counts = self._counts()
        if counts != self._shown:
            self.show_counts(counts)

    def show_counts(self, counts: QuitCounts) -> None:
        """Say ``counts``: what runs, what is queued, what each button does to them. An
        open dialog keeps its width (it grows, never shrinks under the pointer)."""
        self._shown = counts
        running, queued = counts.running, counts.queued
        only_queued = self._only_queued(counts)
        stopped = queued if only_queued else running  # what the Quit button cancels
        if stopped == 0:
            quit_text = translate("QuitDialog", "Quit")
        elif stopped == 1:
            quit_text = translate("QuitDialog", "Cancel it and quit")
        else:
            quit_text = translate("QuitDialog", "Cancel them and quit")
        self.quit_button.setText(quit_text)
        if only_queued:
            self.keep_button.setText(
                translate("QuitDialog", "Keep it queued and quit")
                if queued == 1
                else translate("QuitDialog", "Keep them queued and quit")
            )
        else:
            self.keep_button.setText(
                translate("QuitDialog", "Keep running in the background and quit")
            )
        self.keep_button.setVisible(counts.processes > 0 or only_queued)
        # Nothing to lose: Enter quits (keeping queued jobs queued), as asked. Something
        # would be stopped: Enter stays.
        if running:
            self.setDefaultButton(self.stay_button)
        else:
            self.setDefaultButton(self.keep_button if only_queued else self.quit_button)
        if self.isVisible():
            self._keep_width()
        if running:
            text = _running_text(running)
            if queued:
                text += " " + _more_queued_text(queued)
        elif queued == 1:
            text = translate("QuitDialog", "No job is running; 1 is queued.")
        elif queued:
            text = translate("QuitDialog", "No job is running; {count} are queued.").format(
                count=queued
            )
        else:
            text = translate("QuitDialog", "All jobs have finished.")
        self.setInformativeText(" ".join(self._consequences(counts)))
        self.setText(text)  # (last: QMessageBox sizes itself to the texts and buttons here)
        self.countsShown.emit(counts)

    def _keep_width(self) -> None:
        """Have the buttons' row at least as wide as the dialog is now (QMessageBox fits
        its width to its texts and buttons whenever they change), and as its buttons need
        (a minimum set by hand wins over theirs: a button shown since would be cut)."""
        buttons = self.findChild(QDialogButtonBox)
        grid = self.layout()
        if buttons is None or grid is None:
            return
        margins = grid.contentsMargins()
        width = max(
            self.width() - margins.left() - margins.right(), buttons.minimumSizeHint().width()
        )
        if width > buttons.minimumWidth():
            buttons.setMinimumWidth(width)

    def _consequences(self, counts: QuitCounts) -> list[str]:
        """What quitting does to the jobs, one sentence per kind."""
        said: list[str] = []
        running, processes, queued = counts.running, counts.processes, counts.queued
        if processes:
            said.append(
                translate(
                    "QuitDialog",
                    "External programs can keep running in the background; Jobdeck picks "
                    "them up again when it next starts.",
                )
            )
            others = running - processes
            if others == 1:
                said.append(
                    translate("QuitDialog", "The other running job is cancelled either way.")
                )
            elif others > 1:
                said.append(
                    translate(
                        "QuitDialog", "The other {count} running jobs are cancelled either way."
                    ).format(count=others)
                )
        if self._only_queued(counts):
            said.append(
                translate(
                    "QuitDialog",
                    "Keep it queued to start it when Jobdeck runs again, or cancel it.",
                )
                if queued == 1
                else translate(
                    "QuitDialog",
                    "Keep them queued to start them when Jobdeck runs again, or cancel them.",
                )
            )
        elif queued:
            if queued == 1:
                said.append(
                    translate(
                        "QuitDialog",
                        "The queued job stays queued and starts when Jobdeck runs again.",
                    )
                )
            else:
                said.append(
                    translate(
                        "QuitDialog",
                        "The {count} queued jobs stay queued and start when Jobdeck runs again.",
                    ).format(count=queued)
                )
            if self._shared:
                said.append(
                    translate(
                        "QuitDialog",
                        "Other Jobdeck instances on the board may start them meanwhile.",
                    )
                )
        elif not running:
            said.append(
                translate("QuitDialog", "Nothing is running or queued: quitting stops nothing.")
            )
        return said


def _running_text(running: int) -> str:
    if running == 1:
        return translate("QuitDialog", "1 job is still running.")
    return translate("QuitDialog", "{count} jobs are still running.").format(count=running)


def _more_queued_text(queued: int) -> str:
    if queued == 1:
        return translate("QuitDialog", "1 more is queued.")
    return translate("QuitDialog", "{count} more are queued.").format(count=queued)
