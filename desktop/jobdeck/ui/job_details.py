"""Everything about one job: progress, timings, live log, output, timeline, params, error,
result.

Longer than most modules: one pane whose tabs show one job and share its refresh; the
Output tab's reading is :mod:`.output_view`'s, the texts :mod:`.formatting`'s. Qt classes that
only the job's widgets use are named through their module (``QtGui.QTextCursor``): PySide6
makes a class, and a Python enum for each of its enums, when its name is first looked up,
and the start-up shows no job.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..core.job_source import JobSource
from ..core.job_status import JobStatus
from ..core.store_errors import StoreError
from ..i18n import translate
from ..runtime.feed import JobEvents
from . import icons
from .colors import BADGE_COLOR, OUTCOME_COLORS
from .formatting import (
    EM_DASH,
    QT_TRANSLATE_NOOP,
    error_summary,
    format_duration,
    format_progress,
    starts_text,
    status_text,
)

if TYPE_CHECKING:
    from ..core.events import LogEntry  # (a job's log: shown once the store is open)
    from ..core.job import Job
    from .job_warnings import JobWarnings  # (the app makes them once the store is open)

__all__ = ["JobDetails", "format_resources", "pretty_json", "progress_text"]

LOG_TAIL = 200
#: A running job's timeline charts are redrawn at most this often (ms).
TIMELINE_REFRESH_MS = 2000
LOG_MAX_LINES = 5000
#: The Details tab's facts: the keys of :attr:`JobDetails.fields`, and their labels.
FIELD_NAMES = (
    "ID",
    "Type",
    "Created",
    "Started",
    "Finished",
    "Duration",
    "Attempts",
    "Instance",
    "Process",
    "Resources",
    "Log file",
)
FIELD_LABELS = {
    "ID": QT_TRANSLATE_NOOP("JobDetails", "ID:"),
    "Type": QT_TRANSLATE_NOOP("JobDetails", "Type:"),
    "Created": QT_TRANSLATE_NOOP("JobDetails", "Created:"),
    "Started": QT_TRANSLATE_NOOP("JobDetails", "Started:"),
    "Finished": QT_TRANSLATE_NOOP("JobDetails", "Finished:"),
    "Duration": QT_TRANSLATE_NOOP("JobDetails", "Duration:"),
    "Attempts": QT_TRANSLATE_NOOP("JobDetails", "Attempts:"),
    "Instance": QT_TRANSLATE_NOOP("JobDetails", "Runs on:"),
    "Process": QT_TRANSLATE_NOOP("JobDetails", "Process:"),
    "Resources": QT_TRANSLATE_NOOP("JobDetails", "Resources:"),
    "Log file": QT_TRANSLATE_NOOP("JobDetails", "Log file:"),
}

#: What :meth:`JobDetails._build_body` makes: looked up before a job was shown, they are
#: built then (a test checks that it lists every one the build makes).
_BODY_PARTS = frozenset(
    {
        "body",
        "icon_label",
        "title_label",
        "status_label",
        "progress_bar",
        "progress_label",
        "cancel_button",
        "run_again_button",
        "open_log_button",
        "notice_label",
        "tabs",
        "log_view",
        "fields",
        "_form",
        "info_view",
        "params_view",
        "result_view",
        "error_view",
        "error_message",
        "traceback_toggle",
        "traceback_view",
        "_error_stretch",
        "output_view",
        "timeline_tab",
        "timeline_plot",
        "_timeline_timer",
    }
)


def pretty_json(value: Any) -> str:
    """Indented JSON; values JSON cannot express are shown with ``repr``."""
    import json  # (a job's details: the first window, which shows none, does not import it)

    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=repr)


def _when(ts: float | None) -> str:
    if ts is None:
        return EM_DASH
    from datetime import datetime  # (a job shown: not by the first window)

    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def format_resources(peak_rss: int | None, cpu_seconds: float | None) -> str:
    """``peak 52 MB, CPU 3.1 s`` for a process job's whole tree; ``—`` when not measured."""
    parts = []
    if peak_rss is not None:
        if peak_rss >= 1e6:
            peak = translate("JobDetails", "peak {size} MB").format(size=f"{peak_rss / 1e6:.0f}")
        else:
            peak = translate("JobDetails", "peak {size} kB").format(size=f"{peak_rss / 1e3:.0f}")
        parts.append(peak)
    if cpu_seconds is not None:
        parts.append(
            translate("JobDetails", "CPU {seconds} s").format(seconds=f"{cpu_seconds:.1f}")
        )
    return ", ".join(parts) or EM_DASH


