"""Ways of running a job, one class each, against one small interface (see :mod:`.base`).

* :class:`ThreadExecutor` — callable job types, on a QThreadPool.
* :class:`CoroutineExecutor` — coroutine job types, on the asyncio loop (qasync).
* :class:`ProcessExecutor` — process job types, as programs under a supervisor.
* :class:`DaskExecutor` — callable job types with ``executor="dask"``, on a Dask cluster
  (Dask itself is imported only once it connects).

The scheduler (:mod:`jobdeck.runtime.scheduler`) hands each job to the first executor that
accepts its type; adding one (a cluster, say) touches nothing else.
"""

from .base import Executor, Outcome, Run
from .coroutines import CoroutineExecutor
from .dask_cluster import DaskExecutor
from .processes import ProcessExecutor
from .threads import ThreadExecutor

__all__ = [
    "CoroutineExecutor",
    "DaskExecutor",
    "Executor",
    "Outcome",
    "ProcessExecutor",
    "Run",
    "ThreadExecutor",
]
