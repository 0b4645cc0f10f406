"""A panel that keeps to a corner of the screen: :class:`PlacedPanel`, the floating
taskbar's placement, dragging and screen handling.

Docked in its ``corner`` of the screen's available area by default. Only a real drag
(farther than the platform's drag distance) detaches it; the dragged position is saved in
``settings`` as an anchor (the panel corner nearest the screen corner it was dropped near).
Whatever its position, the panel stays wholly inside the available area and grows away from
its anchor; a change of screen or of the screen's available area places it again. While the
window given to :meth:`PlacedPanel.avoid_window` is active, the panel moves to a corner
clear of it, or asks to be hidden (``_out_of_the_way``) when there is none. GUI thread.
"""

from __future__ import annotations

import contextlib

import shiboken6
from PySide6.QtCore import QEvent, QObject, QPoint, QRect, QSize, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QMouseEvent, QScreen, QShowEvent
from PySide6.QtWidgets import QApplication, QWidget

from .placement import (
    Corner,
    anchor_point,
    clamp_into,
    corner_rect,
    nearest_corner,
    rect_at_anchor,
)
from .settings_store import SettingsStore

__all__ = [
    "FALLBACK_AREA",
    "SCREEN_MARGIN",
    "SETTINGS_ANCHOR_KEY",
    "SETTINGS_POS_KEY",
    "PlacedPanel",
]

#: Where a dragged panel's anchor point and anchor corner are kept in the settings.
SETTINGS_POS_KEY = "taskbar/pos"
SETTINGS_ANCHOR_KEY = "taskbar/anchor"
SCREEN_MARGIN = 16
#: The fallback screen area when Qt knows no screen (the smallest supported desktop).
FALLBACK_AREA = QRect(0, 0, 1280, 800)


def _active_dialog_of(window: QWidget) -> QWidget | None:
    """The active window when it is a window of ``window``'s (a dialog it opened, or one
    of that dialog's), else None."""
    active = QApplication.activeWindow()
    if active is None or active is window:
        return None
    owner = active.parentWidget()
    while owner is not None:
        owner = owner.window()
        if owner is window:
            return active
        owner = owner.parentWidget()
    return None


