"""Words for learned ETAs (:mod:`jobdeck.core.eta`): "~4 min, usually", "re-estimating"."""

from __future__ import annotations

from ..core.eta import EtaEstimate, EtaState
from ..i18n import translate
from .formatting import format_duration

__all__ = ["eta_text", "rough_duration", "stalled_text", "usual_tooltip"]


def rough_duration(seconds: float) -> str:
    """A duration as a person says it: ``~40 s``, ``~4 min``, ``~2 h``."""
    s = max(1, round(seconds))
    if s < 60:
        return translate("Duration", "~{seconds} s").format(seconds=s)
    if s < 3600:
        return translate("Duration", "~{minutes} min").format(minutes=round(s / 60))
    hours = s / 3600
    text = f"{hours:.1f}".rstrip("0").rstrip(".") if hours < 10 else str(round(hours))
    return translate("Duration", "~{hours} h").format(hours=text)


def eta_text(estimate: EtaEstimate) -> str:
    """The ETA part of a running job's time line."""
    state = estimate.state
    if state is EtaState.LONGER_THAN_USUAL:
        return translate("JobRow", "longer than usual")
    if state is EtaState.USUALLY or estimate.seconds_left is None:
        return translate("JobRow", "{duration}, usually").format(
            duration=rough_duration(estimate.usual)
        )
    if state is EtaState.RE_ESTIMATING:
        return translate("JobRow", "re-estimating\u2026")
    return translate("JobRow", "{duration} left").format(
        duration=format_duration(estimate.seconds_left)
    )


def usual_tooltip(estimate: EtaEstimate, runs: int) -> str:
    """A tooltip line that says what the job usually takes and from how many runs."""
    return translate("JobRow", "Usually takes {duration} (%n earlier run(s))", None, runs).format(
        duration=rough_duration(estimate.usual)
    )


def whole_duration(seconds: float) -> str:
    """``40 s``, ``12 min``, ``3 h 05 min``: a silence as a person reads it."""
    s = max(0, int(seconds))
    if s < 60:
        return translate("Duration", "{seconds} s").format(seconds=s)
    m = s // 60
    if m < 60:
        return translate("Duration", "{minutes} min").format(minutes=m)
    return translate("Duration", "{hours} h {minutes} min").format(
        hours=m // 60, minutes=f"{m % 60:02d}"
    )


def stalled_text(seconds: float) -> str:
    """What a stalled job's row, the tray and the notification say: "no progress for 12 min"."""
    return translate("JobRow", "no progress for {duration}").format(
        duration=whole_duration(seconds)
    )
