"""Accessibility: every control has a name a screen reader can say, and the taskbar works
from the keyboard (Tab between rows, Enter opens a job, Delete cancels after asking)."""

# Rows and jobs looked up by id are known to exist here; Qt's stubs type menus as QObject.
# mypy: disable-error-code="union-attr,arg-type,attr-defined"

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from jobdeck.core.job import JobStatus, Progress
from jobdeck.jobs import builtin_registry
from jobdeck.ui.main_window import MainWindow
from jobdeck.ui.settings_dialog import SettingsDialog, SettingsValues
from jobdeck.ui.taskbar import Taskbar

from .fakes import fake_registry, make_job
from .ui_walk import accessible_nodes, has_name, is_interactive


def unnamed_controls(root: QWidget) -> list[str]:
    """Paths of the interactive nodes of ``root``'s accessibility tree without a name."""
    return [
        path for node, path in accessible_nodes(root) if is_interactive(node) and not has_name(node)
    ]


def controls(root: QWidget) -> int:
    return sum(1 for node, _ in accessible_nodes(root) if is_interactive(node))


@pytest.fixture
def jobs(tracker):
    return tracker.add(
        make_job("Copy photos", current=3, total=10, message="IMG_0003.jpg", type="copy"),
        make_job("Scan disk", total=0, message="reading"),
        make_job("Wait a while", JobStatus.PENDING),
    )


@pytest.fixture(params=["fake", "builtin"])
def window(request, qtbot, tracker, signals, jobs):
    tracker.registry = fake_registry() if request.param == "fake" else builtin_registry()
    window = MainWindow(tracker, signals, tracker.registry)
    qtbot.addWidget(window)
    window.show()
    window.show_job(jobs[0].id)  # the details pane with its buttons and tabs
    return window


@pytest.fixture
def taskbar(qtbot, tracker, signals, jobs):
    bar = Taskbar(signals, tracker, confirm_cancel=lambda row, job: True)
    qtbot.addWidget(bar)
    bar.set_enabled(True)
    qtbot.waitUntil(lambda: len(bar.rows()) == 3, timeout=3000)
    return bar


def test_every_control_of_the_main_window_has_a_name(window) -> None:
    assert controls(window) > 40  # the walk reached the launcher, history and details
    assert unnamed_controls(window) == []
    assert window.type_list.accessibleName()
    assert window.search_edit.accessibleName()
    assert window.table.accessibleName()
    argv = window.launch_forms["command"].fields["argv"]
    assert argv.focus_widget().accessibleName()  # the command field


def test_the_check_finds_a_control_without_a_name(qtbot) -> None:
    from PySide6.QtWidgets import QComboBox, QToolButton, QVBoxLayout

    box = QWidget()
    qtbot.addWidget(box)
    layout = QVBoxLayout(box)
    icon_only = QToolButton(box)
    combo = QComboBox(box)
    combo.addItems(["a value, not a name"])
    layout.addWidget(icon_only)
    layout.addWidget(combo)
    assert len(unnamed_controls(box)) == 2
    icon_only.setAccessibleName("Cancel Copy photos")
    combo.setAccessibleName("Algorithm")
    assert unnamed_controls(box) == []


def test_every_control_of_the_taskbar_and_settings_has_a_name(qtbot, taskbar) -> None:
    assert controls(taskbar) >= 5
    assert unnamed_controls(taskbar) == []
    dialog = SettingsDialog(
        SettingsValues(
            concurrency=2,
            retention=None,
            notifications=True,
            notify_after_s=30,
            taskbar_corner="bottom-right",
            keep_finished_ms=4000,
        )
    )
    qtbot.addWidget(dialog)
    assert unnamed_controls(dialog) == []
    assert dialog.notify_after.accessibleName() != dialog.sleep_after.accessibleName()
    # and a person sees it too: no two rows of the form have the same label
    form = dialog.layout()
    labels = [form.labelForField(form.itemAt(i).widget()) for i in range(form.count())]
    texts = [label.text() for label in labels if label is not None]
    assert len(texts) >= 8 and len(set(texts)) == len(texts), texts
    # and the Dask field's hint ("... (empty: run them here)") is not cut off
    dialog.show()
    qtbot.waitExposed(dialog)
    field = dialog.dask_scheduler
    hint = field.fontMetrics().horizontalAdvance(field.placeholderText())
    assert field.width() >= hint + 8


