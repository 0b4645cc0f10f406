"""Wait for a while, counting down: a timer, and the simplest way to see Jobdeck work."""

import time
from typing import Annotated, Any

from jobdeck.core.context import JobContext
from jobdeck.core.registry import Param
from jobdeck.i18n import QT_TRANSLATE_NOOP


def countdown(
    ctx: JobContext,
    seconds: Annotated[
        float,
        Param(help=QT_TRANSLATE_NOOP("JobType", "How long to wait"), min=0, max=7 * 24 * 3600),
    ] = 10.0,
    message: Annotated[str, Param(help=QT_TRANSLATE_NOOP("JobType", "Shown while waiting"))] = "",
) -> dict[str, Any]:
    """Wait for a number of seconds, showing the time left; cancel stops it at once."""
    start = time.monotonic()
    end = start + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        ctx.update_progress(seconds - left, seconds, message or f"{left:.0f} s left")
        if ctx.cancel_event.wait(min(left, 0.1)):
            ctx.checkpoint()
    ctx.update_progress(seconds, seconds, message or "time is up")
    return {"waited_s": round(time.monotonic() - start, 3)}
