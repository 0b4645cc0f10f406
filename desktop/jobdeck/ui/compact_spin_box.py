"""A number box without trailing zeros (the launch form's float fields).

A module of its own: defining the class makes PySide6 create QDoubleSpinBox's class and
its base's (with their enums) at import, which the first window's form does not use."""

from __future__ import annotations

from PySide6.QtWidgets import QDoubleSpinBox

__all__ = ["CompactDoubleSpinBox"]


class CompactDoubleSpinBox(QDoubleSpinBox):
    """A QDoubleSpinBox that shows no trailing zeros: ``10``, ``2.5``, ``0.125`` (not
    ``10.000``), with up to ``decimals()`` digits after the point."""

    def textFromValue(self, value: float) -> str:
        text = f"{value:.{self.decimals()}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text.replace(".", self.locale().decimalPoint())
