"""Everything about one job: params, timings, progress, error, live log tail, result."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QFontDatabase, QPalette, QTextCursor
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..core.events import LogEntry
from ..core.job import Job, JobStatus
from . import icons
from .formatting import EM_DASH, format_duration, format_percent
from .job_row import OUTCOME_COLORS

__all__ = ["JobDetails", "format_resources", "pretty_json"]

LOG_TAIL = 200
LOG_MAX_LINES = 5000


def pretty_json(value: Any) -> str:
    """Indented JSON; values JSON cannot express are shown with ``repr``."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=repr)


def _when(ts: float | None) -> str:
    if ts is None:
        return EM_DASH
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def format_resources(peak_rss: int | None, cpu_seconds: float | None) -> str:
    """``peak 52 MB, CPU 3.1 s`` for a process job's whole tree; ``—`` when not measured."""
    parts = []
    if peak_rss is not None:
        parts.append(
            f"peak {peak_rss / 1e6:.0f} MB" if peak_rss >= 1e6 else f"peak {peak_rss / 1e3:.0f} kB"
        )
    if cpu_seconds is not None:
        parts.append(f"CPU {cpu_seconds:.1f} s")
    return ", ".join(parts) or EM_DASH


def format_log_entry(entry: LogEntry) -> str:
    stamp = datetime.fromtimestamp(entry.ts).strftime("%H:%M:%S")
    return f"{stamp} {entry.level.upper():<7} {entry.message}"


