"""One editor widget per parameter kind, used by the launch form.

Each field turns what the user typed into a JSON-form value (``value()``), or raises
:class:`FieldError` naming the parameter when the text cannot be converted (an unbalanced
quote, ``abc`` in a list of integers). Range and required checks are left to the job type's
``validate`` so there is one source of truth.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6 import QtWidgets
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from ..core.registry import REQUIRED
from ..i18n import translate
from .formatting import type_text

if TYPE_CHECKING:
    from PySide6.QtGui import QMouseEvent

__all__ = ["MISSING", "FieldError", "ParamField", "kind_name", "make_field"]

# (Editors the first window's form may not use are named through ``QtWidgets`` where they
# are made: PySide6 creates a class, with its enums, when it is first named.)
INT_LIMIT = 2_147_483_647
FLOAT_LIMIT = 1e15


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: ``value()`` of a field left empty: the key is left out so the type's default applies.
MISSING: Any = _Missing()


class FieldError(ValueError):
    """What the user typed in ``field`` cannot be turned into a value."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def kind_name(kind: Any) -> str:
    """``"int"`` for ``ParamKind.INT`` (or any enum / string spelling of a kind)."""
    value = getattr(kind, "value", kind)
    if isinstance(value, str):
        return value.lower()
    return str(getattr(kind, "name", kind)).lower()


def has_default(spec: Any) -> bool:
    """True when ``spec`` has a usable default (not the REQUIRED sentinel)."""
    return spec.default is not REQUIRED and not getattr(spec, "required", False)


def _initial(spec: Any) -> Any:
    return spec.default if has_default(spec) else None


class ParamField:
    """Base of the per-kind editors: ``widget`` goes into the form."""

    widget: QWidget

    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self.name: str = spec.name

    def value(self) -> Any:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        raise NotImplementedError

    def focus_widget(self) -> QWidget:
        return self.widget


class TextField(ParamField):
    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        self.edit = QLineEdit()
        self.widget = self.edit
        initial = _initial(spec)
        if isinstance(initial, str):
            self.edit.setText(initial)
        if spec.help:
            self.edit.setPlaceholderText(type_text(spec.help))

    def value(self) -> Any:
        text = self.edit.text()
        if not text and (not has_default(self.spec) or self.spec.default in (None, "")):
            return MISSING
        return text

    def set_value(self, value: Any) -> None:
        self.edit.setText("" if value is None else str(value))


class PathField(TextField):
    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        if self.edit.text() == ".":
            # A default of "here" (``Path()``) shows empty, with the hint saying what empty
            # means ("empty: the script's folder"): "." read as the app's own folder.
            self.edit.clear()
        self.browse_button = QPushButton(translate("ParamField", "Browse\u2026"))
        self.browse_button.setAccessibleName(
            translate("ParamField", "Choose {label}").format(label=_label(spec))
        )
        self.browse_button.clicked.connect(self.browse)
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(self.browse_button)
        self.widget = box

    def wants_directory(self) -> bool:
        hint = f"{self.spec.name} {self.spec.label}".lower()
        return any(word in hint for word in ("dir", "cwd", "folder"))

    def browse(self) -> None:
        start = self.edit.text()
        if self.wants_directory():
            # (through the module: PySide6 makes the class, and its enums, when first used)
            chosen = QtWidgets.QFileDialog.getExistingDirectory(
                self.widget, _label(self.spec), start
            )
        else:
            chosen, _ = QtWidgets.QFileDialog.getOpenFileName(self.widget, _label(self.spec), start)
        if chosen:
            self.edit.setText(chosen)

    def value(self) -> Any:
        text = self.edit.text().strip()
        return text if text else MISSING

    def focus_widget(self) -> QWidget:
        return self.edit


class IntField(ParamField):
    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        self.spin = QtWidgets.QSpinBox()
        low = -INT_LIMIT if spec.minimum is None else max(-INT_LIMIT, int(spec.minimum))
        high = INT_LIMIT if spec.maximum is None else min(INT_LIMIT, int(spec.maximum))
        self.spin.setRange(low, high)
        initial = _initial(spec)
        self.spin.setValue(initial if isinstance(initial, int) else max(low, min(0, high)))
        self.widget = self.spin

    def value(self) -> Any:
        return int(self.spin.value())

    def set_value(self, value: Any) -> None:
        self.spin.setValue(int(value))


