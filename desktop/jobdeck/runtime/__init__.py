"""Jobdeck's runtime: Qt, but no widgets. It makes queued jobs run and turns core events
into Qt signals.

* :class:`Runner` runs jobs: callables on a QThreadPool, coroutines on the qasync loop,
  ``command`` jobs as processes.
* :class:`JobSignals` batches the tracker's events into GUI-thread signals.
"""

from .runner import Runner
from .signals import JobSignals

__all__ = ["JobSignals", "Runner"]
