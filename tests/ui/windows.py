"""The main window as the UI tests open it: on the fake tracker, with the fake registry."""

from jobdeck.ui.main_window import MainWindow

from .fakes import fake_registry


def make_main_window(qtbot, tracker, signals, settings, *, show=False, size=None):
    """A main window over ``tracker`` (given the fake registry), closed with the test;
    resized to ``size`` when given, and shown (and exposed) when ``show``."""
    registry = fake_registry()
    tracker.registry = registry
    window = MainWindow(tracker, signals, registry, settings)
    qtbot.addWidget(window)
    if size is not None:
        window.resize(*size)
    if show:
        window.show()
        qtbot.waitExposed(window)
    return window
