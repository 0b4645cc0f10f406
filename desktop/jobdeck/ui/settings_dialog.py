"""The Settings dialog: concurrency, retention, notifications, the taskbar's placement, the
tray icon's animation, when a job is stalled, staying awake, the browser board's port and
the Dask scheduler."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from ..i18n import translate
from .formatting import QT_TRANSLATE_NOOP

__all__ = ["SettingsDialog", "SettingsValues", "dask_address_problem"]

#: A Dask scheduler's address: ``tcp://host:8786`` (or tls://, ws://, wss://, ucx://).
_DASK_ADDRESS = re.compile(r"^(tcp|tls|ws|wss|ucx)://(\[[0-9A-Fa-f:.]+\]|[^\s/:\[\]]+):\d{1,5}$")


def dask_address_problem(text: str) -> str | None:
    """Why ``text`` is not a Dask scheduler address (None: it is one, or it is empty)."""
    text = text.strip()
    if not text or _DASK_ADDRESS.match(text):
        return None
    return translate(
        "SettingsDialog",
        "{text!r} is not a Dask scheduler address: write it like tcp://scheduler:8786 "
        "(or leave it empty to run such jobs here)",
    ).format(text=text)


SLEEP_CHOICES = (
    ("off", QT_TRANSLATE_NOOP("SettingsDialog", "Never")),
    ("any", QT_TRANSLATE_NOOP("SettingsDialog", "While any job runs")),
    ("long", QT_TRANSLATE_NOOP("SettingsDialog", "While a long job runs")),
)

CORNERS = (
    ("bottom-right", QT_TRANSLATE_NOOP("SettingsDialog", "Bottom right")),
    ("bottom-left", QT_TRANSLATE_NOOP("SettingsDialog", "Bottom left")),
    ("top-right", QT_TRANSLATE_NOOP("SettingsDialog", "Top right")),
    ("top-left", QT_TRANSLATE_NOOP("SettingsDialog", "Top left")),
)


@dataclass(frozen=True)
class SettingsValues:
    """What the dialog edits (the app applies and stores it)."""

    concurrency: int
    retention: timedelta | None
    notifications: bool
    notify_after_s: float
    taskbar_corner: str
    keep_finished_ms: int
    taskbar_always_show: bool = False
    sleep_inhibit: str = "long"
    sleep_inhibit_after_min: int = 10
    tray_animate: bool = True
    #: The localhost TCP port of the API and the browser board; 0: off (the Unix socket only).
    api_port: int = 0
    #: The Dask scheduler (``tcp://host:8786``) for job types that ask for Dask; "": none.
    dask_scheduler: str = ""
    #: Minutes without progress or output after which a running job is stalled (a job
    #: type's own ``stall_after`` wins).
    stall_after_min: int = 10


class SettingsDialog(QDialog):
    """Edits a :class:`SettingsValues`; ``values()`` gives the result after ``exec()``."""

    def __init__(self, current: SettingsValues, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(translate("SettingsDialog", "Jobdeck settings"))
        self.concurrency = QSpinBox(self)
        self.concurrency.setRange(1, 64)
        self.concurrency.setValue(current.concurrency)
        self.concurrency.setToolTip(
            translate("SettingsDialog", "How many jobs may run at the same time")
        )
        self.retention = QSpinBox(self)
        self.retention.setRange(0, 36500)
        self.retention.setSpecialValueText(translate("SettingsDialog", "Keep all"))
        self.retention.setSuffix(translate("SettingsDialog", " days"))
        days = 0 if current.retention is None else round(current.retention.total_seconds() / 86400)
        self.retention.setValue(days)
        self.retention.setToolTip(
            translate("SettingsDialog", "Finished jobs older than this are deleted at start-up")
        )
        self.notifications = QCheckBox(
            translate("SettingsDialog", "Notify when a job fails or a long job ends"), self
        )
        self.notifications.setChecked(current.notifications)
        self.notify_after = QSpinBox(self)
        self.notify_after.setRange(0, 86400)
        self.notify_after.setSuffix(translate("SettingsDialog", " s"))
        self.notify_after.setValue(int(current.notify_after_s))
        self.notify_after.setToolTip(
            translate("SettingsDialog", "A completed job is announced if it ran at least this long")
        )
        self.notifications.toggled.connect(self.notify_after.setEnabled)
        self.notify_after.setEnabled(current.notifications)
        self.corner = QComboBox(self)
        for value, label in CORNERS:
            self.corner.addItem(translate("SettingsDialog", label), value)
        index = self.corner.findData(current.taskbar_corner)
        self.corner.setCurrentIndex(max(0, index))
        self.keep_finished = QSpinBox(self)
        self.keep_finished.setRange(0, 600)
        self.keep_finished.setSuffix(translate("SettingsDialog", " s"))
        self.keep_finished.setValue(round(current.keep_finished_ms / 1000))
        self.keep_finished.setToolTip(
            translate(
                "SettingsDialog",
                "How long a finished job's row stays in the taskbar; with nothing running, "
                "the taskbar hides after that",
            )
        )
        self.always_show = QCheckBox(
            translate("SettingsDialog", "Always show the taskbar, even when nothing runs"), self
        )
        self.always_show.setChecked(current.taskbar_always_show)
        self.tray_animate = QCheckBox(translate("SettingsDialog", "Animate the tray icon"), self)
        self.tray_animate.setChecked(current.tray_animate)
        self.tray_animate.setToolTip(
            translate(
                "SettingsDialog",
                "While a job of unknown length runs, the tray icon's ring turns (a few frames "
                "a second); off, it shows a still ring",
            )
        )

        self.stall_after = QSpinBox(self)
        self.stall_after.setRange(1, 7 * 24 * 60)
        self.stall_after.setSuffix(translate("SettingsDialog", " min"))
        self.stall_after.setValue(current.stall_after_min)
        self.stall_after.setToolTip(
            translate(
                "SettingsDialog",
                "A running job with no progress and no output for this long is shown as "
                "stalled, and you are told once (job types may set their own time)",
            )
        )
        self.stall_after.setAccessibleName(
            translate("SettingsDialog", "Stalled after minutes without progress")
        )

        self.sleep = QComboBox(self)
        for value, label in SLEEP_CHOICES:
            self.sleep.addItem(translate("SettingsDialog", label), value)
        self.sleep.setCurrentIndex(max(0, self.sleep.findData(current.sleep_inhibit)))
        self.sleep.setToolTip(
            translate("SettingsDialog", "Keep the computer from going to sleep while jobs run")
        )
        self.sleep_after = QSpinBox(self)
        self.sleep_after.setRange(1, 24 * 60)
        self.sleep_after.setSuffix(translate("SettingsDialog", " min"))
        self.sleep_after.setValue(current.sleep_inhibit_after_min)
        self.sleep_after.setToolTip(
            translate("SettingsDialog", "A job counts as long once it has run this long")
        )
        self.sleep.currentIndexChanged.connect(
            lambda: self.sleep_after.setEnabled(self.sleep.currentData() == "long")
        )
        self.sleep_after.setEnabled(current.sleep_inhibit == "long")

        self.api_port = QSpinBox(self)
        self.api_port.setRange(0, 65535)
        self.api_port.setSpecialValueText(translate("SettingsDialog", "Off"))
        self.api_port.setValue(current.api_port)
        self.api_port.setToolTip(
            translate(
                "SettingsDialog",
                "Serve the API and the browser board on http://127.0.0.1:<port> too (every "
                "request needs the token); off, only this user's programs reach it through "
                "its socket. Applies at the next start.",
            )
        )
        self.api_port.setAccessibleName(translate("SettingsDialog", "Browser board port"))

        self.dask_scheduler = QLineEdit(current.dask_scheduler, self)
        self.dask_scheduler.setPlaceholderText(
            translate("SettingsDialog", "tcp://scheduler:8786 (empty: run them here)")
        )
        self.dask_scheduler.setToolTip(
            translate(
                "SettingsDialog",
                "Job types that ask for Dask run on this scheduler's cluster; empty, they run "
                "on this computer. Applies at the next start (--dask wins for one launch).",
            )
        )
        self.dask_scheduler.setAccessibleName(translate("SettingsDialog", "Dask scheduler"))
        # wide enough for its hint: cut, "(empty: run them here)" was lost
        hint = self.dask_scheduler.fontMetrics().horizontalAdvance(
            self.dask_scheduler.placeholderText()
        )
        self.dask_scheduler.setMinimumWidth(hint + 16)
        self.dask_problem = QLabel(self)
        self.dask_problem.setWordWrap(True)
        self.dask_problem.setStyleSheet("color: #c62828;")
        self.dask_problem.hide()
        self.dask_scheduler.textEdited.connect(lambda _: self.dask_problem.hide())

        form = QFormLayout(self)
        form.addRow(translate("SettingsDialog", "Jobs at once:"), self.concurrency)
        form.addRow(translate("SettingsDialog", "Keep history:"), self.retention)
        form.addRow(self.notifications)
        form.addRow(translate("SettingsDialog", "Announce jobs longer than:"), self.notify_after)
        form.addRow(translate("SettingsDialog", "Taskbar corner:"), self.corner)
        form.addRow(translate("SettingsDialog", "Keep finished rows:"), self.keep_finished)
        form.addRow(self.always_show)
        form.addRow(self.tray_animate)
        form.addRow(translate("SettingsDialog", "Stalled after:"), self.stall_after)
        form.addRow(translate("SettingsDialog", "Stay awake:"), self.sleep)
        form.addRow(
            translate("SettingsDialog", "Stay awake for jobs longer than:"), self.sleep_after
        )
        form.addRow(translate("SettingsDialog", "Browser board port:"), self.api_port)
        form.addRow(translate("SettingsDialog", "Dask scheduler:"), self.dask_scheduler)
        form.addRow(self.dask_problem)
        self.notify_after.setAccessibleName(
            translate("SettingsDialog", "Announce jobs longer than")
        )
        self.sleep_after.setAccessibleName(
            translate("SettingsDialog", "Stay awake for jobs longer than")
        )
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def accept(self) -> None:
        """Close with the values, unless the Dask scheduler's address is not one (then
        say why, under the field, and keep the dialog open)."""
        problem = dask_address_problem(self.dask_scheduler.text())
        if problem is not None:
            self.dask_problem.setText(problem)
            self.dask_problem.show()
            self.dask_scheduler.setFocus()
            return
        super().accept()

    def values(self) -> SettingsValues:
        days = self.retention.value()
        return SettingsValues(
            concurrency=self.concurrency.value(),
            retention=None if days == 0 else timedelta(days=days),
            notifications=self.notifications.isChecked(),
            notify_after_s=float(self.notify_after.value()),
            taskbar_corner=str(self.corner.currentData()),
            keep_finished_ms=self.keep_finished.value() * 1000,
            taskbar_always_show=self.always_show.isChecked(),
            sleep_inhibit=str(self.sleep.currentData()),
            sleep_inhibit_after_min=self.sleep_after.value(),
            tray_animate=self.tray_animate.isChecked(),
            api_port=self.api_port.value(),
            dask_scheduler=self.dask_scheduler.text().strip(),
            stall_after_min=self.stall_after.value(),
        )
