"""Light and dark palettes (Fusion style), chosen by setting or ``$JOBDECK_THEME``."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

__all__ = ["apply_theme"]


def _dark_palette() -> QPalette:
    p = QPalette()
    role = QPalette.ColorRole
    colors = {
        role.Window: "#2b2d31",
        role.WindowText: "#e6e6e6",
        role.Base: "#1e1f22",
        role.AlternateBase: "#26282c",
        role.ToolTipBase: "#3a3d42",
        role.ToolTipText: "#f0f0f0",
        role.PlaceholderText: "#8a8f98",
        role.Text: "#e6e6e6",
        role.Button: "#34373c",
        role.ButtonText: "#e6e6e6",
        role.BrightText: "#ff6b6b",
        role.Highlight: "#3d7bd9",
        role.HighlightedText: "#ffffff",
        role.Link: "#6ea8fe",
        role.Light: "#4a4d52",
        role.Midlight: "#3d4045",
        role.Mid: "#2f3236",
        role.Dark: "#1b1c1f",
        role.Shadow: "#000000",
    }
    for r, c in colors.items():
        p.setColor(r, QColor(c))
    disabled = QPalette.ColorGroup.Disabled
    for r in (role.Text, role.WindowText, role.ButtonText):
        p.setColor(disabled, r, QColor("#74787f"))
    return p


def apply_theme(app: QApplication, theme: str) -> None:
    """``"dark"`` or ``"light"`` switch to Fusion with that palette; anything else keeps the
    platform's style and palette."""
    if theme not in ("dark", "light"):
        return
    if theme == "dark":
        from .outlined_style import OutlinedIndicators  # (its QStyle: not for other themes)

        app.setStyle(OutlinedIndicators())
        app.setPalette(_dark_palette())
    else:
        app.setStyle("Fusion")
        app.setPalette(app.style().standardPalette())
