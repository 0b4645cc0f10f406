"""Start-up, counted in instructions: ``python tests/bench/run.py startup_instructions``
(issue 15, item 6).

The wall clock of ``startup`` is noisy on a shared machine; this counts the instructions
(valgrind's callgrind, from the interpreter's start) that each of two fresh processes runs
until the end of the first paint of its main window, then exits at once:

- ``bare``: a minimal PySide6 window (a QMainWindow around an empty QTableView, the
  ``startup`` benchmark's baseline);
- ``jobdeck``: Jobdeck as users start it (``jobdeck.cli.main(["--db", PATH])``, what
  ``python -m jobdeck --db PATH`` runs) on an empty store in a temporary folder.

Both run offscreen (``QT_QPA_PLATFORM=offscreen``) with the user's normal environment
(``honest_env``) and private XDG folders; one start of each without valgrind comes first
(bytecode, font caches). The first paint is seen the way ``startup`` sees it: an event
filter on the first main window shown (no application-wide filter). Budget: ``jobdeck``
<= 1.5x ``bare``. Where the instructions go: ``callgrind_annotate`` on the files kept
with ``--keep DIR`` (``python tests/bench/bench_startup_instructions.py --keep DIR``).
Needs ``valgrind``; each start under it takes ~1 min.
"""

from __future__ import annotations

# (the child imports nothing more before it starts the window: what it imports is counted)
import os
import sys
from typing import TYPE_CHECKING

BUDGET_BARE_RATIO = 1.5
CHILD_TIMEOUT_S = 600.0

if TYPE_CHECKING:
    from pathlib import Path


def child(kind: str, db: str) -> int:
    """Start a window of ``kind`` (``bare`` or ``jobdeck``) and exit at the end of its
    first paint (``os._exit``: the count ends there)."""
    if kind == "jobdeck":
        # What jobdeck.cli._gui does first (it repeats them, at no cost): then PySide6 is
        # imported as the app's start imports it, and its import hook is told the same.
        from jobdeck.cli.before_qt import import_before_qt, import_qt

        import_before_qt()
        import_qt()

    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication, QMainWindow, QTableView, QWidget

    class AtFirstPaint(QObject):
        window: QWidget | None = None

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if watched is self.window and event.type() == QEvent.Type.Paint:
                QTimer.singleShot(0, lambda: os._exit(0))  # once the frame is painted
            return False

    watcher = AtFirstPaint()
    show = QWidget.show

    def show_and_watch(widget: QWidget) -> None:
        if isinstance(widget, QMainWindow) and watcher.window is None:
            QWidget.show = show  # type: ignore[method-assign]
            watcher.window = widget
            widget.installEventFilter(watcher)
        show(widget)

    QWidget.show = show_and_watch  # type: ignore[method-assign]
    if kind == "bare":
        qapp = QApplication([sys.argv[0]])
        window = QMainWindow()
        window.setWindowTitle("bare")
        window.setCentralWidget(QTableView())
        window.statusBar().showMessage("ready")
        window.resize(1000, 700)
        window.show()
        return qapp.exec()
    from jobdeck.cli import main

    return main(["--db", db])


def start(kind: str, tmp: Path, out: Path | None) -> int | None:
    """One start of ``kind`` in a fresh child, under callgrind when ``out`` is given (then
    its instruction count), else plainly (None)."""
    import shutil
    import subprocess

    from honest_env import honest_env

    xdg = tmp / "xdg"
    for sub in ("config", "data", "cache", "runtime"):
        (xdg / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
    env = honest_env(
        {
            "QT_QPA_PLATFORM": "offscreen",
            "XDG_CONFIG_HOME": str(xdg / "config"),
            "XDG_DATA_HOME": str(xdg / "data"),
            "XDG_CACHE_HOME": str(xdg / "cache"),
            "XDG_RUNTIME_DIR": str(xdg / "runtime"),
        }
    )
    db = tmp / "store" / "jobs.db"  # (a new, empty store each time)
    shutil.rmtree(db.parent, ignore_errors=True)
    db.parent.mkdir()
    command = [sys.executable, os.path.abspath(__file__), "child", kind, str(db)]
    if out is not None:
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=yes",
            f"--callgrind-out-file={out}",
            *command,
        ]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{kind} start failed ({done.returncode}):\n{done.stderr[-3000:]}")
    if out is None:
        return None
    return instructions(out)


def instructions(out: Path) -> int:
    """The total instruction count of a callgrind output file."""
    import re

    for line in out.read_text(errors="replace").splitlines():
        found = re.match(r"(?:summary|totals):\s+(\d+)", line)
        if found:
            return int(found.group(1))
    raise RuntimeError(f"no total in {out}")


def main(keep: Path | None = None) -> int:
    import shutil
    import tempfile

    from figures import figure, info
    from honest_env import header

    header("startup_instructions", "instructions to the first paint, beside a bare window")
    if shutil.which("valgrind") is None:
        print("# valgrind is not installed: nothing measured")
        return 0
    with tempfile.TemporaryDirectory(prefix="jd-startup-instr-") as name:
        from pathlib import Path

        tmp = Path(name)
        folder = keep or tmp
        folder.mkdir(parents=True, exist_ok=True)
        counts: dict[str, int] = {}
        for kind in ("bare", "jobdeck"):
            start(kind, tmp, None)  # warm: bytecode, font caches
            count = start(kind, tmp, folder / f"callgrind.{kind}.out")
            assert count is not None
            counts[kind] = count
            info(f"instructions_to_first_paint_{kind}_M", counts[kind] / 1e6, "M")
    if keep is not None:
        print(f"# callgrind files in {keep}: callgrind_annotate {keep}/callgrind.jobdeck.out")
    ratio = counts["jobdeck"] / counts["bare"]
    return figure(
        "instructions_to_first_paint_vs_bare_pyside6_ratio",
        ratio,
        "x",
        f"<= {BUDGET_BARE_RATIO:g}",
        ratio <= BUDGET_BARE_RATIO,
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "child":
        sys.exit(child(sys.argv[2], sys.argv[3]))  # (jobdeck from PYTHONPATH: honest_env)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    if len(sys.argv) == 3 and sys.argv[1] == "--keep":
        from pathlib import Path

        sys.exit(main(Path(sys.argv[2]).resolve()))
    print("usage: python tests/bench/run.py startup_instructions")
    print("       python tests/bench/bench_startup_instructions.py --keep DIR")
    sys.exit(2)
