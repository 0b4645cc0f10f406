"""Where widgets keep their state (geometry, the taskbar's place): :class:`SettingsStore`.

The part of ``QSettings`` the widgets use, as a Protocol: the app's
:class:`~jobdeck.settings.AppSettings` and a plain ``QSettings`` satisfy it, and so does a
dict-backed test fake.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["SettingsStore"]


class SettingsStore(Protocol):
    """``value(key, default)`` and ``setValue(key, value)``, as QSettings has them."""

    def value(self, key: str, defaultValue: Any = ...) -> Any: ...

    def setValue(self, key: str, value: Any) -> None: ...
