"""Where the floating taskbar can live: Wayland lets no app place its own windows.

On X11 the taskbar is a frameless panel the app puts in a screen corner. A Wayland
compositor decides where every window goes, so the same panel would open wherever the
compositor likes (usually the middle of the screen) and could not be dragged to a corner.
Jobdeck therefore:

1. runs through XWayland when the session is Wayland and XWayland is there (``DISPLAY``
   is set): :func:`choose_platform` says ``xcb``, and :func:`use_xwayland` sets
   ``QT_QPA_PLATFORM=xcb`` before the QApplication is made. A ``QT_QPA_PLATFORM`` the user
   set is always kept (``QT_QPA_PLATFORM=wayland`` opts out);
2. otherwise, on a native Wayland connection, shows the taskbar's rows docked in the main
   window instead of floating (:func:`taskbar_floats` is False for the ``wayland``
   platforms).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping

__all__ = ["choose_platform", "is_wayland_session", "taskbar_floats", "use_xwayland"]


def is_wayland_session(environ: Mapping[str, str]) -> bool:
    """True in a Wayland session (``WAYLAND_DISPLAY`` or ``XDG_SESSION_TYPE=wayland``)."""
    return bool(environ.get("WAYLAND_DISPLAY")) or environ.get("XDG_SESSION_TYPE") == "wayland"


def choose_platform(environ: Mapping[str, str]) -> str | None:
    """The Qt platform Jobdeck should ask for: ``"xcb"`` (XWayland) in a Wayland session
    that has XWayland, None to leave Qt's own choice (not Wayland, no XWayland, or the user
    set ``QT_QPA_PLATFORM``)."""
    if environ.get("QT_QPA_PLATFORM"):
        return None  # the user's choice wins
    if is_wayland_session(environ) and environ.get("DISPLAY"):
        return "xcb"
    return None


def use_xwayland(environ: MutableMapping[str, str] | None = None) -> bool:
    """Set ``QT_QPA_PLATFORM=xcb`` in ``environ`` (``os.environ`` by default) when
    :func:`choose_platform` says so; call before the QApplication exists. True if set."""
    env = os.environ if environ is None else environ
    platform = choose_platform(env)
    if platform is None:
        return False
    env["QT_QPA_PLATFORM"] = platform
    return True


def taskbar_floats(platform_name: str) -> bool:
    """Whether the taskbar can be a floating panel on Qt platform ``platform_name``
    (``QGuiApplication.platformName()``): not on Wayland, where it is docked instead."""
    return not platform_name.lower().startswith("wayland")
