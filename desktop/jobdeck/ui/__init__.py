"""Jobdeck widgets: taskbar, tray, main window, history, details and launch forms.

Widgets read state from :class:`~jobdeck.runtime.signals.JobSignals` and the tracker; they
never talk to the store directly.
"""
