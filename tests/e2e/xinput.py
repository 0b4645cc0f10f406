"""A real pointer on a virtual X display (XTest through ctypes), and window facts (xwininfo):
what the e2e tests use to click and drag like a person and to see where windows are."""

from __future__ import annotations

import ctypes
import re
import subprocess
import time
from dataclasses import dataclass

from .xsession import XSession

POINTER_ROOT = 1  # X11's PointerRoot / RevertToPointerRoot
CURRENT_TIME = 0


@dataclass(frozen=True)
class WindowInfo:
    """One top-level window as X sees it."""

    x: int
    y: int
    width: int
    height: int
    mapped: bool

    @property
    def right(self) -> int:
        return self.x + self.width

    @property
    def bottom(self) -> int:
        return self.y + self.height


def window_info(session: XSession, name: str) -> WindowInfo | None:
    """Geometry and map state of the window called ``name``; None if there is none."""
    out = subprocess.run(
        ["xwininfo", "-name", name],
        env=session.env(),
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout

    def number(label: str) -> int:
        match = re.search(rf"{label}:\s+(-?\d+)", out)
        if match is None:
            raise ValueError(f"xwininfo gave no {label!r} for {name!r}:\n{out}")
        return int(match.group(1))

    if "Map State" not in out:
        return None
    return WindowInfo(
        number("Absolute upper-left X"),
        number("Absolute upper-left Y"),
        number("Width"),
        number("Height"),
        "IsViewable" in out,
    )


class Pointer:
    """Moves the mouse, presses its left button and types key chords on ``session``'s
    display (XTest)."""

    def __init__(self, session: XSession) -> None:
        self._x11 = ctypes.cdll.LoadLibrary("libX11.so.6")
        self._xtst = ctypes.cdll.LoadLibrary("libXtst.so.6")
        self._x11.XOpenDisplay.restype = ctypes.c_void_p
        self._x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        for fn in (self._x11.XFlush, self._x11.XCloseDisplay, self._x11.XSync):
            fn.argtypes = [ctypes.c_void_p] + ([ctypes.c_int] if fn is self._x11.XSync else [])
        self._x11.XSetInputFocus.argtypes = [
            ctypes.c_void_p,
            ctypes.c_ulong,
            ctypes.c_int,
            ctypes.c_ulong,
        ]
        self._xtst.XTestFakeMotionEvent.argtypes = [
            ctypes.c_void_p,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_ulong,
        ]
        self._xtst.XTestFakeButtonEvent.argtypes = [
            ctypes.c_void_p,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_ulong,
        ]
        self._x11.XStringToKeysym.restype = ctypes.c_ulong
        self._x11.XStringToKeysym.argtypes = [ctypes.c_char_p]
        self._x11.XKeysymToKeycode.restype = ctypes.c_ubyte
        self._x11.XKeysymToKeycode.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        self._xtst.XTestFakeKeyEvent.argtypes = [
            ctypes.c_void_p,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_ulong,
        ]
        self._display = self._x11.XOpenDisplay(session.display.encode())
        if not self._display:
            raise RuntimeError(f"cannot open X display {session.display}")

    def _sync(self) -> None:
        self._x11.XSync(self._display, 0)
        time.sleep(0.05)  # let the app's event loop see each step, as with a real hand

    def move(self, x: int, y: int) -> None:
        self._xtst.XTestFakeMotionEvent(self._display, -1, x, y, CURRENT_TIME)
        self._sync()

    def press(self) -> None:
        self._xtst.XTestFakeButtonEvent(self._display, 1, 1, CURRENT_TIME)
        self._sync()

    def release(self) -> None:
        self._xtst.XTestFakeButtonEvent(self._display, 1, 0, CURRENT_TIME)
        self._sync()

    def click(self, x: int, y: int) -> None:
        self.move(x, y)
        self.press()
        self.release()

    def drag(self, x: int, y: int, dx: int, dy: int, steps: int = 8) -> None:
        self.move(x, y)
        self.press()
        for i in range(1, steps + 1):
            self.move(x + dx * i // steps, y + dy * i // steps)
        self.release()

    def chord(self, *keys: str) -> None:
        """Press ``keys`` (X keysym names: ``"Alt_L", "s"`` is Alt+S) in order, then let
        them go in reverse order."""
        codes = []
        for name in keys:
            keysym = self._x11.XStringToKeysym(name.encode())
            code = self._x11.XKeysymToKeycode(self._display, keysym) if keysym else 0
            if not code:
                raise ValueError(f"no key {name!r} on this X display")
            codes.append(code)
        for code in codes:
            self._xtst.XTestFakeKeyEvent(self._display, code, 1, CURRENT_TIME)
            self._sync()
        for code in reversed(codes):
            self._xtst.XTestFakeKeyEvent(self._display, code, 0, CURRENT_TIME)
            self._sync()

    def focus_elsewhere(self) -> None:
        """Take the keyboard focus away from every window (the user switched to another
        program), so the app's windows become inactive."""
        self._x11.XSetInputFocus(self._display, POINTER_ROOT, POINTER_ROOT, CURRENT_TIME)
        self._sync()

    def close(self) -> None:
        if self._display:
            self._x11.XCloseDisplay(self._display)
            self._display = None
