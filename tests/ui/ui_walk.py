"""Walk what a user sees of a widget tree: every visible text, and the accessibility tree.

Shared by the pseudo-locale test (every text must come from a translation) and the
accessibility test (every control must have a name).
"""

from __future__ import annotations

from collections.abc import Iterator

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, Qt
from PySide6.QtGui import QAccessible, QAccessibleInterface, QAction
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QComboBox,
    QDockWidget,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QPlainTextEdit,
    QSpinBox,
    QTabBar,
    QWidget,
)

from jobdeck.ui.elided_label import ElidedLabel

#: Items of an item view read per column (a history of hundreds of rows needs no more).
MAX_ROWS = 50


def _menu_texts(menu: QMenu, where: str) -> Iterator[tuple[str, str]]:
    for action in menu.actions():
        if action.isSeparator():
            continue
        yield f"{where} > action", action.text()
        yield f"{where} > {action.text()!r} tooltip", _own_tooltip(action)
        submenu = action.menu()
        if isinstance(submenu, QMenu):
            yield from _menu_texts(submenu, f"{where} > {action.text()}")


def _own_tooltip(action: QAction) -> str:
    """An action's tooltip unless it is Qt's default (the text without '&')."""
    tip = action.toolTip()
    return "" if tip == action.text().replace("&", "") else tip


def visible_texts(root: QWidget) -> Iterator[tuple[str, str]]:
    """``(where, text)`` for every text ``root`` and its children show a user: labels,
    buttons, placeholders, tooltips, window titles, tabs, combo items, headers, item texts,
    spin box affixes, menus, status bar messages and accessible names/descriptions."""
    widgets = [root, *root.findChildren(QWidget)]
    for w in widgets:
        where = f"{type(w).__name__}({w.objectName() or w.accessibleName() or ''})"
        if w.isWindow() or isinstance(w, QDockWidget):
            yield f"{where} title", w.windowTitle()
        yield f"{where} tooltip", w.toolTip()
        yield f"{where} accessible name", w.accessibleName()
        yield f"{where} accessible description", w.accessibleDescription()
        if isinstance(w, ElidedLabel):
            yield where, w.full_text()
        elif isinstance(w, QLabel | QAbstractButton):
            yield where, w.text()
        elif isinstance(w, QLineEdit | QPlainTextEdit):
            yield f"{where} placeholder", w.placeholderText()
        elif isinstance(w, QComboBox):
            for i in range(w.count()):
                yield f"{where} item {i}", w.itemText(i)
                tip = w.itemData(i, Qt.ItemDataRole.ToolTipRole)
                yield f"{where} item {i} tooltip", tip if isinstance(tip, str) else ""
        elif isinstance(w, QTabBar):
            for i in range(w.count()):
                yield f"{where} tab {i}", w.tabText(i)
                yield f"{where} tab {i} tooltip", w.tabToolTip(i)
        elif isinstance(w, QSpinBox):
            yield f"{where} suffix", w.suffix()
            yield f"{where} prefix", w.prefix()
            yield f"{where} special value", w.specialValueText()
        elif isinstance(w, QAbstractItemView) and w.model() is not None:
            yield from _model_texts(w, where)
        elif isinstance(w, QMenu):
            yield from _menu_texts(w, where)
        if isinstance(w, QMainWindow):
            for action in w.menuBar().actions():
                yield f"{where} menu", action.text()
                submenu = action.menu()
                if isinstance(submenu, QMenu):
                    yield from _menu_texts(submenu, f"{where} menu {action.text()}")
            yield f"{where} status bar", w.statusBar().currentMessage()


def _model_texts(view: QAbstractItemView, where: str) -> Iterator[tuple[str, str]]:
    model = view.model()
    root = QModelIndex()
    is_list = isinstance(model, QAbstractListModel)
    columns = 1 if is_list else model.columnCount(root)
    for section in range(0 if is_list else columns):
        for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            value = model.headerData(section, Qt.Orientation.Horizontal, role)
            yield f"{where} header {section}", value if isinstance(value, str) else ""
    for row in range(min(model.rowCount(root), MAX_ROWS)):
        for column in range(columns):
            index = model.index(row, column)
            for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
                value = index.data(role)
                yield f"{where} cell {row},{column}", value if isinstance(value, str) else ""


#: Roles of controls a person operates: each needs an accessible name.
INTERACTIVE_ROLES = {
    QAccessible.Role.Button,
    QAccessible.Role.PushButton,
    QAccessible.Role.CheckBox,
    QAccessible.Role.RadioButton,
    QAccessible.Role.ComboBox,
    QAccessible.Role.EditableText,
    QAccessible.Role.SpinBox,
    QAccessible.Role.Slider,
    QAccessible.Role.List,
    QAccessible.Role.ListItem,
    QAccessible.Role.Table,
    QAccessible.Role.Tree,
    QAccessible.Role.PageTab,
    QAccessible.Role.PageTabList,
    QAccessible.Role.MenuItem,
    QAccessible.Role.ButtonMenu,
    QAccessible.Role.ButtonDropDown,
    QAccessible.Role.ButtonDropGrid,
}


def accessible_nodes(root: QObject) -> Iterator[tuple[QAccessibleInterface, str]]:
    """Every node of ``root``'s accessibility tree with a path for messages. Cells of
    tables and items of the combo boxes' popups are data, not controls: not entered."""
    start = QAccessible.queryAccessibleInterface(root)
    assert start is not None and start.isValid(), f"no accessible interface for {root!r}"
    stack: list[tuple[QAccessibleInterface, str]] = [(start, start.role().name)]
    seen = 0
    while stack:
        node, path = stack.pop()
        seen += 1
        assert seen < 20_000, "accessibility tree too large (a cycle?)"
        yield node, path
        if node.role() in (QAccessible.Role.Table, QAccessible.Role.Tree):
            continue
        if node.role() == QAccessible.Role.ComboBox:
            continue  # its popup list repeats the items; the combo box speaks for it
        for i in range(node.childCount()):
            child = node.child(i)
            if child is not None and child.isValid():
                name = child.text(QAccessible.Text.Name)
                stack.append((child, f"{path} / {child.role().name}({name!r})"))


def has_name(node: QAccessibleInterface) -> bool:
    """Whether a screen reader can say what ``node`` is. On Linux a combo box's Name is its
    current value (Qt's choice); what it is comes from an accessible name or a label."""
    if not node.text(QAccessible.Text.Name).strip():
        return False
    if node.role() == QAccessible.Role.ComboBox:
        obj = node.object()
        labelled = node.relations(QAccessible.RelationFlag.Label)
        return bool(labelled) or (isinstance(obj, QWidget) and bool(obj.accessibleName()))
    return True


def is_interactive(node: QAccessibleInterface) -> bool:
    """A control a person operates: an interactive role, or a focusable widget."""
    if node.role() == QAccessible.Role.Separator:
        return False
    if node.role() in INTERACTIVE_ROLES:
        return True
    obj = node.object()
    return (
        isinstance(obj, QWidget)
        and bool(obj.focusPolicy() & Qt.FocusPolicy.TabFocus)
        and node.role() not in (QAccessible.Role.ScrollBar, QAccessible.Role.Grip)
    )
