"""SVG icons from ``resources/icons`` and the :class:`Spinner` that animates busy icons.

Icons are looked up, in order, in:

1. a PyInstaller bundle: ``sys._MEIPASS/resources/icons`` (or ``.../jobdeck/resources/icons``);
2. an installed wheel: ``jobdeck/resources/icons`` inside the package (package data);
3. a source checkout: ``<repo root>/resources/icons``.

Monochrome icons draw with ``currentColor``; :func:`icon` substitutes the palette's text
colour (or a colour you pass, usually :func:`foreground` of the widget that shows it), so
the same file looks right in light and dark themes. An icon renders (:class:`SvgIconEngine`)
only the size and device pixel ratio it is drawn at, when it is first drawn so (start-up
draws a few, not every size of every icon); renderings are cached per colour: after a
palette change, a widget asks again (in ``changeEvent`` on ``QEvent.PaletteChange``) and
gets the icon in the new colour.
Status icons (done, failed, ...) carry their own colours. A missing icon never raises: a
neutral placeholder is drawn and the lookup failure is logged once.
"""

from __future__ import annotations

import logging
import sys
from functools import cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QObject, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QIcon,
    QIconEngine,
    QPainter,
    QPalette,
    QPixmap,
)
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication, QWidget

__all__ = [
    "ICON_NAMES",
    "Spinner",
    "SvgIconEngine",
    "app_icon",
    "foreground",
    "icon",
    "icon_dirs",
    "icon_path",
    "pixmap",
    "raster_status_icon",
    "status_icon",
    "type_icon_name",
]

log = logging.getLogger(__name__)

#: Every icon shipped in ``resources/icons``.
ICON_NAMES = (
    "job",
    "command",
    "hash",
    "copy",
    "archive",
    "timer",
    "python",
    "cancel",
    "done",
    "failed",
    "cancelled",
    "pending",
    "running",
    "jobdeck",
)

#: Which icon shows each job status.
_STATUS_ICONS = {
    "pending": "pending",
    "running": "running",
    "completed": "done",
    "failed": "failed",
    "cancelled": "cancelled",
}


def icon_dirs() -> list[Path]:
    """Directories searched for icons, most specific first (only existing ones)."""
    return list(_icon_dirs(getattr(sys, "_MEIPASS", None)))


@cache
def _icon_dirs(bundle: str | None) -> tuple[Path, ...]:
    """:func:`icon_dirs` of a bundle's folder (or none), looked up once: the first window
    asks for a dozen icons, each looking in these directories."""
    package_dir = Path(__file__).resolve().parent.parent  # .../jobdeck
    candidates: list[Path] = []
    if bundle:
        candidates += [
            Path(bundle) / "resources" / "icons",
            Path(bundle) / "jobdeck" / "resources" / "icons",
        ]
    candidates.append(package_dir / "resources" / "icons")
    # Checkout: <repo>/desktop/jobdeck/ui/icons.py -> <repo>/resources/icons
    candidates.append(package_dir.parent.parent / "resources" / "icons")
    found: dict[Path, Path] = {}
    for d in candidates:
        if d.is_dir():
            found.setdefault(d.resolve(), d)  # the package's resources may link to the checkout's
    return tuple(found.values())


def icon_path(name: str) -> Path | None:
    """The SVG file for ``name`` (without extension), or None when no directory has it."""
    for directory in icon_dirs():
        path = directory / f"{name}.svg"
        if path.is_file():
            return path
    return None


@cache
def _svg_source(name: str) -> str | None:
    path = icon_path(name)
    if path is None:
        log.warning("icon %r not found in %s", name, [str(d) for d in icon_dirs()] or "nowhere")
        return None
    return path.read_text(encoding="utf-8")


def _default_color() -> QColor:
    app = QGuiApplication.instance()
    if isinstance(app, QGuiApplication):
        return app.palette().color(QPalette.ColorRole.WindowText)
    return QColor("#444444")


def foreground(widget: QWidget) -> QColor:
    """The colour monochrome icons take in ``widget``: its palette's window text."""
    return widget.palette().color(QPalette.ColorRole.WindowText)


@cache
def _render(name: str, size: int, color_name: str, dpr: float) -> QPixmap:
    return _draw(_renderer(name, color_name), size, color_name, dpr)


def _renderer(name: str, color_name: str) -> QSvgRenderer | None:
    """``name``'s SVG with ``currentColor`` in ``color_name``, parsed; None when missing."""
    source = _svg_source(name)
    if source is None:
        return None
    return QSvgRenderer(QByteArray(source.replace("currentColor", color_name).encode("utf-8")))


