"""Short human-readable texts for durations, percentages and times shown in the widgets."""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["EM_DASH", "format_duration", "format_local_time", "format_percent"]

#: Shown where a value is unknown.
EM_DASH = "\u2014"


def format_duration(value: timedelta | float | None) -> str:
    """``3s``, ``4m 05s``, ``2h 03m``, ``3d 4h``; ``—`` for None."""
    if value is None:
        return EM_DASH
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m {s:02d}s"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h}h {m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d {h}h"


def format_percent(percent: float | None) -> str:
    """``45%`` (one decimal below 10 % so slow starts show movement); ``—`` when unknown."""
    if percent is None:
        return EM_DASH
    if 0 < percent < 10:
        return f"{percent:.1f}%"
    return f"{int(percent)}%"


def format_local_time(ts: float | None, now: float | None = None) -> str:
    """Epoch seconds as local time: ``14:03:12`` today, ``2024-05-01 14:03`` otherwise."""
    if ts is None:
        return EM_DASH
    when = datetime.fromtimestamp(ts)
    if now is not None and datetime.fromtimestamp(now).date() == when.date():
        return when.strftime("%H:%M:%S")
    return when.strftime("%Y-%m-%d %H:%M")
