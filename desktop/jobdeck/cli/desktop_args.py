"""The desktop app's usual command lines, read without argparse.

``jobdeck`` from the desktop's menu, ``jobdeck --db PATH``, ``jobdeck --tray``: the start
of the window does not wait for argparse's parser to be built and to read them (~1-2 ms
of the first paint, which a bare PySide6 window does not pay; argparse itself is
imported by PySide6).
:func:`read_desktop_args` reads only those, each at most once, in the names argparse
would give them (``tests/test_cli.py`` holds that it is the same); anything else —
another option, a command, help, an abbreviation, a value that starts with ``-`` — is
left to the full parser (:func:`jobdeck.cli.parser.build_parser`), errors included.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace

__all__ = ["read_desktop_args"]

#: What the full parser gives the desktop app's options when they are not given.
_DEFAULTS = {
    "db": None,
    "no_start": False,
    "verbose": False,
    "demo": False,
    "tray": False,
    "listen": None,
    "listen_address": None,
    "dask": None,
    "command": None,
}
_FLAGS = {"--tray": "tray", "--demo": "demo"}


def read_desktop_args(argv: Sequence[str]) -> SimpleNamespace | None:
    """The options of ``argv`` when it is made only of ``--db PATH`` (or ``--db=PATH``),
    ``--tray`` and ``--demo``, each at most once; None for anything else."""
    found: dict[str, object] = {}
    tokens = iter(argv)
    for token in tokens:
        name: str
        value: object
        if token in _FLAGS:
            name, value = _FLAGS[token], True
        elif token == "--db":
            name, value = "db", next(tokens, "")
        elif token.startswith("--db="):
            name, value = "db", token.removeprefix("--db=")
        else:
            return None
        if name in found or value == "" or (name == "db" and str(value).startswith("-")):
            return None  # (twice, or no value: the full parser says what it makes of it)
        found[name] = value
    return SimpleNamespace(**{**_DEFAULTS, **found})
