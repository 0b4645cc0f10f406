"""The colours that say how a job is doing, shared by the taskbar's rows, the details pane
and the launch form (a small module: the window's first paint imports it, not the rows)."""

from __future__ import annotations

from PySide6.QtGui import QColor

from ..core.job_status import JobStatus

__all__ = ["BADGE_COLOR", "OUTCOME_COLORS"]

#: A warning badge: a job stalled, or slower than usual.
BADGE_COLOR = QColor("#c77700")

#: Colours of finished outcomes (readable on light and dark backgrounds).
OUTCOME_COLORS = {
    JobStatus.COMPLETED: QColor("#2e9d57"),
    JobStatus.FAILED: QColor("#d64545"),
}
