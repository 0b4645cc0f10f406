"""The answers to "jobs are still running: quit?" (:class:`QuitChoice`), apart from the
question itself (:mod:`jobdeck.ui.quit_dialog`), which the app imports only when it asks
it: the dialog's Qt classes (and their enums) are not made for the first window."""

from __future__ import annotations

import enum

__all__ = ["QuitChoice"]


class QuitChoice(enum.Enum):
    """The answer to "jobs are still running: quit?"."""

    CANCEL_AND_QUIT = "cancel"
    #: Leave process jobs running under their supervisors (the next start re-attaches
    #: them); other running jobs are cancelled. Queued jobs stay queued.
    KEEP_AND_QUIT = "keep"
    #: Nothing runs: cancel the queued jobs, then quit.
    DROP_QUEUED_AND_QUIT = "drop"
    STAY = "stay"
