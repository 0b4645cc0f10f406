"""What is wrong with a running job, in words: stalled, or slower than usual.

:class:`JobWarnings` answers for the history table and the details pane what the taskbar
rows show as their badge: "stalled — no progress for 12 min" (the stall monitor's silence)
first, else "slower than usual (usually ~4 min)" (past the p90 of the key's earlier runs,
:meth:`~jobdeck.core.eta.RunHistory.is_slow`). Both look-ups are cached dictionaries, never
SQL, so a table may ask on every repaint. GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable

from ..core.eta import RunHistory
from ..core.job import Job, JobStatus
from ..i18n import translate
from .eta_text import rough_duration, stalled_text

__all__ = ["JobWarnings", "slower_text"]


def slower_text(usual: float) -> str:
    """ "slower than usual (usually ~4 min)"."""
    return translate("JobWarnings", "slower than usual (usually {duration})").format(
        duration=rough_duration(usual)
    )


class JobWarnings:
    """A running job's warning, or None (see the module).

    ``stalled_for(job_id)``: seconds a stalled job has been silent, None when it is not
    stalled (:meth:`~jobdeck.runtime.stall_monitor.StallMonitor.silence`);
    ``history_for(job)``: the earlier runs of its key, or None
    (:meth:`~jobdeck.core.run_history.RunHistories.for_job`).
    """

    def __init__(
        self,
        stalled_for: Callable[[str], float | None] | None = None,
        history_for: Callable[[Job], RunHistory | None] | None = None,
    ) -> None:
        self._stalled_for = stalled_for
        self._history_for = history_for

    def warning(self, job: Job, now: float) -> str | None:
        """ "stalled — no progress for 12 min", "slower than usual (usually ~4 min)" or None."""
        if job.status is not JobStatus.RUNNING or job.started_ts is None:
            return None
        silence = self._stalled_for(job.id) if self._stalled_for is not None else None
        if silence is not None:
            return translate("JobWarnings", "stalled \u2014 {what}").format(
                what=stalled_text(silence)
            )
        history = self._history_for(job) if self._history_for is not None else None
        if history is not None and history.is_slow(now - job.started_ts):
            return slower_text(history.typical)
        return None
