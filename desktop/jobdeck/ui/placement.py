"""Where a floating panel goes on a screen: corners, anchors and clamping (pure geometry).

A panel is *anchored* at one of its corners: it grows and shrinks away from that corner, so
a panel near the bottom of the screen grows upward. Every function here works on plain
QRect/QSize/QPoint values (no widgets), so the rules can be tested against any screen area.
Rectangles are treated as ``x, y, width, height``; a rect's right edge is ``x + width``.
"""

from __future__ import annotations

from enum import StrEnum

from PySide6.QtCore import QPoint, QRect, QSize

__all__ = [
    "Corner",
    "anchor_point",
    "clamp_into",
    "corner_rect",
    "nearest_corner",
    "rect_at_anchor",
]


class Corner(StrEnum):
    """A corner of the screen (where the taskbar docks) or of the panel (its anchor)."""

    TOP_LEFT = "top-left"
    TOP_RIGHT = "top-right"
    BOTTOM_LEFT = "bottom-left"
    BOTTOM_RIGHT = "bottom-right"

    @property
    def left(self) -> bool:
        return self in (Corner.TOP_LEFT, Corner.BOTTOM_LEFT)

    @property
    def top(self) -> bool:
        return self in (Corner.TOP_LEFT, Corner.TOP_RIGHT)


def clamp_into(rect: QRect, area: QRect) -> QRect:
    """``rect`` moved (not resized) so it lies wholly inside ``area``; when it is larger
    than ``area`` its top-left corner is kept inside (the top and its header stay visible)."""
    x = min(rect.x(), area.x() + area.width() - rect.width())
    y = min(rect.y(), area.y() + area.height() - rect.height())
    x = max(x, area.x())
    y = max(y, area.y())
    return QRect(x, y, rect.width(), rect.height())


def corner_rect(corner: Corner, size: QSize, area: QRect, margin: int = 0) -> QRect:
    """A ``size`` rect docked in ``corner`` of ``area``, ``margin`` pixels from its edges
    (less when the area is too small), never outside the area."""
    w, h = size.width(), size.height()
    x = area.x() + margin if corner.left else area.x() + area.width() - w - margin
    y = area.y() + margin if corner.top else area.y() + area.height() - h - margin
    return clamp_into(QRect(x, y, w, h), area)


def anchor_point(rect: QRect, corner: Corner) -> QPoint:
    """The point of ``rect`` at ``corner`` (outer edges: ``x + width``, ``y + height``)."""
    x = rect.x() if corner.left else rect.x() + rect.width()
    y = rect.y() if corner.top else rect.y() + rect.height()
    return QPoint(x, y)


def rect_at_anchor(point: QPoint, corner: Corner, size: QSize) -> QRect:
    """The ``size`` rect whose ``corner`` is at ``point`` (the inverse of anchor_point)."""
    x = point.x() if corner.left else point.x() - size.width()
    y = point.y() if corner.top else point.y() - size.height()
    return QRect(x, y, size.width(), size.height())


def nearest_corner(rect: QRect, area: QRect) -> Corner:
    """The corner of ``area`` nearest to ``rect``'s centre: the corner a panel there grows
    away from."""
    cx = rect.x() + rect.width() / 2
    cy = rect.y() + rect.height() / 2
    left = cx < area.x() + area.width() / 2
    top = cy < area.y() + area.height() / 2
    if top:
        return Corner.TOP_LEFT if left else Corner.TOP_RIGHT
    return Corner.BOTTOM_LEFT if left else Corner.BOTTOM_RIGHT