class PlacedPanel(QWidget):
    """Placement for a floating panel (see the module); a subclass fills it and decides
    when it shows (:meth:`_update_visibility`). With ``floating`` False it is never moved."""

    def __init__(
        self,
        parent: QWidget | None,
        *,
        corner: Corner,
        settings: SettingsStore | None,
        floating: bool,
    ) -> None:
        super().__init__(parent)
        self._corner = corner
        self._settings = settings
        self._floating = bool(floating)
        self._press_global: QPoint | None = None
        self._press_pos = QPoint()
        self._dragging = False
        # None: docked in self._corner. Else (anchor corner, anchor point) of a dragged panel.
        self._anchor: tuple[Corner, QPoint] | None = None
        self._avoided: QWidget | None = None
        self._watching_focus = False
        self._out_of_the_way = False  # hidden because the avoided window leaves no room
        self._focus_on_activation: QWidget | None = None
        self._screen: QScreen | None = None
        self._area_override: QRect | None = None
        app = QGuiApplication.instance()
        if isinstance(app, QGuiApplication):
            app.screenAdded.connect(self._on_screens_changed)
            app.screenRemoved.connect(self._on_screens_changed)
            app.primaryScreenChanged.connect(self._on_screens_changed)

    def _update_visibility(self) -> None:
        """Show or hide as the subclass decides (``_out_of_the_way`` changed)."""

    @property
    def corner(self) -> Corner:
        return self._corner

    @property
    def anchor(self) -> Corner:
        """The panel corner it grows away from: the docking corner, or the one a drag set."""
        return self._anchor[0] if self._anchor is not None else self._corner

    def is_docked(self) -> bool:
        """True while the panel sits in its configured corner (not dragged elsewhere)."""
        return self._anchor is None

    def avoid_window(self, window: QWidget | None) -> None:
        """Keep clear of ``window`` while it is the active window (the main window has its
        own view of running jobs): move to a free corner, or hide."""
        if self._avoided is not None:
            self._avoided.removeEventFilter(self)
        self._avoided = window
        if window is not None:
            window.installEventFilter(self)
            app = QGuiApplication.instance()
            if isinstance(app, QGuiApplication) and not self._watching_focus:
                self._watching_focus = True  # (its dialogs' activation: not the window's)
                app.focusWindowChanged.connect(self._on_focus_window_changed)
        self._place()

    def set_available_area(self, area: QRect | None) -> None:
        """Place the panel within ``area`` instead of its screen's available geometry
        (None: the screen's again). For embedders that reserve part of the screen."""
        self._area_override = QRect(area) if area is not None else None
        self._place()

    def available_area(self) -> QRect:
        """The screen area the panel keeps inside."""
        if self._area_override is not None:
            return QRect(self._area_override)
        if self._screen is not None and not shiboken6.isValid(self._screen):
            self._screen = None  # that screen is gone (unplugged, or a test's screens)
        screen = self._screen or self.screen() or QGuiApplication.primaryScreen()
        return screen.availableGeometry() if screen is not None else QRect(FALLBACK_AREA)

    # --- placement and dragging ------------------------------------------------------------

    def placement_rect(self) -> QRect:
        """Where the panel belongs now: docked or at its anchor, inside the available area
        (ignoring the avoided window)."""
        area = self.available_area()
        size = self.sizeHint().expandedTo(self.minimumSize())
        if self._anchor is None:
            return corner_rect(self._corner, size, area, SCREEN_MARGIN)
        corner, point = self._anchor
        return clamp_into(rect_at_anchor(point, corner, size), area)

    def _place(self) -> None:
        """Move (and size) the panel to its place; step aside for the avoided window."""
        if self._dragging or not self._floating:
            return
        rect = self.placement_rect()
        blocker = self._blocking_rect()
        out_of_the_way = False
        if blocker is not None and rect.intersects(blocker):
            free = self._free_corner(rect.size(), blocker)
            if free is None:
                out_of_the_way = True
            else:
                rect = free
        if rect.size() != self.size():
            self.resize(rect.size())
        if rect.topLeft() != self.pos():
            self.move(rect.topLeft())
        if out_of_the_way != self._out_of_the_way:
            self._out_of_the_way = out_of_the_way
            self._update_visibility()

    def _blocking_rect(self) -> QRect | None:
        window = self._avoided
        if window is None or not window.isVisible():
            return None
        dialog = _active_dialog_of(window)
        if not window.isActiveWindow() and dialog is None:
            return None
        if self._focus_on_activation is not None or self.isActiveWindow():
            return None  # the keyboard is on its way here (or here): stay
        if dialog is not None:  # (the quit question, Settings: the panel stays on top)
            return window.frameGeometry().united(dialog.frameGeometry())
        return window.frameGeometry()

    def _on_focus_window_changed(self, *_args: object) -> None:
        """The active window changed (a dialog of the avoided window opened or closed)."""
        QTimer.singleShot(0, self, self._place)

    def _free_corner(self, size: QSize, blocker: QRect) -> QRect | None:
        area = self.available_area()
        corners = [self._corner, *(c for c in Corner if c is not self._corner)]
        for corner in corners:
            rect = corner_rect(corner, size, area, SCREEN_MARGIN)
            if not rect.intersects(blocker):
                return rect
        return None

    def _restore_position(self) -> None:
        saved = self._settings.value(SETTINGS_POS_KEY, None) if self._settings else None
        if not isinstance(saved, QPoint):
            self._anchor = None
            return
        raw = self._settings.value(SETTINGS_ANCHOR_KEY, None) if self._settings else None
        try:
            corner = Corner(str(raw))
        except ValueError:
            corner = Corner.TOP_LEFT  # a position saved before anchors: its top-left corner
        self._anchor = (corner, QPoint(saved))

    def _save_position(self) -> None:
        if self._settings is None:
            return
        if self._anchor is None:
            self._settings.setValue(SETTINGS_POS_KEY, None)
            self._settings.setValue(SETTINGS_ANCHOR_KEY, None)
        else:
            corner, point = self._anchor
            self._settings.setValue(SETTINGS_POS_KEY, QPoint(point))
            self._settings.setValue(SETTINGS_ANCHOR_KEY, corner.value)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._floating:
            self._press_global = event.globalPosition().toPoint()
            self._press_pos = self.pos()
            self._dragging = False
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._press_global is not None and event.buttons() & Qt.MouseButton.LeftButton:
            delta = event.globalPosition().toPoint() - self._press_global
            if not self._dragging and delta.manhattanLength() >= QApplication.startDragDistance():
                self._dragging = True
            if self._dragging:
                wanted = QRect(self._press_pos + delta, self.size())
                self.move(clamp_into(wanted, self.available_area()).topLeft())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._press_global is not None and event.button() == Qt.MouseButton.LeftButton:
            dragged = self._dragging
            self._press_global = None
            self._dragging = False
            if dragged:  # a click on the header changes nothing; a drag detaches
                rect = self.geometry()
                corner = nearest_corner(rect, self.available_area())
                self._anchor = (corner, anchor_point(rect, corner))
                self._save_position()
                self._place()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def set_corner(self, corner: Corner | str) -> None:
        """Dock in another screen corner (forgetting a dragged position)."""
        self._corner = Corner(corner)
        self.reset_position()

    def reset_position(self) -> None:
        """Forget a dragged position and go back to the configured corner."""
        self._anchor = None
        self._save_position()
        self._place()

    # --- screens ---------------------------------------------------------------------------

    def _watch_screen(self, screen: QScreen | None) -> None:
        if screen is self._screen:
            return
        if self._screen is not None:
            with contextlib.suppress(RuntimeError, TypeError):  # the screen may be gone
                self._screen.availableGeometryChanged.disconnect(self._on_area_changed)
        self._screen = screen
        if screen is not None:
            screen.availableGeometryChanged.connect(self._on_area_changed)

    def _on_area_changed(self, _area: QRect) -> None:
        self._place()

    def _on_screen_changed(self, screen: QScreen | None) -> None:
        self._watch_screen(screen)
        self._place()

    def _on_screens_changed(self, *_args: object) -> None:
        handle = self.windowHandle()
        self._watch_screen(handle.screen() if handle is not None else self.screen())
        self._place()

    def _watch_window(self) -> None:
        handle = self.windowHandle()
        if handle is not None and not handle.property("jobdeckWatched"):
            handle.setProperty("jobdeckWatched", True)
            handle.screenChanged.connect(self._on_screen_changed)
        self._watch_screen(handle.screen() if handle is not None else self.screen())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._avoided and event.type() in (
            QEvent.Type.ActivationChange,
            QEvent.Type.WindowActivate,
            QEvent.Type.WindowDeactivate,
            QEvent.Type.Move,
            QEvent.Type.Resize,
            QEvent.Type.Show,
            QEvent.Type.Hide,
        ):
            # after the event is handled, so isActiveWindow()/geometry are current
            QTimer.singleShot(0, self, self._place)
        return False

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._floating:
            self._watch_window()
            self._place()