def test_cancel_buttons_name_their_job(taskbar, signals, jobs) -> None:
    names = {
        row.job_id: QAccessible.queryAccessibleInterface(row.cancel_button).text(
            QAccessible.Text.Name
        )
        for row in taskbar.rows()
    }
    assert names[jobs[0].id] == "Cancel Copy photos"
    assert names[jobs[2].id] == "Cancel Wait a while"
    renamed = replace(jobs[0], title="Copy holiday photos")
    signals.push_changed(renamed)
    taskbar.refresh()
    assert taskbar.row_for(jobs[0].id).cancel_button.accessibleName() == (
        "Cancel Copy holiday photos"
    )
    row = QAccessible.queryAccessibleInterface(taskbar.row_for(jobs[0].id))
    assert row.text(QAccessible.Text.Name) == "Copy holiday photos"
    assert "IMG_0003.jpg" in row.text(QAccessible.Text.Description)


def focus(qtbot, widget: QWidget) -> None:
    widget.activateWindow()
    widget.setFocus(Qt.FocusReason.OtherFocusReason)
    qtbot.waitUntil(widget.hasFocus, timeout=3000)


def test_tab_and_arrows_move_between_rows_and_enter_opens(qtbot, taskbar) -> None:
    rows = taskbar.rows()
    assert all(r.focusPolicy() & Qt.FocusPolicy.TabFocus for r in rows)
    assert taskbar.focus_rows()
    qtbot.waitUntil(rows[0].hasFocus, timeout=3000)
    qtbot.keyClick(rows[0], Qt.Key.Key_Tab)
    assert rows[1].hasFocus()  # the cancel buttons are no tab stops: Delete cancels
    qtbot.keyClick(rows[1], Qt.Key.Key_Down)
    assert rows[2].hasFocus()
    qtbot.keyClick(rows[2], Qt.Key.Key_Up)
    assert rows[1].hasFocus()
    qtbot.keyClick(rows[1], Qt.Key.Key_Backtab)
    assert rows[0].hasFocus()
    with qtbot.waitSignal(taskbar.jobActivated, timeout=1000) as opened:
        qtbot.keyClick(rows[0], Qt.Key.Key_Return)
    assert opened.args == [rows[0].job_id]


def test_tab_follows_the_rows_order_after_the_rows_change(qtbot, taskbar, signals, jobs) -> None:
    newer = make_job("Newest, running")
    signals.push_added(newer)  # its row is made last but shown above the pending row
    taskbar.refresh()
    rows = taskbar.rows()
    assert [r.job_id for r in rows] == [jobs[0].id, jobs[1].id, newer.id, jobs[2].id]
    focus(qtbot, rows[0])
    for here, there in itertools.pairwise(rows):
        qtbot.keyClick(here, Qt.Key.Key_Tab)
        assert there.hasFocus(), (here.job_id, there.job_id)


def test_delete_cancels_the_focused_job_after_asking(qtbot, taskbar, tracker, jobs) -> None:
    asked = []
    answer = False

    def confirm(row, job):
        asked.append(job.id)
        return answer

    taskbar.confirm_cancel = confirm
    row = taskbar.row_for(jobs[1].id)
    focus(qtbot, row)
    qtbot.keyClick(row, Qt.Key.Key_Delete)
    assert asked == [jobs[1].id] and tracker.cancelled == []  # said no: nothing happens
    answer = True
    qtbot.keyClick(row, Qt.Key.Key_Delete)
    assert tracker.cancelled == [jobs[1].id]


def test_delete_asks_with_a_message_box_whose_default_keeps_the_job(
    qtbot, tracker, signals, jobs
) -> None:
    bar = Taskbar(signals, tracker)  # the real confirmation
    qtbot.addWidget(bar)
    bar.set_enabled(True)
    qtbot.waitUntil(lambda: len(bar.rows()) == 3, timeout=3000)
    row = bar.row_for(jobs[0].id)
    texts: list[str] = []

    def answer(default: bool) -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, lambda: answer(default))
            return
        texts.append(box.text())
        if default:
            box.defaultButton().click()
        else:
            stop = next(
                b
                for b in box.buttons()
                if box.buttonRole(b) == QMessageBox.ButtonRole.DestructiveRole
            )
            stop.click()

    focus(qtbot, row)
    QTimer.singleShot(0, lambda: answer(default=True))
    qtbot.keyClick(row, Qt.Key.Key_Delete)
    assert texts == ["Cancel \u201cCopy photos\u201d?"] and tracker.cancelled == []
    QTimer.singleShot(0, lambda: answer(default=False))
    qtbot.keyClick(row, Qt.Key.Key_Delete)
    assert tracker.cancelled == [jobs[0].id]