class FloatField(ParamField):
    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        from .compact_spin_box import CompactDoubleSpinBox

        self.spin = CompactDoubleSpinBox()
        self.spin.setDecimals(3)
        low = -FLOAT_LIMIT if spec.minimum is None else float(spec.minimum)
        high = FLOAT_LIMIT if spec.maximum is None else float(spec.maximum)
        self.spin.setRange(low, high)
        if high - low <= 10:
            self.spin.setSingleStep(0.1)
        initial = _initial(spec)
        if isinstance(initial, int | float):
            self.spin.setValue(float(initial))
        else:
            self.spin.setValue(max(low, min(0.0, high)))
        self.widget = self.spin

    def value(self) -> Any:
        return float(self.spin.value())

    def set_value(self, value: Any) -> None:
        self.spin.setValue(float(value))


class _ClickableLabel(QLabel):
    """A word-wrapped label that toggles its check box when clicked (a QCheckBox's own
    text cannot wrap, so a long help text would widen the whole form)."""

    def __init__(self, text: str, check: QCheckBox) -> None:
        super().__init__(text)
        self._check = check
        self.setWordWrap(True)
        self.setBuddy(check)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._check.isEnabled():
            self._check.toggle()
        super().mouseReleaseEvent(event)


class BoolField(ParamField):
    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        self.check = QCheckBox()
        self.check.setChecked(bool(_initial(spec)))
        self.check.setAccessibleDescription(type_text(spec.help or ""))
        self.text_label = _ClickableLabel(type_text(spec.help or ""), self.check)
        self.text_label.setVisible(bool(spec.help))
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.check, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.text_label, 1)
        self.widget = box

    def focus_widget(self) -> QWidget:
        return self.check

    def value(self) -> Any:
        return self.check.isChecked()

    def set_value(self, value: Any) -> None:
        self.check.setChecked(bool(value))


class EnumField(ParamField):
    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        self.combo = QComboBox()
        self.combo.addItems([str(c) for c in spec.choices])
        initial = _initial(spec)
        if initial is not None:
            self.set_value(initial)
        self.widget = self.combo

    def value(self) -> Any:
        return self.combo.currentText() if self.combo.count() else MISSING

    def set_value(self, value: Any) -> None:
        index = self.combo.findText(str(getattr(value, "value", value)))
        if index >= 0:
            self.combo.setCurrentIndex(index)


def _convert_item(kind: str, text: str, where: str) -> Any:
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            problem = translate("ParamField", "expected an integer, got {text}")
            raise FieldError(where, problem.format(text=repr(text))) from None
    if kind == "float":
        try:
            return float(text)
        except ValueError:
            problem = translate("ParamField", "expected a number, got {text}")
            raise FieldError(where, problem.format(text=repr(text))) from None
    if kind == "bool":
        lowered = text.lower()
        if lowered in ("true", "yes", "1", "on"):
            return True
        if lowered in ("false", "no", "0", "off"):
            return False
        problem = translate("ParamField", "expected true or false, got {text}")
        raise FieldError(where, problem.format(text=repr(text)))
    return text


class ListField(ParamField):
    """One item per line."""

    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        self.edit = QtWidgets.QPlainTextEdit()
        self.edit.setPlaceholderText(
            type_text(spec.help) if spec.help else translate("ParamField", "One item per line")
        )
        self.edit.setTabChangesFocus(True)
        self.edit.setFixedHeight(self.edit.fontMetrics().lineSpacing() * 4 + 12)
        initial = _initial(spec)
        if isinstance(initial, list | tuple):
            self.set_value(initial)
        self.widget = self.edit

    def value(self) -> Any:
        item_kind = kind_name(self.spec.item_kind or "str")
        lines = [line.strip() for line in self.edit.toPlainText().splitlines()]
        items = [line for line in lines if line]
        return [_convert_item(item_kind, t, f"{self.name}[{i}]") for i, t in enumerate(items)]

    def set_value(self, value: Any) -> None:
        self.edit.setPlainText("\n".join(str(v) for v in value or []))


