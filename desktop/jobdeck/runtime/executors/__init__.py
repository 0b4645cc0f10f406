"""Ways of running a job, one class each, against one small interface (see :mod:`.base`).

* :class:`ThreadExecutor` — callable job types, on a QThreadPool.
* :class:`CoroutineExecutor` — coroutine job types, on the asyncio loop (qasync).
* :class:`ProcessExecutor` — process job types, as programs under a supervisor.

The scheduler (:mod:`jobdeck.runtime.scheduler`) hands each job to the first executor that
accepts its type; adding one (a cluster, say) touches nothing else.
"""

from .base import Executor, Outcome, Run
from .coroutines import CoroutineExecutor
from .processes import ProcessExecutor
from .threads import ThreadExecutor

__all__ = [
    "CoroutineExecutor",
    "Executor",
    "Outcome",
    "ProcessExecutor",
    "Run",
    "ThreadExecutor",
]
