"""Session-wide test settings: Qt renders offscreen (on a 1280x800 screen) unless a test asks
for a real display."""

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# Shared, loaded machines: a slow example is not a failing one (no per-example deadline).
settings.register_profile("jobdeck", deadline=None)
settings.load_profile("jobdeck")

# Offscreen Qt with the smallest supported desktop (1280x800) as the primary screen and a
# smaller second screen, so layout and taskbar placement are tested at real sizes.
_SCREENS = Path(__file__).with_name("offscreen-screens.json")
if os.environ.get("QT_QPA_PLATFORM", "offscreen") == "offscreen":
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={_SCREENS}"
os.environ.setdefault("QT_API", "pyside6")

pytest_plugins = ["tests.channel_fixtures", "tests.log_check", "tests.pg_fixtures"]


@pytest.fixture(autouse=True)
def _collect_qt_garbage_on_the_gui_thread(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a Qt test, collect its garbage here, on the GUI thread. Left to chance, Python's
    cyclic GC may free a QObject on a worker thread, where Qt cannot unregister its timers;
    one then fires for freed memory (a rare segfault under load)."""
    yield
    if "qapp" in request.fixturenames or "qtbot" in request.fixturenames:
        gc.collect()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (``-n 2``) a worker's temporary folders are in ``<basetemp>/popen-gw0``:
    named ``gw0`` here instead (before pytest reads it), so that the sockets tests make under
    ``tmp_path`` stay about as short as in a run without workers (AF_UNIX: 107 bytes)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    basetemp = config.option.basetemp
    if worker and basetemp and Path(basetemp).name == f"popen-{worker}":
        config.option.basetemp = str(Path(basetemp).with_name(worker))