def format_log_entry(entry: LogEntry) -> str:
    from datetime import datetime

    stamp = datetime.fromtimestamp(entry.ts).strftime("%H:%M:%S")
    return f"{stamp} {entry.level.upper():<7} {entry.message}"


def progress_text(job: Job) -> str:
    """The progress line of the details pane. A finished job shows where it stopped, never
    its last live message (which may be a stale ETA such as "18 s left")."""
    progress = job.progress
    known = bool(progress.total)
    counts = format_progress(progress.current, progress.total) if known else ""
    if job.status is JobStatus.RUNNING:
        head = counts or translate("JobDetails", "Working (total unknown)")
        return f"{head} \u2014 {progress.message}" if progress.message else head
    if job.status is JobStatus.PENDING:
        now = time.time()
        if job.run_at_ts is not None and job.run_at_ts > now:
            return starts_text(job, now)
        return translate("JobDetails", "Waiting to start")
    if job.status is JobStatus.COMPLETED:
        head = counts or translate("JobDetails", "Done")
        return f"{head} \u2014 {progress.message}" if progress.message else head
    if known:
        return translate("JobDetails", "Stopped at {progress}").format(progress=counts)
    return translate("JobDetails", "Stopped")


class JobDetails(QWidget):
    """Shows the job given to :meth:`set_job` and keeps it current from ``signals``.

    Top: status icon, title and a one-line status (a failure shows its message's first line,
    never a traceback), the progress bar and line, and the buttons: Cancel
    (``tracker.cancel_job``), Run again (``tracker.rerun``, else ``enqueue`` with the same
    type, params and title), Open log (the job's log file with the desktop's opener; says
    so when there is none). Below, tabs: the live log (what the job and Jobdeck said, from
    the store), the program's output (the end of its log file, followed while it runs: see
    :class:`~jobdeck.ui.output_view.OutputView`), its timeline (progress, and a program's
    memory and CPU, charted by :mod:`.timeline_plot` once the tab is first shown, redrawn at
    most every 2 s while it runs), the job's facts, parameters, the error
    (message, with the traceback in an expandable section) and the result. Every line
    above the tabs has a fixed height, so nothing moves when a job changes state. Until a
    job is first shown, only a placeholder exists: the rest is built then (start-up shows
    no job).

    ``warnings`` (optional) says when a running job is stalled or slower than usual: the
    status line says so ("Running — slower than usual (usually ~4 min)").

    Emits ``jobQueued(job_id)`` on the GUI thread after Run again queued a new job.
    """

    jobQueued = Signal(str)

    def __init__(
        self,
        tracker: JobSource,
        signals: JobEvents | None = None,
        parent: QWidget | None = None,
        *,
        warnings: JobWarnings | None = None,
    ) -> None:
        super().__init__(parent)
        self._tracker = tracker
        self._warnings = warnings
        self._job: Job | None = None
        #: The log lines read when the job was shown (live lines among them are not added).
        self._shown_lines: set[LogEntry] = set()
        failed_palette = self.palette()
        failed_palette.setColor(QPalette.ColorRole.WindowText, OUTCOME_COLORS[JobStatus.FAILED])
        self._failed_palette = failed_palette
        warning_palette = self.palette()
        warning_palette.setColor(QPalette.ColorRole.WindowText, BADGE_COLOR)
        self._warning_palette = warning_palette
        self.placeholder = QLabel(translate("JobDetails", "Select a job to see its details."), self)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self._outer = QVBoxLayout(self)
        self._outer.setContentsMargins(4, 4, 4, 4)
        self._outer.addWidget(self.placeholder)
        #: The job's widgets (header, buttons, tabs), built when a job is first shown
        #: (:meth:`_build_body`): a window that starts with no job selected skips them.
        self._body: QWidget | None = None
        #: (job id, attempts) -> the board instance that ran that attempt (see _show).
        self._instance_of: tuple[str, int, str | None] | None = None
        self._clock = QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._refresh_times)
        self._ticking = True
        if signals is not None:
            signals.jobsChanged.connect(self._on_jobs_changed)
            signals.logAppended.connect(self._on_log_appended)
        self.set_job(None)

    if not TYPE_CHECKING:  # (hidden from mypy, which checks every attribute as declared)

        def __getattr__(self, name: str) -> Any:
            """The job's widgets (``tabs``, ``fields``, ``log_view``, ...) exist once a job
            was shown; looked up before that, they are built then."""
            if name in _BODY_PARTS and self.__dict__.get("_body", False) is None:
                self._build_body()
                return getattr(self, name)
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def body_built(self) -> bool:
        """Whether the job's widgets exist yet (they are built when a job is first shown)."""
        return self.__dict__.get("_body") is not None

    def _build_body(self) -> None:
        """Build the job's widgets: the header, progress, buttons and tabs (once)."""
        if self._body is not None or self.__dict__.get("_building"):
            return
        self._building = True
        try:
            self._make_body()
        finally:  # (a build that raised must not leave every later lookup recursing)
            self._building = False

    def _make_body(self) -> None:
        # (when a job is first shown: the first window shows none)
        from .elided_label import ElidedLabel
        from .output_view import OutputView  # the log reader
        from .progress_bar import JobProgressBar

        fixed = QtGui.QFontDatabase.SystemFont.FixedFont
        mono = QtGui.QFontDatabase.systemFont(fixed)
        failed_palette = self._failed_palette

        self.icon_label = QLabel(self)
        self.icon_label.setFixedSize(32, 32)
        self.title_label = ElidedLabel("", self)
        font = self.title_label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.title_label.setFont(font)
        self.status_label = ElidedLabel("", self)
        header_text = QVBoxLayout()
        header_text.setSpacing(0)
        header_text.addWidget(self.title_label)
        header_text.addWidget(self.status_label)
        header = QHBoxLayout()
        header.addWidget(self.icon_label, 0, Qt.AlignmentFlag.AlignTop)
        header.addLayout(header_text, 1)

        self.progress_bar = JobProgressBar(parent=self)
        self.progress_bar.setFixedHeight(8)
        self.progress_label = ElidedLabel("", self)

        self.cancel_button = QPushButton(translate("JobDetails", "Cancel"), self)
        self.run_again_button = QPushButton(translate("JobDetails", "Run again"), self)
        self.open_log_button = QPushButton(translate("JobDetails", "Open log"), self)
        self.cancel_button.setToolTip(translate("JobDetails", "Cancel this job"))
        self.run_again_button.setToolTip(
            translate("JobDetails", "Queue a new job with the same parameters")
        )
        self.cancel_button.setIcon(icons.icon("cancel", icons.foreground(self)))
        self.cancel_button.clicked.connect(self.cancel)
        self.run_again_button.clicked.connect(self.run_again)
        self.open_log_button.clicked.connect(self.open_log)
        # What a button could not do ("This job has no log file"); one line, never moves.
        self.notice_label = ElidedLabel("", self)
        self.notice_label.setPalette(failed_palette)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.run_again_button)
        buttons.addWidget(self.open_log_button)
        buttons.addWidget(self.notice_label, 1)

        # tabs
        self.tabs = QTabWidget(self)
        self.tabs.setAccessibleName(translate("JobDetails", "About the job"))
        self.log_view = self._text_view(mono)
        self.log_view.setMaximumBlockCount(LOG_MAX_LINES)
        self.fields: dict[str, QLabel] = {}
        info = QWidget()
        form = self._form = QtWidgets.QFormLayout(info)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        for name in FIELD_NAMES:
            label = QLabel(info)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)
            self.fields[name] = label
            caption = QLabel(translate("JobDetails", FIELD_LABELS[name]), info)
            caption.setBuddy(label)
            label.setAccessibleName(translate("JobDetails", FIELD_LABELS[name]).rstrip(":"))
            form.addRow(caption, label)
        self.info_view = QScrollArea(self)
        self.info_view.setAccessibleName(translate("JobDetails", "Facts about the job"))
        self.info_view.setWidget(info)
        self.info_view.setWidgetResizable(True)
        self.info_view.setFrameShape(QFrame.Shape.NoFrame)
        self.params_view = self._text_view(mono)
        self.result_view = self._text_view(mono)
        self.log_view.setAccessibleName(translate("JobDetails", "Job log"))
        self.params_view.setAccessibleName(translate("JobDetails", "Job parameters"))
        self.result_view.setAccessibleName(translate("JobDetails", "Job result"))

        self.error_view = QWidget()
        self.error_message = QLabel(self.error_view)
        self.error_message.setWordWrap(True)
        self.error_message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_message.setPalette(failed_palette)
        self.error_message.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        # (made, with its enums, when first used: not for the first window)
        self.traceback_toggle = QtWidgets.QToolButton(self.error_view)
        self.traceback_toggle.setText(translate("JobDetails", "Details (traceback)"))
        self.traceback_toggle.setCheckable(True)
        self.traceback_toggle.setAutoRaise(True)
        self.traceback_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.traceback_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.traceback_toggle.toggled.connect(self.set_traceback_expanded)
        self.traceback_view = self._text_view(mono)
        self.traceback_view.setAccessibleName(translate("JobDetails", "Traceback"))
        self.traceback_view.hide()
        error_layout = QVBoxLayout(self.error_view)
        error_layout.addWidget(self.error_message)
        error_layout.addWidget(self.traceback_toggle, 0, Qt.AlignmentFlag.AlignLeft)
        error_layout.addWidget(self.traceback_view, 1)
        self._error_stretch = QWidget(self.error_view)
        self._error_stretch.setSizePolicy(
            QtWidgets.QSizePolicy.Policy.Preferred, QtWidgets.QSizePolicy.Policy.Expanding
        )
        error_layout.addWidget(self._error_stretch, 1)

        self.tabs.addTab(self.log_view, translate("JobDetails", "Log"))
        self.output_view = OutputView(mono)
        self.tabs.addTab(self.output_view, translate("JobDetails", "Output"))
        self.tabs.addTab(self.info_view, translate("JobDetails", "Details"))
        self.tabs.addTab(self.params_view, translate("JobDetails", "Parameters"))
        self.tabs.addTab(self.error_view, translate("JobDetails", "Error"))
        self.tabs.addTab(self.result_view, translate("JobDetails", "Result"))
        # the charts (pyqtgraph) are built when the tab is first shown: not at start-up
        self.timeline_tab = QWidget()
        self.timeline_tab.setAccessibleName(translate("JobDetails", "Timeline charts"))
        QVBoxLayout(self.timeline_tab).setContentsMargins(0, 4, 0, 0)
        self.timeline_plot: Any = None  # a TimelinePlot once shown
        self.tabs.insertTab(
            self.tabs.indexOf(self.info_view),
            self.timeline_tab,
            translate("JobDetails", "Timeline"),
        )
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self._timeline_timer = QTimer(self)
        self._timeline_timer.setSingleShot(True)
        self._timeline_timer.setInterval(TIMELINE_REFRESH_MS)
        self._timeline_timer.timeout.connect(self.refresh_timeline)

        self.body = QWidget(self)
        body = QVBoxLayout(self.body)
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(4)
        body.addLayout(header)
        body.addWidget(self.progress_bar)
        body.addWidget(self.progress_label)
        body.addLayout(buttons)
        body.addWidget(self.tabs, 1)
        self.body.hide()
        self._outer.addWidget(self.body)
        self._body = self.body

    @staticmethod
    def _text_view(font: Any) -> QtWidgets.QPlainTextEdit:
        view = QtWidgets.QPlainTextEdit()
        view.setReadOnly(True)
        view.setFont(font)
        view.setLineWrapMode(QtWidgets.QPlainTextEdit.LineWrapMode.NoWrap)
        return view

    # --- public ----------------------------------------------------------------------------

    @property
    def job(self) -> Job | None:
        return self._job

    def attach(
        self, tracker: JobSource, signals: JobEvents, warnings: JobWarnings | None = None
    ) -> None:
        """Show jobs of ``tracker`` and follow ``signals`` from now on: the store was opened
        after this pane was made (on an :class:`~jobdeck.core.unopened.UnopenedStore`)."""
        self._tracker = tracker
        if warnings is not None:
            self._warnings = warnings
        signals.jobsChanged.connect(self._on_jobs_changed)
        signals.logAppended.connect(self._on_log_appended)

    def set_job(self, job: Job | str | None) -> None:
        """Show a job (a snapshot or an id looked up in the tracker); None clears."""
        if isinstance(job, str):
            job = self._tracker.get_job(job)
        if job is not None:  # (the first window shows none, and imports no Job)
            from ..core.job import Job

            assert isinstance(job, Job)
        self._job = job
        if job is None:
            self._clock.stop()
            self.placeholder.show()
            if self.body_built:
                self.show_notice("")
                self.body.hide()
            return
        self._build_body()
        self.show_notice("")
        self.placeholder.hide()
        self.body.show()
        self.set_traceback_expanded(False)
        self._show(job)
        entries = self._tracker.logs(job.id, limit=LOG_TAIL)
        # Lines read here may still be on their way as live lines (logAppended): not twice.
        self._shown_lines = set(entries)
        self.log_view.setPlainText("\n".join(format_log_entry(e) for e in entries))
        from .last_line import follow_last_line

        follow_last_line(self.log_view).show()  # (not moveCursor(End): see last_line)
        if self.tabs.currentWidget() is self.timeline_tab and not job.error:
            self.refresh_timeline()  # the charts stay in view from job to job
        else:
            self.tabs.setCurrentWidget(self.error_view if job.error else self.log_view)

    def show_notice(self, text: str) -> None:
        """A one-line message next to the buttons (what a button could not do)."""
        self.notice_label.set_full_text(text)

    def notice(self) -> str:
        return self.notice_label.full_text() if self.body_built else ""

    def set_traceback_expanded(self, expanded: bool) -> None:
        """Show or hide the traceback in the Error tab."""
        if self.traceback_toggle.isChecked() != expanded:
            self.traceback_toggle.setChecked(expanded)  # comes back here via toggled
            return
        self.traceback_toggle.setArrowType(
            Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow
        )
        self.traceback_view.setVisible(expanded)
        self._error_stretch.setVisible(not expanded)

    def cancel(self) -> None:
        if self._job is not None:
            self._tracker.cancel_job(self._job.id)

    def run_again(self) -> str | None:
        """Queue a new job of the same type with the same params and title; its id.

        Uses ``tracker.rerun`` when the tracker has it (the new job records ``retry_of``).
        """
        job = self._job
        if job is None:
            return None
        try:
            rerun = getattr(self._tracker, "rerun", None)  # links the new job to this one
            if callable(rerun):
                new = rerun(job.id)
            else:
                new = self._tracker.enqueue(job.type, params=dict(job.params), title=job.title)
        except ValueError as exc:
            self.show_notice(
                translate("JobDetails", "Could not run again: {reason}").format(
                    reason=error_summary(str(exc))
                )
            )
            return None
        self.jobQueued.emit(new.id)
        return str(new.id)

    def open_log(self) -> bool:
        """Open the job's log file with the desktop's opener; when it has none, or the file
        is gone, or nothing can open it, say so next to the buttons."""
        job = self._job
        if job is None:
            return False
        if not job.log_path:
            if _printed_nothing(job):
                notice = translate("JobDetails", "No output: the program printed nothing.")
            elif self.log_view.toPlainText() or job.status.active:
                notice = translate(
                    "JobDetails", "This job has no log file; its messages are in the Log tab."
                )
            elif job.error is not None:  # (a program that could not start, say)
                notice = translate(
                    "JobDetails", "This job has no log file; the Error tab says what went wrong."
                )
            else:
                notice = translate("JobDetails", "This job has no log file and logged nothing.")
            self.show_notice(notice)
            return False
        if not os.path.exists(job.log_path):
            self.show_notice(
                translate("JobDetails", "The log file is gone: {path}").format(path=job.log_path)
            )
            return False
        if not QtGui.QDesktopServices.openUrl(QtCore.QUrl.fromLocalFile(job.log_path)):
            self.show_notice(
                translate("JobDetails", "No program could open {path}").format(path=job.log_path)
            )
            return False
        self.show_notice("")
        return True

    # --- rendering -------------------------------------------------------------------------

    def _show(self, job: Job) -> None:
        now = self._tracker.now()
        status_icon = {
            JobStatus.COMPLETED: "done",
            JobStatus.FAILED: "failed",
            JobStatus.CANCELLED: "cancelled",
            JobStatus.PENDING: "pending",
            JobStatus.RUNNING: "running",
        }[job.status]
        self.icon_label.setPixmap(icons.pixmap(status_icon, 32, icons.foreground(self)))
        self.title_label.set_full_text(job.title or job.type)
        self._show_status(job, now)

        percent = job.progress.percent
        if job.status is JobStatus.RUNNING and percent is None:
            self.progress_bar.set_busy(True)
        else:
            done = job.status is JobStatus.COMPLETED
            self.progress_bar.set_fraction(1.0 if done else (percent or 0.0) / 100.0)
        self.progress_bar.setEnabled(not job.finished or job.status is JobStatus.COMPLETED)
        self.progress_label.set_full_text(progress_text(job))

        f = self.fields
        if job.retry_of:
            f["ID"].setText(
                translate("JobDetails", "{id} (re-run of {original})").format(
                    id=job.id, original=job.retry_of
                )
            )
        else:
            f["ID"].setText(job.id)
        f["Type"].setText(job.type)
        f["Created"].setText(_when(job.created_ts))
        f["Started"].setText(_when(job.started_ts))
        f["Finished"].setText(_when(job.completed_ts))
        f["Duration"].setText(format_duration(job.elapsed(now)))
        f["Attempts"].setText(
            translate("JobDetails", "{attempts} of {max_attempts}").format(
                attempts=job.attempts, max_attempts=job.max_attempts
            )
        )
        instance = self._instance(job)
        f["Instance"].setText(instance or EM_DASH)
        self._form.setRowVisible(f["Instance"], instance is not None)
        process = []
        if job.pid is not None:
            process.append(translate("JobDetails", "pid {pid}").format(pid=job.pid))
        if job.exit_code is not None:
            process.append(translate("JobDetails", "exit code {code}").format(code=job.exit_code))
        worker = job.metadata.get("worker")
        if isinstance(worker, dict) and worker.get("address"):  # a job on a Dask cluster
            process.append(
                translate("JobDetails", "Dask worker {address} on {host}, pid {pid}").format(
                    address=worker.get("address"),
                    host=worker.get("host", "?"),
                    pid=worker.get("pid", "?"),
                )
            )
        f["Process"].setText(", ".join(process) or EM_DASH)
        f["Resources"].setText(format_resources(job.peak_rss, job.cpu_seconds))
        f["Log file"].setText(
            job.log_path
            or (translate("JobDetails", "None (no output)") if _printed_nothing(job) else EM_DASH)
        )

        error = job.error
        if error is not None:
            message = error.message.strip()
            trace = (error.traceback or "").strip()
            if message.startswith("Traceback (most recent call last)"):
                # a traceback given as the message: its last line reads, the rest is detail
                trace = trace or message
                message = error_summary(error)
            self.error_message.setText(message)
            self.traceback_view.setPlainText(trace)
            self.traceback_toggle.setVisible(bool(trace))
            if not trace:
                self.set_traceback_expanded(False)
        else:
            self.error_message.setText("")
            self.traceback_view.setPlainText("")
            self.traceback_toggle.hide()
        self.params_view.setPlainText(pretty_json({"params": job.params, "metadata": job.metadata}))
        self.result_view.setPlainText("" if job.result is None else pretty_json(job.result))
        self.tabs.setTabEnabled(self.tabs.indexOf(self.error_view), error is not None)
        self.tabs.setTabEnabled(self.tabs.indexOf(self.result_view), job.result is not None)
        printed_nothing = _printed_nothing(job)
        self.output_view.show_file(job.log_path, live=job.status.active, no_output=printed_nothing)
        # an empty Log tab says why: a program's lines are its output (progress lines too)
        why_empty = (
            translate("JobDetails", "No log lines. The program's output is on the Output tab.")
            if job.log_path
            else translate("JobDetails", "No log lines yet.")
            if job.status.active
            else translate("JobDetails", "This job logged nothing.")
        )
        if why_empty != self.log_view.placeholderText():
            self.log_view.setPlaceholderText(why_empty)
            # (Qt repaints a placeholder only when it appears or goes, not for a new text)
            self.log_view.viewport().update()
        if self.tabs.currentWidget() is self.timeline_tab and not self._timeline_timer.isActive():
            self._timeline_timer.start()
        self.tabs.setTabEnabled(
            self.tabs.indexOf(self.output_view), bool(job.log_path) or printed_nothing
        )

        self.cancel_button.setEnabled(job.status.active and not job.cancel_requested)
        self.run_again_button.setEnabled(True)
        self.open_log_button.setToolTip(
            job.log_path
            or (
                translate("JobDetails", "No output: the program printed nothing.")
                if printed_nothing
                else translate("JobDetails", "This job has no log file")
            )
        )
        if job.status is JobStatus.RUNNING and self._ticking:
            self._clock.start()
        else:
            self._clock.stop()

    def _on_tab_changed(self, index: int) -> None:
        if self.tabs.widget(index) is self.timeline_tab:
            self.refresh_timeline()

    def refresh_timeline(self) -> None:
        """Draw the shown job's timeline in the Timeline tab (building the charts, and
        importing pyqtgraph, the first time)."""
        job = self._job
        read = getattr(self._tracker, "timeline", None)
        if job is None or not callable(read) or getattr(self._tracker, "closed", False):
            return  # (a refresh due as the app quits, after its tracker closed: nothing)
        if self.timeline_plot is None:
            from .timeline_plot import TimelinePlot  # pyqtgraph: only when first shown

            self.timeline_plot = TimelinePlot(self.timeline_tab)
            layout = self.timeline_tab.layout()
            assert layout is not None
            layout.addWidget(self.timeline_plot)
        try:
            timeline = read(job.id)
        except StoreError:
            return  # the store cannot be read now: drawn again on the next update
        self.timeline_plot.show_timeline(timeline, job.started_ts)

    def _instance(self, job: Job) -> str | None:
        """The app instance on a shared board that runs (ran) ``job``; asked of the tracker
        once per attempt, not on every progress update. None on a SQLite store."""
        if job.started_ts is None:
            return None
        cached = self._instance_of
        if cached is not None and cached[:2] == (job.id, job.attempts):
            return cached[2]
        try:
            instance = self._tracker.runs_on(job.id)
        except StoreError:
            return None  # the board cannot be reached now: asked again on the next update
        self._instance_of = (job.id, job.attempts, instance)
        return instance

    def set_ticking(self, ticking: bool) -> None:
        """Tick a running job's duration once a second, or not (the window is hidden:
        nothing wakes up in the tray). Ticking again brings it up to date at once."""
        self._ticking = ticking
        job = self._job
        if ticking and job is not None and job.status is JobStatus.RUNNING:
            self._refresh_times()
            self._clock.start()
        elif not ticking:
            self._clock.stop()

    def _paint_icons(self) -> None:
        self.cancel_button.setIcon(icons.icon("cancel", icons.foreground(self)))
        if self._job is not None:
            self._show(self._job)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self.body_built:
            self._paint_icons()

    def _refresh_times(self) -> None:
        if self._job is not None:
            now = self._tracker.now()
            self.fields["Duration"].setText(format_duration(self._job.elapsed(now)))
            self._show_status(self._job, now)

    def _show_status(self, job: Job, now: float) -> None:
        """The status line: a failure's first line, or a running job's warning (stalled,
        slower than usual) in the badge colour."""
        status = status_text(job.status)
        if job.cancel_requested and job.status.active:
            status = translate("JobDetails", "{status} \u2014 cancelling\u2026").format(
                status=status
            )
        summary = error_summary(job.error)
        if summary:
            status += f" \u2014 {summary}"
        warning = self._warnings.warning(job, now) if self._warnings is not None else None
        if warning:
            status += f" \u2014 {warning}"
        self.status_label.set_full_text(status)
        if job.status is JobStatus.FAILED:
            self.status_label.setPalette(self._failed_palette)
        else:
            self.status_label.setPalette(self._warning_palette if warning else self.palette())

    def refresh_warning(self) -> None:
        """Say at once that the shown job stalled or came back (the stall monitor's news)."""
        if self._job is not None:
            self._show_status(self._job, self._tracker.now())

    def _on_jobs_changed(self, jobs: list[Job]) -> None:
        if self._job is None:
            return
        for job in reversed(jobs):  # the last snapshot of our job in the batch wins
            if job.id == self._job.id:
                self._job = job
                self._show(job)
                return

    def _on_log_appended(self, entries: list[LogEntry]) -> None:
        if self._job is None:
            return
        shown = self._shown_lines
        mine = [format_log_entry(e) for e in entries if e.job_id == self._job.id and e not in shown]
        if not mine:
            return
        bar = self.log_view.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 2
        self.log_view.appendPlainText("\n".join(mine))
        if at_end:
            bar.setValue(bar.maximum())


def _printed_nothing(job: Job) -> bool:
    """True when ``job`` ran a program that ended having printed nothing: the service
    creates a log file with the first output, and the job's end clears its ``log_path``
    when there is none (a stored path whose file is missing is a deleted log)."""
    return not job.log_path and job.pid is not None and job.finished