def test_keyboard_focus_stays_in_the_list_when_the_focused_row_leaves(
    qtbot, tracker, signals, jobs
) -> None:
    bar = Taskbar(signals, tracker, keep_finished_ms=0, confirm_cancel=lambda r, j: True)
    qtbot.addWidget(bar)
    bar.set_enabled(True)
    qtbot.waitUntil(lambda: len(bar.rows()) == 3, timeout=3000)
    last = bar.row_for(jobs[2].id)
    focus(qtbot, last)
    signals.push_changed(replace(jobs[2], status=JobStatus.CANCELLED))  # cancelled with Delete
    qtbot.waitUntil(lambda: len(bar.rows()) == 2, timeout=3000)
    qtbot.waitUntil(lambda: bar.row_for(jobs[1].id).hasFocus(), timeout=3000)  # the new last
    middle = bar.row_for(jobs[0].id)
    focus(qtbot, middle)
    signals.push_changed(replace(jobs[0], status=JobStatus.COMPLETED, progress=Progress(1, 1)))
    qtbot.waitUntil(lambda: len(bar.rows()) == 1, timeout=3000)
    qtbot.waitUntil(lambda: bar.row_for(jobs[1].id).hasFocus(), timeout=3000)


def test_view_menu_brings_the_keyboard_to_the_taskbar(qtbot, qapp, tmp_path) -> None:
    """The real app: View > Go to the taskbar (Ctrl+Shift+T) from the main window focuses
    the first row of the floating taskbar, even while it kept out of the window's way."""
    from PySide6.QtCore import QSettings
    from PySide6.QtGui import QKeySequence

    from jobdeck.app import JobdeckApp, QuitChoice
    from jobdeck.settings import AppSettings

    settings = AppSettings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    app = JobdeckApp(
        qapp,
        tmp_path / "jobs.db",
        settings=settings,
        confirm_quit=lambda *_: QuitChoice.STAY,
        on_quit=lambda: None,
        session_bus=None,
    )
    try:
        app.start()
        job = app.tracker.enqueue("countdown", {"seconds": 30}, title="Count down")
        qtbot.waitUntil(lambda: len(app.taskbar.rows()) == 1, timeout=10_000)
        actions = {
            a.shortcut().toString(): a
            for menu in app.window.menuBar().actions()
            for a in menu.menu().actions()
        }
        go = actions[QKeySequence("Ctrl+Shift+T").toString()]
        go.trigger()
        row = app.taskbar.row_for(job.id)
        qtbot.waitUntil(lambda: row.hasFocus() and app.taskbar.isVisible(), timeout=5000)
        with qtbot.waitSignal(app.taskbar.jobActivated, timeout=2000) as opened:
            qtbot.keyClick(row, Qt.Key.Key_Return)
        assert opened.args == [job.id]
        qtbot.waitUntil(lambda: app.window.details.job is not None, timeout=5000)
        assert app.window.details.job.id == job.id  # Enter opened it in the window
        app.tracker.cancel_job(job.id)
    finally:
        app.shutdown()


def test_every_menu_item_has_a_shortcut_ctrl_comma_opens_settings(qtbot, window) -> None:
    """Jobdeck ▸ Settings… had no shortcut but on macOS and KDE (Qt's Preferences key is
    empty elsewhere, e.g. GNOME, Xfce or no desktop): Ctrl+, opens it there."""
    window.activateWindow()
    qtbot.waitActive(window)
    qtbot.waitUntil(lambda: len(window.menuBar().actions()[0].menu().actions()) > 0)
    items = [
        a
        for menu in window.menuBar().actions()
        for a in menu.menu().actions()
        if not a.isSeparator()
    ]
    assert [a.text() for a in items if a.shortcut().isEmpty()] == []
    with qtbot.waitSignal(window.settingsRequested, timeout=2000):
        qtbot.keyClick(window.table, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
