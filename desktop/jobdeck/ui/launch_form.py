"""A form generated from a job type's parameter schema that queues a job."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from PySide6 import QtGui
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ..core.job_source import JobSource
from ..core.job_status import JobStatus
from ..core.registry import JobType
from ..i18n import translate
from . import icons
from .colors import OUTCOME_COLORS
from .formatting import error_summary, type_text
from .param_fields import MISSING, ArgvField, FieldError, ParamField, make_field

if TYPE_CHECKING:
    from .elided_label import ElidedLabel

__all__ = ["LaunchForm", "LaunchForms"]


def _field_of(exc: ValueError, names: list[str]) -> str | None:
    """Which parameter a validation error is about: its ``field`` attribute, else the name
    the message starts with or mentions (``argv[2]: ...`` -> ``argv``)."""
    field = getattr(exc, "field", None)
    if isinstance(field, str):
        base = re.split(r"[\[.]", field, maxsplit=1)[0]
        if base in names:
            return base
    text = str(exc)
    for name in sorted(names, key=len, reverse=True):
        if re.match(rf"{re.escape(name)}\b", text):
            return name
    for name in sorted(names, key=len, reverse=True):
        if re.search(rf"\b{re.escape(name)}\b", text):
            return name
    return None


class LaunchForm(QWidget):
    """Edits the parameters of one job type and queues a job with them.

    One editor per ParamSpec (see :mod:`jobdeck.ui.param_fields`). Start (or Ctrl+Return)
    converts the inputs, validates them with ``job_type.validate`` and calls
    ``tracker.enqueue(job_type.name, params=..., title=...)``. A bad value shows a red
    message under its field (and a general one) and queues nothing.

    The job type's own texts (title, description, parameter labels and help) are shown
    through :func:`~jobdeck.ui.formatting.type_text`, so a translation can carry them too.

    Emits ``jobQueued(job_id)`` on the GUI thread after a job was queued.
    """

    jobQueued = Signal(str)

    def __init__(
        self, job_type: JobType, tracker: JobSource, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._job_type = job_type
        self._tracker = tracker
        self.fields: dict[str, ParamField] = {}
        self.error_labels: dict[str, QLabel] = {}
        self.field_labels: dict[str, QLabel] = {}
        error_palette = self.palette()
        error_palette.setColor(QPalette.ColorRole.WindowText, OUTCOME_COLORS[JobStatus.FAILED])

        title = type_text(job_type.title)
        heading = QLabel(title, self)
        # Bold, 1.2 times the size: a style sheet, not a copy of the label's font, which
        # would make PySide6 create QFont's class and its eight enums (~7 million
        # instructions, a style sheet ~1.7 million) before the first window is painted.
        size = heading.fontInfo().pointSizeF() * 1.2
        heading.setStyleSheet(f"font-weight: bold; font-size: {size:.4f}pt")
        self.icon_label = icon_label = QLabel(self)
        self._paint_icon()
        top = QHBoxLayout()
        top.addWidget(icon_label)
        top.addWidget(heading, 1)
        description = QLabel(type_text(job_type.description or ""), self)
        description.setWordWrap(True)
        description.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        description.setVisible(bool(job_type.description))

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)  # labels above: narrow pane
        self.title_edit = QLineEdit(self)
        self.title_edit.setObjectName("job_title")
        self.title_edit.setPlaceholderText(
            translate("LaunchForm", "{type} (optional title)").format(type=title)
        )
        self.title_edit.setAccessibleName(translate("LaunchForm", "Job title"))
        form.addRow(translate("LaunchForm", "Title:"), self.title_edit)
        for spec in job_type.params:
            field = make_field(spec, job_type.name)
            self.fields[spec.name] = field
            error = QLabel(self)
            error.setObjectName(f"error_{spec.name}")
            error.setWordWrap(True)
            error.setPalette(error_palette)
            error.hide()
            self.error_labels[spec.name] = error
            cell = QWidget(self)
            column = QVBoxLayout(cell)
            column.setContentsMargins(0, 0, 0, 0)
            column.setSpacing(2)
            column.addWidget(field.widget)
            column.addWidget(error)
            name = type_text(spec.label) if spec.label else spec.name
            label = QLabel(translate("LaunchForm", "{label}:").format(label=name), self)
            label.setBuddy(field.focus_widget())
            self.field_labels[spec.name] = label
            if spec.help:
                label.setToolTip(type_text(spec.help))
            form.addRow(label, cell)

        self.general_error = QLabel(self)
        self.general_error.setObjectName("general_error")
        self.general_error.setWordWrap(True)
        self.general_error.setPalette(error_palette)
        self.general_error.hide()
        #: "Queued <title>" beside Start, made when a job is first queued (see _say_queued).
        self.status_label: ElidedLabel | None = None
        self.start_button = QPushButton(translate("LaunchForm", "Start"), self)
        self.start_button.setDefault(True)
        self.start_button.setToolTip(translate("LaunchForm", "Queue the job (Ctrl+Return)"))
        self.start_button.setAccessibleDescription(
            translate("LaunchForm", "Queue a {type} job").format(type=title)
        )
        self.start_button.clicked.connect(self.submit)
        # A store still being opened queues nothing: Start waits for it (see attach).
        self.start_button.setEnabled(not tracker.closed)
        self._buttons = buttons = QHBoxLayout()
        buttons.addStretch(1)  # (the status label's place: see _say_queued)
        buttons.addWidget(self.start_button)

        # The fields scroll when the window is short; Start stays in sight below them.
        body = QWidget(self)
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(0, 0, 0, 0)
        body_layout.addLayout(top)
        body_layout.addWidget(description)
        body_layout.addLayout(form)
        body_layout.addWidget(self.general_error)
        body_layout.addStretch(1)
        scroller = QScrollArea(self)
        scroller.setAccessibleName(
            translate("LaunchForm", "Parameters of {type}").format(type=title)
        )
        scroller.setWidget(body)
        scroller.setWidgetResizable(True)
        scroller.setFrameShape(QFrame.Shape.NoFrame)
        scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        bar = scroller.verticalScrollBar().sizeHint().width()
        scroller.setMinimumWidth(body.minimumSizeHint().width() + bar)
        layout = QVBoxLayout(self)
        layout.addWidget(scroller, 1)
        layout.addLayout(buttons)

        self._shortcuts_added = False
        if not tracker.closed:  # (else with the store: see attach)
            self._add_shortcuts()

    def attach(self, tracker: JobSource) -> None:
        """Queue jobs on ``tracker`` from now on (the store is open): Start is enabled."""
        self._tracker = tracker
        self.start_button.setEnabled(not tracker.closed)
        if not tracker.closed:
            self._add_shortcuts()

    def _add_shortcuts(self) -> None:
        """Ctrl+Return (and Ctrl+Enter) start the job, once the store is open: before, Start
        is disabled, and the first shortcut makes PySide6 create Qt's shortcut and
        key-sequence classes (before the first window otherwise)."""
        if self._shortcuts_added:
            return
        self._shortcuts_added = True
        for key in ("Ctrl+Return", "Ctrl+Enter"):
            shortcut = QtGui.QShortcut(QtGui.QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(self.submit)

    @property
    def job_type(self) -> Any:
        return self._job_type

    def params(self) -> dict[str, Any]:
        """The typed parameters as entered (empty optional fields left out).

        Raises :class:`~jobdeck.ui.param_fields.FieldError` for text that cannot be converted.
        """
        out: dict[str, Any] = {}
        for name, field in self.fields.items():
            value = field.value()
            if value is not MISSING:
                out[name] = value
        argv = self.fields.get("argv")
        if isinstance(argv, ArgvField) and out.get("shell") is True and "argv" in out:
            out["argv"] = [argv.raw_text()]  # a shell gets the command line as typed
        return out

    def set_params(self, params: dict[str, Any]) -> None:
        """Fill the editors from ``params`` (e.g. to edit a previous job's parameters)."""
        for name, value in params.items():
            if name in self.fields:
                self.fields[name].set_value(value)

    def clear_errors(self) -> None:
        for label in self.error_labels.values():
            label.clear()
            label.hide()
        self.general_error.clear()
        self.general_error.hide()

    def show_error(self, exc: ValueError) -> None:
        """Show ``exc`` under the field it names (if any), with the validation message as
        the job type gave it, and in the general error line (never a traceback)."""
        name = _field_of(exc, list(self.fields))
        problem = getattr(exc, "problem", None)
        text = problem if isinstance(problem, str) and name is not None else str(exc)
        text = error_summary(text)
        if name is not None:
            label = self.error_labels[name]
            label.setText(text)
            label.show()
            self.fields[name].focus_widget().setFocus()
            spec_label = next(
                (type_text(s.label) or s.name for s in self._job_type.params if s.name == name),
                name,
            )
            self.general_error.setText(
                translate("LaunchForm", "Not started: {field}: {problem}").format(
                    field=spec_label, problem=text
                )
            )
        else:
            self.general_error.setText(
                translate("LaunchForm", "Not started: {problem}").format(problem=text)
            )
        self.general_error.show()

    def submit(self) -> str | None:
        """Validate and queue; the new job's id, or None when the input was invalid."""
        if not self.start_button.isEnabled():  # Ctrl+Return while the store opens
            return None
        self.clear_errors()
        if self.status_label is not None:
            self.status_label.set_full_text("")
        try:
            params = self.params()
            validate = getattr(self._job_type, "validate", None)
            if validate is not None:
                params = validate(params)
            title = self.title_edit.text().strip() or None
            job = self._tracker.enqueue(self._job_type.name, params=params, title=title)
        except (FieldError, ValueError) as exc:
            self.show_error(exc)
            return None
        self._say_queued(translate("LaunchForm", "Queued {title}").format(title=job.title))
        self.jobQueued.emit(job.id)
        return str(job.id)

    def _say_queued(self, text: str) -> None:
        """Show ``text`` beside Start, cut short to fit (whole in its tooltip): a plain
        label of a long title widened the launcher over the history, whose titles then
        read "L…". Made when first needed: the first window does not import it."""
        if self.status_label is None:
            from .elided_label import ElidedLabel

            self.status_label = ElidedLabel("", self)
            self.status_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
            self._buttons.takeAt(0)  # the stretch that kept its place
            self._buttons.insertWidget(0, self.status_label, 1)
        self.status_label.set_full_text(text)

    def _paint_icon(self) -> None:
        name = icons.type_icon_name(self._job_type.icon)
        self.icon_label.setPixmap(icons.pixmap(name, 24, icons.foreground(self)))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._paint_icon()


class LaunchForms(Mapping[str, LaunchForm]):
    """The launch forms of several job types, pages of ``stack`` in the order added, each
    built the first time it is shown (:meth:`show`) or looked up: a window opens without
    building forms nobody looks at. ``on_queued(job_id)`` is called for every job a form
    queues."""

    def __init__(
        self, stack: QStackedWidget, tracker: JobSource, on_queued: Callable[[str], object]
    ) -> None:
        self._stack = stack
        self._tracker = tracker
        self._on_queued = on_queued
        self._types: list[JobType] = []
        self._built: dict[str, LaunchForm] = {}

    def attach(self, tracker: JobSource) -> None:
        """Queue jobs on ``tracker`` from now on (the store is open), in the forms built
        already and those built later."""
        self._tracker = tracker
        for form in self._built.values():
            form.attach(tracker)

    def add(self, job_type: JobType) -> None:
        """A page for ``job_type`` (an empty one until its form is built)."""
        self._types.append(job_type)
        self._stack.addWidget(QWidget(self._stack))

    def show(self, index: int) -> LaunchForm:
        """Build (if needed) and show the form at ``index``."""
        form = self[self._types[index].name]
        self._stack.setCurrentIndex(index)
        return form

    def __getitem__(self, name: str) -> LaunchForm:
        form = self._built.get(name)
        if form is not None:
            return form
        index = next((i for i, t in enumerate(self._types) if t.name == name), None)
        if index is None:
            raise KeyError(name)
        current = self._stack.currentIndex()
        placeholder = self._stack.widget(index)
        form = LaunchForm(self._types[index], self._tracker, self._stack)
        form.jobQueued.connect(self._on_queued)
        self._stack.insertWidget(index, form)
        if placeholder is not None:
            self._stack.removeWidget(placeholder)
            placeholder.deleteLater()
        self._stack.setCurrentIndex(current)
        self._built[name] = form
        return form

    def __contains__(self, name: object) -> bool:
        return any(t.name == name for t in self._types)  # without building the form

    def __iter__(self) -> Iterator[str]:
        return iter([t.name for t in self._types])

    def __len__(self) -> int:
        return len(self._types)
