"""``run --at TIME``: when a job should start, as epoch seconds."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta

__all__ = ["parse_start_time"]

_RELATIVE = re.compile(r"^\+?\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr|d)?$", re.IGNORECASE)
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400}
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def parse_start_time(text: str, now: float | None = None) -> float:
    """``+90s``/``+5m``/``+2h``/``+1d`` from now, ``HH:MM[:SS]`` (the next such time, local),
    or an ISO 8601 date and time (local unless it says its offset). ValueError otherwise."""
    now = time.time() if now is None else now
    text = text.strip()
    relative = _RELATIVE.match(text)
    if relative and text.startswith("+"):
        return now + float(relative.group(1)) * _UNITS[(relative.group(2) or "s").lower()]
    clock = _CLOCK.match(text)
    if clock:
        hour, minute, second = int(clock.group(1)), int(clock.group(2)), int(clock.group(3) or 0)
        if hour > 23 or minute > 59 or second > 59:
            raise ValueError(f"not a time of day: {text!r}")
        today = datetime.fromtimestamp(now).replace(hour=hour, minute=minute, second=second)
        moment = today if today.timestamp() > now else today + timedelta(days=1)
        return moment.timestamp()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"not a time: {text!r} (give HH:MM, an ISO date and time, or +30s/+5m/+2h)"
        ) from None
    return (moment if moment.tzinfo else moment.astimezone()).timestamp()