class JobDetails(QWidget):
    """Shows the job given to :meth:`set_job` and keeps it current from ``signals``.

    Buttons: Cancel (``tracker.cancel_job``), Run again (``tracker.enqueue`` with the same
    type, params and title), Open log (the job's log file with the desktop's opener).
    Emits ``jobQueued(job_id)`` on the GUI thread after Run again queued a new job.
    """

    jobQueued = Signal(str)

    def __init__(self, tracker: Any, signals: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._tracker = tracker
        self._job: Job | None = None
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)

        self.icon_label = QLabel(self)
        self.icon_label.setFixedSize(32, 32)
        self.title_label = QLabel(self)
        self.title_label.setWordWrap(True)
        self.title_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.title_label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.25)
        self.title_label.setFont(font)
        self.status_label = QLabel(self)
        header_text = QVBoxLayout()
        header_text.setSpacing(0)
        header_text.addWidget(self.title_label)
        header_text.addWidget(self.status_label)
        header = QHBoxLayout()
        header.addWidget(self.icon_label, 0, Qt.AlignmentFlag.AlignTop)
        header.addLayout(header_text, 1)

        self.progress_bar = QProgressBar(self)
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setFixedHeight(8)
        self.progress_label = QLabel(self)
        self.progress_label.setWordWrap(True)

        self.fields: dict[str, QLabel] = {}
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        for name in (
            "ID",
            "Type",
            "Created",
            "Started",
            "Finished",
            "Duration",
            "Attempts",
            "Process",
            "Resources",
            "Log file",
        ):
            label = QLabel(self)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)
            self.fields[name] = label
            form.addRow(f"{name}:", label)

        self.error_label = QLabel(self)
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        palette = self.error_label.palette()
        palette.setColor(QPalette.ColorRole.WindowText, OUTCOME_COLORS[JobStatus.FAILED])
        self.error_label.setPalette(palette)

        self.tabs = QTabWidget(self)
        self.log_view = self._text_view(mono)
        self.log_view.setMaximumBlockCount(LOG_MAX_LINES)
        self.params_view = self._text_view(mono)
        self.error_view = self._text_view(mono)
        self.result_view = self._text_view(mono)
        self.tabs.addTab(self.log_view, "Log")
        self.tabs.addTab(self.params_view, "Parameters")
        self.tabs.addTab(self.error_view, "Error")
        self.tabs.addTab(self.result_view, "Result")

        self.cancel_button = QPushButton(icons.icon("cancel"), "Cancel", self)
        self.run_again_button = QPushButton("Run again", self)
        self.open_log_button = QPushButton("Open log", self)
        self.cancel_button.clicked.connect(self.cancel)
        self.run_again_button.clicked.connect(self.run_again)
        self.open_log_button.clicked.connect(self.open_log)
        self.action_error_label = QLabel(self)
        self.action_error_label.setWordWrap(True)
        self.action_error_label.setPalette(palette)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.run_again_button)
        buttons.addWidget(self.open_log_button)
        buttons.addStretch(1)

        self.placeholder = QLabel("Select a job to see its details.", self)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.body = QWidget(self)
        body = QVBoxLayout(self.body)
        body.setContentsMargins(0, 0, 0, 0)
        body.addLayout(header)
        body.addWidget(self.progress_bar)
        body.addWidget(self.progress_label)
        body.addLayout(form)
        body.addWidget(self.error_label)
        body.addLayout(buttons)
        body.addWidget(self.action_error_label)
        body.addWidget(self.tabs, 1)
        outer = QVBoxLayout(self)
        outer.addWidget(self.placeholder)
        outer.addWidget(self.body)

        self._clock = QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._refresh_times)
        if signals is not None:
            signals.jobsChanged.connect(self._on_jobs_changed)
            signals.logAppended.connect(self._on_log_appended)
        self.set_job(None)

    @staticmethod
    def _text_view(font: Any) -> QPlainTextEdit:
        view = QPlainTextEdit()
        view.setReadOnly(True)
        view.setFont(font)
        view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        return view

    # --- public ----------------------------------------------------------------------------

    @property
    def job(self) -> Job | None:
        return self._job

    def set_job(self, job: Job | str | None) -> None:
        """Show a job (a snapshot or an id looked up in the tracker); None clears."""
        if isinstance(job, str):
            job = self._tracker.get_job(job)
        assert job is None or isinstance(job, Job)
        self._job = job
        self.action_error_label.clear()
        self.action_error_label.hide()
        self.placeholder.setVisible(job is None)
        self.body.setVisible(job is not None)
        if job is None:
            self._clock.stop()
            return
        self._show(job)
        self.log_view.setPlainText(
            "\n".join(format_log_entry(e) for e in self._tracker.logs(job.id, limit=LOG_TAIL))
        )
        self.log_view.moveCursor(QTextCursor.MoveOperation.End)
        self.tabs.setCurrentWidget(self.error_view if job.error else self.log_view)

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
            self.action_error_label.setText(f"Could not run again: {exc}")
            self.action_error_label.show()
            return None
        self.jobQueued.emit(new.id)
        return new.id

    def open_log(self) -> bool:
        if self._job is None or not self._job.log_path:
            return False
        return QDesktopServices.openUrl(QUrl.fromLocalFile(self._job.log_path))

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
        self.icon_label.setPixmap(icons.pixmap(status_icon, 32))
        self.title_label.setText(job.title or job.type)
        status = job.status.value.capitalize()
        if job.cancel_requested and job.status.active:
            status += " \u2014 cancelling\u2026"
        self.status_label.setText(status)

        percent = job.progress.percent
        if job.status is JobStatus.RUNNING and percent is None:
            self.progress_bar.setRange(0, 0)
        else:
            self.progress_bar.setRange(0, 1000)
            done = job.status is JobStatus.COMPLETED
            self.progress_bar.setValue(1000 if done else round((percent or 0) * 10))
        text = format_percent(percent)
        if job.progress.total:
            text += f" ({job.progress.current:g} of {job.progress.total:g})"
        if job.progress.message:
            text += f" \u2014 {job.progress.message}"
        if job.finished and percent is None and not job.progress.message:
            text = ""
        self.progress_label.setText(text)
        self.progress_label.setVisible(bool(text))

        f = self.fields
        f["ID"].setText(job.id + (f" (re-run of {job.retry_of})" if job.retry_of else ""))
        f["Type"].setText(job.type)
        f["Created"].setText(_when(job.created_ts))
        f["Started"].setText(_when(job.started_ts))
        f["Finished"].setText(_when(job.completed_ts))
        f["Duration"].setText(format_duration(job.elapsed(now)))
        f["Attempts"].setText(f"{job.attempts} of {job.max_attempts}")
        process = []
        if job.pid is not None:
            process.append(f"pid {job.pid}")
        if job.exit_code is not None:
            process.append(f"exit code {job.exit_code}")
        f["Process"].setText(", ".join(process) or EM_DASH)
        f["Resources"].setText(format_resources(job.peak_rss, job.cpu_seconds))
        f["Log file"].setText(job.log_path or EM_DASH)

        if job.error is not None:
            self.error_label.setText(job.error.message)
            self.error_view.setPlainText(
                job.error.message + ("\n\n" + job.error.traceback if job.error.traceback else "")
            )
        else:
            self.error_view.setPlainText("")
        self.error_label.setVisible(job.error is not None)
        self.params_view.setPlainText(pretty_json({"params": job.params, "metadata": job.metadata}))
        self.result_view.setPlainText("" if job.result is None else pretty_json(job.result))
        self.tabs.setTabEnabled(self.tabs.indexOf(self.error_view), job.error is not None)
        self.tabs.setTabEnabled(self.tabs.indexOf(self.result_view), job.result is not None)

        self.cancel_button.setEnabled(job.status.active and not job.cancel_requested)
        self.run_again_button.setEnabled(True)
        self.open_log_button.setEnabled(bool(job.log_path))
        self.open_log_button.setToolTip(job.log_path or "This job has no log file")
        if job.status is JobStatus.RUNNING:
            self._clock.start()
        else:
            self._clock.stop()

    def _refresh_times(self) -> None:
        if self._job is not None:
            self.fields["Duration"].setText(format_duration(self._job.elapsed(self._tracker.now())))

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
        mine = [format_log_entry(e) for e in entries if e.job_id == self._job.id]
        if not mine:
            return
        bar = self.log_view.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 2
        self.log_view.appendPlainText("\n".join(mine))
        if at_end:
            bar.setValue(bar.maximum())
