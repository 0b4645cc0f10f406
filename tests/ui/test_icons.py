import shutil
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QIcon, QImage
from PySide6.QtWidgets import QLabel

from jobdeck.ui import icons

REPO_ICONS = Path(__file__).resolve().parents[2] / "resources" / "icons"


def opaque_pixels(pm):
    image = pm.toImage().convertToFormat(QImage.Format.Format_ARGB32)
    return sum(
        1
        for y in range(image.height())
        for x in range(image.width())
        if image.pixelColor(x, y).alpha()
    )


@pytest.mark.parametrize("name", icons.ICON_NAMES)
def test_every_icon_is_shipped_and_renders(qtbot, name):
    path = icons.icon_path(name)
    assert path is not None, f"{name}.svg missing from {icons.icon_dirs()}"
    assert opaque_pixels(icons.pixmap(name, 24)) > 20


def test_current_color_is_replaced(qtbot):
    red = icons.pixmap("cancel", 24, QColor("#ff0000")).toImage()
    colors = {
        red.pixelColor(x, y).name()
        for y in range(24)
        for x in range(24)
        if red.pixelColor(x, y).alpha() == 255
    }
    assert colors == {"#ff0000"}


def test_found_in_a_pyinstaller_bundle_first(qtbot, tmp_path, monkeypatch):
    bundle_icons = tmp_path / "resources" / "icons"
    bundle_icons.mkdir(parents=True)
    shutil.copy(REPO_ICONS / "job.svg", bundle_icons / "job.svg")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert icons.icon_dirs()[0] == bundle_icons
    assert icons.icon_path("job") == bundle_icons / "job.svg"
    hash_icon = icons.icon_path("hash")  # falls back to the package's (= the checkout's) copy
    assert hash_icon is not None and hash_icon.resolve() == (REPO_ICONS / "hash.svg").resolve()


@pytest.mark.expected_log("icon 'no-such-icon' not found")
def test_unknown_icon_draws_a_placeholder_and_type_icons_fall_back(qtbot):
    assert icons.icon_path("no-such-icon") is None
    assert opaque_pixels(icons.pixmap("no-such-icon", 24)) > 0
    assert icons.type_icon_name("no-such-icon") == "job"
    assert icons.type_icon_name("hash") == "hash"
    assert not icons.status_icon("failed").isNull()


def test_spinner_runs_only_while_held(qtbot):
    spinner = icons.Spinner()
    a, b = object(), object()
    spinner.acquire(a)
    spinner.acquire(b)
    with qtbot.waitSignal(spinner.frameChanged, timeout=1000) as blocker:
        pass
    assert blocker.args[0] == spinner.angle
    spinner.release(a)
    assert spinner.running
    spinner.release(b)
    assert not spinner.running
    with pytest.raises(ValueError, match="fps"):
        icons.Spinner(fps=0)


def test_the_same_icon_is_shared_and_follows_the_colour(qtbot):
    """A view asks for a status icon for every row it paints: it gets the same QIcon (Qt
    caches its renderings by the icon) for the same colour, another for another."""
    red, blue = QColor("#ff0000"), QColor("#0000ff")
    assert icons.icon("done", red).cacheKey() == icons.icon("done", red).cacheKey()
    assert icons.icon("done", red).cacheKey() != icons.icon("done", blue).cacheKey()
    assert icons.status_icon("failed").cacheKey() == icons.status_icon("failed").cacheKey()


def test_an_icon_renders_only_what_is_drawn_and_as_its_pixmaps(qtbot):
    """Start-up makes dozens of icons: making one renders nothing; drawing it renders that
    size and pixel ratio only, the same pixels as :func:`icons.pixmap`, in every mode."""
    color = QColor("#123456")
    icons._render.cache_clear()
    made = icons.icon("copy", color)
    assert icons._render.cache_info().currsize == 0
    for dpr in (1.0, 2.0):
        got = made.pixmap(QSize(24, 24), dpr)
        assert got.devicePixelRatio() == dpr
        assert got.toImage() == icons.pixmap("copy", 24, color, dpr=dpr).toImage()
    assert icons._render.cache_info().currsize == 2
    disabled = made.pixmap(QSize(16, 16), 1.0, QIcon.Mode.Disabled).toImage()
    assert disabled.size() == QSize(16, 16)
    assert disabled != icons.pixmap("copy", 16, color).toImage()  # the style greys it
    assert made.actualSize(QSize(200, 100)) == QSize(64, 64)  # never larger than the largest
    assert QSize(64, 64) in made.availableSizes() and not made.isNull()
    label = QLabel()
    label.setPixmap(made.pixmap(20))
    qtbot.addWidget(label)
    assert opaque_pixels(label.grab()) > 10


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled", "pending", "running"])
def test_a_raster_status_icon_draws_the_same_pixels_as_the_svg_one(qtbot, status):
    """The history draws status icons made of pixmaps (Qt paints them without calling
    Python): each size a small icon is drawn at, on screens of scale 1 to 4, is the same
    image as the SVG icon's, in every mode (a selected row's icon is tinted alike)."""
    raster, svg = icons.raster_status_icon(status), icons.status_icon(status)
    assert raster.cacheKey() == icons.raster_status_icon(status).cacheKey()
    for dpr in (1.0, 1.25, 1.5, 2.0, 3.0, 4.0):
        for mode in (QIcon.Mode.Normal, QIcon.Mode.Selected):
            got = raster.pixmap(QSize(16, 16), dpr, mode).toImage()
            want = svg.pixmap(QSize(16, 16), dpr, mode).toImage()
            assert got.size() == want.size() == QSize(round(16 * dpr), round(16 * dpr))
            assert got.convertToFormat(want.format()) == want, (dpr, mode)