def _draw(renderer: QSvgRenderer | None, size: int, color_name: str, dpr: float) -> QPixmap:
    pm = QPixmap(QSize(round(size * dpr), round(size * dpr)))
    pm.setDevicePixelRatio(dpr)
    pm.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pm)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    if renderer is not None:
        renderer.render(painter, QRectF(0, 0, size, size))
    else:  # placeholder: a rounded square outline
        painter.setPen(QColor(color_name))
        painter.drawRoundedRect(QRectF(2.5, 2.5, size - 5, size - 5), 3, 3)
    painter.end()
    return pm


def pixmap(name: str, size: int = 24, color: QColor | None = None, dpr: float = 1.0) -> QPixmap:
    """``name`` rendered at ``size`` logical pixels; ``currentColor`` becomes ``color``."""
    col = color if color is not None else _default_color()
    return _render(name, int(size), col.name(QColor.NameFormat.HexRgb), float(dpr))


#: The sizes an icon says it has (:meth:`QIcon.availableSizes`). It draws crisp at any size
#: up to the largest; asked for more, it gives the largest (as a QIcon of pixmaps does).
ICON_SIZES = (16, 20, 24, 32, 48, 64)


class SvgIconEngine(QIconEngine):
    """Draws icon ``name`` in ``color_name`` (``#rrggbb``) at whatever size and device
    pixel ratio it is asked for, rendering each (cached) the first time: a QIcon made with
    it costs nothing until it is drawn. Modes other than Normal (a disabled button's icon)
    are the style's variant of the Normal rendering, as for an icon made of pixmaps."""

    def __init__(self, name: str, color_name: str) -> None:
        super().__init__()
        self._name = name
        self._color_name = color_name

    def scaledPixmap(
        self, size: QSize, mode: QIcon.Mode, state: QIcon.State, scale: float
    ) -> QPixmap:
        side = max(1, min(size.width(), size.height(), ICON_SIZES[-1]))
        pm = _render(self._name, side, self._color_name, float(scale))
        if mode is QIcon.Mode.Normal:
            return pm
        if not isinstance(QApplication.instance(), QApplication):
            return pm
        # The style's variant (QStyle.generatedIconPixmap with the app's palette), made by
        # Qt's own icon of a pixmap: asking the style from Python would make PySide6 create
        # QStyle's enums (~9 ms) when the first window paints its disabled Start button.
        return QIcon(pm).pixmap(pm.deviceIndependentSize().toSize(), pm.devicePixelRatio(), mode)

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        return self.scaledPixmap(size, mode, state, 1.0)

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        device = painter.device()
        scale = device.devicePixelRatioF() if device is not None else 1.0
        painter.drawPixmap(rect, self.scaledPixmap(rect.size(), mode, state, scale))

    def actualSize(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QSize:
        side = min(size.width(), size.height(), ICON_SIZES[-1])
        return QSize(side, side)

    def availableSizes(
        self, mode: QIcon.Mode = QIcon.Mode.Normal, state: QIcon.State = QIcon.State.Off
    ) -> list[QSize]:
        return [QSize(size, size) for size in ICON_SIZES]

    def isNull(self) -> bool:
        return False  # a missing file still draws a placeholder

    def key(self) -> str:
        return "jobdeck-svg"

    def clone(self) -> QIconEngine:
        return SvgIconEngine(self._name, self._color_name)


def icon(name: str, color: QColor | None = None) -> QIcon:
    """A QIcon for ``name`` (``currentColor`` drawn in ``color``, by default the palette's
    text colour now), crisp at any size: each size is rendered when first drawn. The same
    name and colour give the same QIcon (Qt caches what it paints of an icon by the icon,
    so a view asking for it for every cell paints it from that cache)."""
    col = color if color is not None else _default_color()
    return _icon(name, col.name(QColor.NameFormat.HexRgb))


@cache
def _icon(name: str, color_name: str) -> QIcon:
    return QIcon(SvgIconEngine(name, color_name))


def status_icon(status: str) -> QIcon:
    """The icon for a job status (``"completed"`` etc. or a JobStatus)."""
    return icon(_STATUS_ICONS.get(str(status), "job"))


#: The sizes :func:`raster_status_icon` holds: a small icon (16) on screens of scale 1 to 4.
RASTER_SIZES = ICON_SIZES


def raster_status_icon(status: str) -> QIcon:
    """The icon for a job status as :func:`status_icon` draws it, made of pixmaps rendered
    once (at :data:`RASTER_SIZES`, when the status is first asked for: ~0.3 ms), for a view
    that draws it in many cells each paint: Qt draws an icon of pixmaps without calling
    back into Python, where an icon engine written in Python costs each cell a few calls
    (a fifth of the history's paint). Other sizes are scaled from the nearest."""
    return _raster_icon(_STATUS_ICONS.get(str(status), "job"))


@cache
def _raster_icon(name: str) -> QIcon:
    color_name = _default_color().name(QColor.NameFormat.HexRgb)  # (status icons: unused)
    renderer = _renderer(name, color_name)  # parsed once for every size
    raster = QIcon()
    for size in RASTER_SIZES:
        raster.addPixmap(_draw(renderer, size, color_name, 1.0))
    return raster


def app_icon() -> QIcon:
    """The Jobdeck application icon."""
    return icon("jobdeck")


#: Icon names job types may use that are drawn by another shipped icon.
ICON_ALIASES = {
    "terminal": "command",
    "checksum": "hash",
    "compress": "archive",
    "countdown": "timer",
    "sleep": "timer",
    "zip": "archive",
}


@cache
def type_icon_name(type_icon: str | None) -> str:
    """A job type's icon name if it is shipped (or an alias of one), else ``job``."""
    type_icon = ICON_ALIASES.get(type_icon or "", type_icon)
    if type_icon and icon_path(type_icon) is not None:
        return type_icon
    return "job"


class Spinner(QObject):
    """A shared rotation clock for busy icons (jobs whose total is unknown).

    Call :meth:`acquire` while something needs to spin and :meth:`release` when it stops;
    the timer only runs while at least one user holds it. Emits ``frameChanged(angle)`` on
    the GUI thread (the thread the spinner lives in) at ``fps`` frames per second.
    """

    frameChanged = Signal(int)

    def __init__(self, parent: QObject | None = None, fps: int = 15, step: int = 30) -> None:
        super().__init__(parent)
        if fps <= 0:
            raise ValueError(f"Spinner fps must be positive, got {fps}")
        self._angle = 0
        self._step = step
        self._users: set[int] = set()
        self._timer = QTimer(self)
        self._timer.setInterval(max(1, 1000 // fps))
        self._timer.timeout.connect(self._tick)

    @property
    def angle(self) -> int:
        """Current rotation in degrees (0-359)."""
        return self._angle

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    def acquire(self, user: object) -> None:
        """Start spinning on behalf of ``user`` (idempotent per user)."""
        self._users.add(id(user))
        if not self._timer.isActive():
            self._timer.start()

    def release(self, user: object) -> None:
        """``user`` no longer needs spinning; the timer stops when nobody does."""
        self._users.discard(id(user))
        if not self._users:
            self._timer.stop()

    def stop(self) -> None:
        """Stop for good (the owner is going away): forget every user."""
        self._users.clear()
        self._timer.stop()

    def _tick(self) -> None:
        self._angle = (self._angle + self._step) % 360
        self.frameChanged.emit(self._angle)

    def rotated(self, base: QPixmap, angle: int | None = None) -> QPixmap:
        """``base`` rotated about its centre by ``angle`` (default: the current angle)."""
        a = self._angle if angle is None else angle
        out = QPixmap(base.size())
        out.setDevicePixelRatio(base.devicePixelRatio())
        out.fill(Qt.GlobalColor.transparent)
        w = base.width() / base.devicePixelRatio()
        h = base.height() / base.devicePixelRatio()
        painter = QPainter(out)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.translate(w / 2, h / 2)
        painter.rotate(a)
        painter.translate(-w / 2, -h / 2)
        painter.drawPixmap(0, 0, base)
        painter.end()
        return out

    def busy_pixmap(self, size: int, color: QColor, angle: int | None = None) -> QPixmap:
        """A painted arc spinner (a ring with a bright quarter) at the current angle."""
        a = self._angle if angle is None else angle
        pm = QPixmap(size * 2, size * 2)
        pm.setDevicePixelRatio(2.0)
        pm.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pm)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen_w = max(2.0, size / 9)
        rect = QRectF(pen_w, pen_w, size - 2 * pen_w, size - 2 * pen_w)
        faint = QColor(color)
        faint.setAlphaF(0.25)
        pen = painter.pen()
        pen.setWidthF(pen_w)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setColor(faint)
        painter.setPen(pen)
        painter.drawEllipse(rect)
        pen.setColor(color)
        painter.setPen(pen)
        painter.drawArc(rect, (90 - a) * 16, -100 * 16)
        painter.end()
        return pm
