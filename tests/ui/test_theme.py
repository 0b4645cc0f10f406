"""The dark theme as a person sees it: an unchecked check box shows against the window."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QCheckBox, QStyle, QStyleOptionButton

from jobdeck.ui.theme import apply_theme


def _luminance(colour: QColor) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * channel(colour.red())
        + 0.7152 * channel(colour.green())
        + 0.0722 * channel(colour.blue())
    )


def contrast(a: QColor, b: QColor) -> float:
    """The WCAG contrast ratio of two colours (1 to 21)."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_an_unchecked_box_is_outlined_visibly_on_the_dark_window(qtbot, qapp) -> None:
    original = QPalette(qapp.palette())
    style = qapp.style().name()
    try:
        apply_theme(qapp, "dark")
        box = QCheckBox("Always show the taskbar")
        qtbot.addWidget(box)
        box.show()
        qtbot.waitExposed(box)
        option = QStyleOptionButton()
        box.initStyleOption(option)
        indicator = box.style().subElementRect(QStyle.SubElement.SE_CheckBoxIndicator, option, box)
        image = box.grab().toImage()
        middle = indicator.center().y()
        window = QColor(image.pixel(indicator.right() + 3, middle))
        edges = [
            QColor(image.pixel(x, middle)) for x in range(indicator.left(), indicator.left() + 2)
        ]
        # non-text contrast (WCAG 1.4.11): a control's outline at least 3:1 to its background
        assert max(contrast(edge, window) for edge in edges) >= 3.0, [e.name() for e in edges]
    finally:
        qapp.setStyle(style)
        QApplication.setPalette(original)
