"""Session-wide test settings: Qt renders offscreen unless a test asks for a real display."""

import gc
import os
from collections.abc import Iterator

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

pytest_plugins = ["tests.channel_fixtures"]


@pytest.fixture(autouse=True)
def _collect_qt_garbage_on_the_gui_thread(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a Qt test, collect its garbage here, on the GUI thread. Left to chance, Python's
    cyclic GC may free a QObject on a worker thread, where Qt cannot unregister its timers;
    one then fires for freed memory (a rare segfault under load)."""
    yield
    if "qapp" in request.fixturenames or "qtbot" in request.fixturenames:
        gc.collect()
