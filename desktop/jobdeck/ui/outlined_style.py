"""The dark theme's style: Fusion with check boxes and radio buttons outlined.

A module of its own, imported only for the dark theme: importing ``QStyle`` makes PySide6
create its enums (~9 ms), which the first window of the default (system) theme does not
need.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import QProxyStyle, QStyle, QStyleOption, QWidget

__all__ = ["OutlinedIndicators"]


class OutlinedIndicators(QProxyStyle):
    """Fusion, with check boxes and radio buttons outlined in the text colour, faded.

    Fusion outlines them in the window colour made darker, which a dark window hides: an
    unchecked box was a dark square on a dark window, hard to see at all. Emits nothing."""

    _INDICATORS = (
        QStyle.PrimitiveElement.PE_IndicatorCheckBox,
        QStyle.PrimitiveElement.PE_IndicatorRadioButton,
    )

    def __init__(self) -> None:
        super().__init__("Fusion")

    def drawPrimitive(
        self,
        element: QStyle.PrimitiveElement,
        option: QStyleOption,
        painter: QPainter,
        widget: QWidget | None = None,
    ) -> None:
        super().drawPrimitive(element, option, painter, widget)
        if element not in self._INDICATORS or option.state & QStyle.StateFlag.State_HasFocus:
            return  # a focused one is outlined in the highlight colour already
        enabled = bool(option.state & QStyle.StateFlag.State_Enabled)
        group = QPalette.ColorGroup.Active if enabled else QPalette.ColorGroup.Disabled
        colour = QColor(option.palette.color(group, QPalette.ColorRole.Text))
        colour.setAlpha(150)
        painter.save()
        painter.setPen(QPen(colour, 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if element is QStyle.PrimitiveElement.PE_IndicatorRadioButton:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.drawEllipse(QRectF(option.rect).adjusted(0.5, 0.5, -0.5, -0.5))
        else:
            painter.drawRect(option.rect.adjusted(0, 0, -1, -1))
        painter.restore()
