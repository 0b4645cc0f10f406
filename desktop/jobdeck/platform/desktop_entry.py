"""The application-menu entry: Jobdeck's .desktop file and icon in the user's XDG data dir.

:func:`install_desktop_entry` (``jobdeck install-desktop [--uninstall]``) writes
``applications/jobdeck.desktop`` and ``icons/hicolor/scalable/apps/jobdeck.svg`` under
``$XDG_DATA_HOME`` (default ``~/.local/share``), so the menus, docks and notification
servers of every freedesktop desktop find Jobdeck by its desktop-file id ``jobdeck`` (the
one the app announces with ``QGuiApplication.setDesktopFileName("jobdeck")``). The entry's
``Exec`` is the absolute path of the jobdeck that runs the command, so it works even when
the desktop session's ``PATH`` lacks pip's or pipx's bin directory.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "DESKTOP_FILE_ID",
    "data_home",
    "icon_file",
    "install_desktop_entry",
    "jobdeck_command",
    "render_desktop_entry",
]

DESKTOP_FILE_ID = "jobdeck"

_TEMPLATE = """\
[Desktop Entry]
Type=Application
Name=Jobdeck
GenericName=Job Monitor
Comment=Launch long-running work and watch its progress
Exec={exec}
Icon=jobdeck
Terminal=false
Categories=System;Monitor;
Keywords=jobs;progress;tasks;queue;monitor;
StartupNotify=true
StartupWMClass=Jobdeck
"""

#: Characters that make the desktop-entry spec require a quoted argument.
_RESERVED = re.compile(r"[\s\"'\\><~|&;$*?#()`]")


def _quote(argument: str) -> str:
    if argument and not _RESERVED.search(argument):
        return argument
    return '"' + re.sub(r'(["`$\\])', r"\\\1", argument) + '"'


def render_desktop_entry(command: Sequence[str]) -> str:
    """The .desktop file that runs ``command`` (quoted as the desktop-entry spec says).

    ``Exec`` has no field code (such as ``%U``): Jobdeck takes no files or URLs."""
    if not command:
        raise ValueError("the command to put in Exec is empty")
    exec_line = " ".join(_quote(a) for a in command).replace("%", "%%")
    # Exec is a "string" value: a backslash is written as \\ in the file.
    return _TEMPLATE.format(exec=exec_line.replace("\\", "\\\\"))


def jobdeck_command() -> list[str]:
    """How to start the jobdeck that runs now, with absolute paths: the bundle's program,
    the ``jobdeck`` script it was started as, the one on ``PATH``, or ``python -m jobdeck``."""
    if getattr(sys, "frozen", False):
        return [str(Path(sys.executable).absolute())]
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.name == "jobdeck" and os.access(script, os.X_OK):
        return [str(script.absolute())]
    found = shutil.which("jobdeck")
    if found:
        return [str(Path(found).absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "jobdeck"]


def data_home() -> Path:
    """``$XDG_DATA_HOME`` when it is an absolute path (the spec ignores relative ones), else
    ``~/.local/share``."""
    value = os.environ.get("XDG_DATA_HOME", "")
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / ".local" / "share"


def icon_file() -> Path:
    """Jobdeck's scalable icon (``jobdeck.svg``) in the bundle, wheel or checkout."""
    package = Path(__file__).resolve().parent.parent  # .../jobdeck
    candidates = []
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        candidates.append(Path(bundle) / "resources" / "icons" / "jobdeck.svg")
    candidates += [
        package / "resources" / "icons" / "jobdeck.svg",  # a wheel, or the checkout's link
        package.parent.parent / "resources" / "icons" / "jobdeck.svg",  # a source checkout
    ]
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        "Jobdeck's icon jobdeck.svg was not found in: " + ", ".join(str(p) for p in candidates)
    )


def _write(path: Path, data: bytes) -> None:
    """Replace ``path`` in one step, so a menu never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def install_desktop_entry(
    uninstall: bool = False,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    command: Sequence[str] | None = None,
) -> list[Path]:
    """Install (or with ``uninstall`` remove) Jobdeck's menu entry and icon for this user.

    ``data_dir`` defaults to :func:`data_home`; ``command`` to :func:`jobdeck_command`.
    Returns the files written or removed. Installing again replaces both files.
    """
    base = Path(data_dir) if data_dir is not None else data_home()
    entry = base / "applications" / f"{DESKTOP_FILE_ID}.desktop"
    icon = base / "icons" / "hicolor" / "scalable" / "apps" / f"{DESKTOP_FILE_ID}.svg"
    if uninstall:
        removed = []
        for path in (entry, icon):
            if path.exists():
                path.unlink()
                removed.append(path)
        return removed
    text = render_desktop_entry(list(command) if command is not None else jobdeck_command())
    _write(icon, icon_file().read_bytes())
    _write(entry, text.encode())
    return [entry, icon]