class ArgvField(ParamField):
    """A command line typed as one shell-like line and split with :func:`shlex.split`."""

    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(
            type_text(spec.help)
            if spec.help
            else translate("ParamField", 'program --option "an argument"')
        )
        initial = _initial(spec)
        if isinstance(initial, list | tuple):
            self.set_value(initial)
        self.widget = self.edit

    def raw_text(self) -> str:
        return self.edit.text().strip()

    def value(self) -> Any:
        text = self.raw_text()
        if not text:
            return MISSING
        import shlex  # (when a command is read: not for the first window)

        try:
            return shlex.split(text)
        except ValueError as exc:
            problem = translate("ParamField", "cannot split the command line: {error}")
            raise FieldError(self.name, problem.format(error=exc)) from None

    def set_value(self, value: Any) -> None:
        import shlex

        self.edit.setText(shlex.join(str(v) for v in value or []))


class MappingField(ParamField):
    """A two-column name/value table (the environment editor)."""

    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(
            [translate("ParamField", "Name"), translate("ParamField", "Value")]
        )
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setMinimumHeight(84)
        self.table.setMaximumHeight(96)
        self.add_button = QPushButton(translate("ParamField", "Add"))
        self.remove_button = QPushButton(translate("ParamField", "Remove"))
        self.add_button.setAccessibleName(
            translate("ParamField", "Add a row to {label}").format(label=_label(spec))
        )
        self.remove_button.setAccessibleName(
            translate("ParamField", "Remove the selected rows of {label}").format(
                label=_label(spec)
            )
        )
        self.add_button.clicked.connect(lambda: self.add_row())
        self.remove_button.clicked.connect(self.remove_selected)
        buttons = QVBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.table, 1)
        row.addLayout(buttons)
        self.widget = box
        initial = _initial(spec)
        if isinstance(initial, dict):
            self.set_value(initial)

    def add_row(self, key: str = "", value: str = "") -> int:
        row = self.table.rowCount()
        self.table.insertRow(row)
        self.table.setItem(row, 0, QtWidgets.QTableWidgetItem(key))
        self.table.setItem(row, 1, QtWidgets.QTableWidgetItem(value))
        if not key:
            self.table.setCurrentCell(row, 0)
        return row

    def remove_selected(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True)
        if not rows and self.table.currentRow() >= 0:
            rows = [self.table.currentRow()]
        for row in rows:
            self.table.removeRow(row)

    def value(self) -> Any:
        out: dict[str, str] = {}
        for row in range(self.table.rowCount()):
            key_item, value_item = self.table.item(row, 0), self.table.item(row, 1)
            key = key_item.text().strip() if key_item else ""
            value = value_item.text() if value_item else ""
            if not key:
                if value:
                    problem = translate("ParamField", "row {row} has a value but no name")
                    raise FieldError(self.name, problem.format(row=row + 1))
                continue
            if key in out:
                problem = translate("ParamField", "{name} appears twice")
                raise FieldError(self.name, problem.format(name=repr(key)))
            out[key] = value
        return out

    def set_value(self, value: Any) -> None:
        self.table.setRowCount(0)
        for key, item in dict(value or {}).items():
            self.add_row(str(key), str(item))

    def focus_widget(self) -> QWidget:
        return self.table


def _label(spec: Any) -> str:
    """What a parameter is called on screen: its label (translated when possible) or name."""
    return type_text(spec.label) if spec.label else str(spec.name)


def make_field(spec: Any, job_type_name: str = "") -> ParamField:
    """The editor for ``spec``; a list named ``argv`` becomes a one-line command editor.
    Its focus widget's accessible name is the parameter's label."""
    field = _new_field(spec, job_type_name)
    field.widget.setObjectName(f"param_{spec.name}")
    field.widget.setToolTip(type_text(spec.help or ""))
    field.focus_widget().setAccessibleName(_label(spec))
    return field


def _new_field(spec: Any, job_type_name: str) -> ParamField:
    kind = kind_name(spec.kind)
    if kind == "list" and spec.name == "argv":
        return ArgvField(spec)
    factories: dict[str, type[ParamField]] = {
        "str": TextField,
        "path": PathField,
        "int": IntField,
        "float": FloatField,
        "bool": BoolField,
        "enum": EnumField,
        "list": ListField,
        "mapping": MappingField,
    }
    try:
        factory = factories[kind]
    except KeyError:
        raise ValueError(
            f"{job_type_name or 'job type'}: parameter {spec.name!r} has unsupported kind {kind!r}"
        ) from None
    return factory(spec)
