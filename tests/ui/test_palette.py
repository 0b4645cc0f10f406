"""A live switch between light and dark palettes recolours every monochrome icon at once:
the launcher list and form, the details' Cancel button, the taskbar's rows and cancel
buttons (also a spinning one); the tray repaints its icon."""

# Rows and jobs looked up by id are known to exist here; Qt's stubs type menus as QObject.
# mypy: disable-error-code="union-attr,arg-type,attr-defined"

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QApplication

from jobdeck.core.job import JobStatus
from jobdeck.ui.main_window import MainWindow
from jobdeck.ui.taskbar import Taskbar
from jobdeck.ui.theme import _dark_palette
from jobdeck.ui.tray import TrayController

from .fakes import fake_registry, make_job


def lightness(pixmap: QPixmap) -> float:
    """Mean lightness (0 black .. 1 white) of the pixmap's clearly opaque pixels."""
    image = pixmap.toImage().convertToFormat(QImage.Format.Format_ARGB32)
    values = [
        image.pixelColor(x, y).lightnessF()
        for y in range(image.height())
        for x in range(image.width())
        if image.pixelColor(x, y).alpha() > 200
    ]
    assert values, "an empty icon"
    return sum(values) / len(values)


def of_icon(icon: QIcon) -> QPixmap:
    return icon.pixmap(24, 24)


@pytest.fixture
def restore_palette(qapp: QApplication) -> Iterator[None]:
    original = qapp.palette()
    yield
    qapp.setPalette(original)
    qapp.processEvents()


def test_switching_to_dark_recolours_every_icon_at_once(
    qtbot, qapp, tracker, signals, restore_palette
) -> None:
    tracker.registry = fake_registry()
    known, busy, _waiting = tracker.add(
        make_job("Copy photos", current=1, total=4),
        make_job("Scan disk", total=0),
        make_job("Wait", JobStatus.PENDING),
    )
    window = MainWindow(tracker, signals, tracker.registry)
    qtbot.addWidget(window)
    window.show()
    window.show_job(known.id)
    bar = Taskbar(signals, tracker)
    qtbot.addWidget(bar)
    bar.set_enabled(True)
    qtbot.waitUntil(lambda: len(bar.rows()) == 3, timeout=3000)
    tray = TrayController(tracker, signals)
    qtbot.addWidget(tray.menu)
    command_form = window.launch_forms["command"]
    hidden_form = window.launch_forms["hash"]  # not the current page: recoloured all the same

    icons: dict[str, Callable[[], QPixmap]] = {
        "launcher list": lambda: of_icon(window.type_list.item(0).icon()),
        "launcher form": lambda: command_form.icon_label.pixmap(),
        "hidden launcher form": lambda: hidden_form.icon_label.pixmap(),
        "details cancel": lambda: of_icon(window.details.cancel_button.icon()),
        "taskbar cancel": lambda: of_icon(bar.row_for(known.id).cancel_button.icon()),
        "taskbar row": lambda: bar.row_for(known.id).icon_label.pixmap(),
    }
    light = {name: lightness(get()) for name, get in icons.items()}
    assert all(value < 0.35 for value in light.values()), light  # dark icons on light
    busy_before = bar.row_for(busy.id).icon_label.pixmap().toImage()
    frames = tray.frames

    qapp.setPalette(_dark_palette())
    qapp.processEvents()  # one pass: no timer, no later repaint needed

    dark = {name: lightness(get()) for name, get in icons.items()}
    assert all(value > 0.75 for value in dark.values()), dark  # light icons on dark
    busy_after = bar.row_for(busy.id).icon_label.pixmap().toImage()
    assert busy_after != busy_before  # the spinning type icon too
    qtbot.waitUntil(lambda: tray.frames > frames, timeout=2000)  # the tray repainted
    tray.dispose()
