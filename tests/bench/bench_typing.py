"""Typing a word into the history's search box: ``python tests/bench/run.py typing`` (issue
15; on a copy of the history bench's cached 1M-job store; ``JOBDECK_TYPING_DELAYS=250,-1``
chooses the delays compared).

The real :class:`~jobdeck.ui.main_window.MainWindow`, offscreen, over a store of 1,000,000
realistic jobs, in a child process with the user's environment, the app's switch interval
and, once the window is shown, what the app does with the objects of its start: they are
left out of the garbage collector's passes (``runtime.tuning.freeze_startup_objects``;
until this round they were not, and a full pass on a search's reading thread walked them
all holding the interpreter lock, 35-40 ms, 100-170 ms on a busy machine: a pause of the GUI
thread the app does not have). Each word is typed into the search box a key every
``KEY_MS`` (QTest.keyClicks with a delay: the event loop runs between keys, as for a
person typing ~10 keys/s).
Figures per search delay (``SEARCH_DELAY_MS`` of the main window; each delay is a child of
its own, side by side in one run):

- ``typed_ms``: from the last key to the end of the paint that shows the word's rows (or
  that there are none) (budget <= 100 ms: it feels immediate);
- ``gap_ms``: the GUI thread's longest pause from the first key to that paint (budget <=
  50 ms: typing stays smooth), and ``gap_cpu_ms`` the GUI thread's CPU time in it (near
  ``gap_ms``: GUI work, e.g. a paint; far below: waiting for a core or the interpreter
  lock);
- ``reads``/``counts``: how many searches were read and counted (started) for the word's
  keys (a read superseded before it starts is skipped; a count is stopped when typed on).

A ``|`` in a word is a pause of ``PAUSE_MS`` (``zq|xj``: a rare pair of letters, scanned
for, searched during the pause, then typed on).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

JOBS = 1_000_000
WORDS = ("rsync", "holiday", "sparrow", "zqxj", "zq|xj")
KEY_MS = 100
PAUSE_MS = 400
#: "D": every search waits D ms after the last key (250: until this round); "D:S": a text
#: the index looks up D, 1-2 letters S; "-1": the window's own delays.
DELAYS = ("250", "-1", "0")
DELAY_NOTE = "D: every search waits D ms; D:S: a word D, 1-2 letters S; -1: the window's own"
BUDGET_TYPED_MS = 100.0
BUDGET_GAP_MS = 50.0


def typing_child(db: str, delays: str) -> int:
    """``delays``: "D" (every search waits D ms), "D:S" (a word D, 1-2 letters S) or "-1"
    (the window's own)."""
    from PySide6.QtCore import QEvent, QEventLoop, QObject
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication
    from qt_wait import GapMeter, spin_for, spin_until

    import jobdeck.ui.main_window as main_window
    from jobdeck.core import JobTracker
    from jobdeck.core.registry import JobRegistry
    from jobdeck.runtime import JobSignals

    qapp = QApplication.instance() or QApplication([])
    from jobdeck.runtime.tuning import GUI_SWITCH_INTERVAL, SwitchInterval, freeze_startup_objects

    SwitchInterval(GUI_SWITCH_INTERVAL).apply()
    tracker = JobTracker.open(db, retention=None)
    build = getattr(tracker.store, "_history_build", None)
    if build is not None:
        build.done.wait(3600)
    reads: list[str] = []
    counts: list[str] = []
    page, count = tracker.history_page, tracker.count_jobs

    def history_page(where: Any, *args: Any, **kw: Any) -> Any:
        if where.search:
            reads.append(where.search)
        return page(where, *args, **kw)

    def count_jobs(*args: Any, **kw: Any) -> Any:
        if kw.get("search"):
            counts.append(kw["search"])
        return count(*args, **kw)

    tracker.history_page = history_page  # type: ignore[method-assign]
    tracker.count_jobs = count_jobs  # type: ignore[method-assign]
    signals = JobSignals(tracker)
    if delays != "-1":  # else the window's own delays
        word_ms, _, short_ms = delays.partition(":")
        main_window.SEARCH_DELAY_MS = int(word_ms)  # (read at each keystroke)
        main_window.SHORT_SEARCH_DELAY_MS = int(short_ms or word_ms)
    window = main_window.MainWindow(tracker, signals, JobRegistry())
    window.resize(1280, 800)
    window.show()
    spin_for(0.5)
    freeze_startup_objects()  # as the app does once it has started (see the module)

    class Paints(QObject):
        count = 0

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                self.count += 1
            return False

    paints = Paints()
    window.table.viewport().installEventFilter(paints)
    model = window.model
    out: dict[str, Any] = {"delays": delays, "words": {}}
    for word in WORDS:
        window.search_edit.clear()
        window.apply_filter()
        spin_until(lambda: not model.search_pending and not model.search_counting, 60)
        spin_for(0.3)
        reads.clear()
        counts.clear()
        meter = GapMeter()
        meter.start()
        window.search_edit.setFocus()
        for k, char in enumerate(word.replace("|", "")):
            if k:
                spin_for(KEY_MS / 1000)  # the event loop runs between keys
            if word.find("|") == k:
                spin_for(PAUSE_MS / 1000)
            QTest.keyClicks(window.search_edit, char)
        last_key = time.perf_counter()
        deadline = last_key + 60
        while (
            model.filter.search != word.replace("|", "") or model.search_pending
        ) and time.perf_counter() < deadline:
            qapp.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
        arrived = paints.count
        while paints.count == arrived and time.perf_counter() < deadline:
            qapp.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
        typed = (time.perf_counter() - last_key) * 1000
        meter.stop()
        gap, gap_cpu = meter.longest()
        spin_until(lambda: not model.search_counting, 60)
        out["words"][word] = {
            "typed_ms": typed,
            "gap_ms": gap,
            "gap_cpu_ms": gap_cpu,
            "reads": len(reads),
            "counts": len(counts),
            "rows": model.rowCount(),
        }
    window.close()
    signals.close()
    tracker.close()
    print(json.dumps(out), flush=True)
    return 0


def main() -> int:
    from figures import figure, info
    from honest_env import header, quick, run_json_child
    from realistic_store import cached_store

    n = 2_000 if quick() else JOBS
    env = os.environ.get("JOBDECK_TYPING_DELAYS")
    delays = env.split(",") if env else list(DELAYS)
    header("typing", f"typing words into the history's search box over {n:,} realistic jobs")
    status = 0
    with tempfile.TemporaryDirectory(prefix="jd-typing-") as name:
        db = cached_store(Path(name) / "jobs.db", n)  # (a copy: opening writes to it)
        for delay in delays:
            print(f"# delays {delay} ({DELAY_NOTE})")
            r = run_json_child(Path(__file__), ["child", str(db), delay], timeout=1200)
            for word, f in r["words"].items():
                said = f"ms ({f['reads']} reads, {f['counts']} counts, {f['rows']:,} rows)"
                if delay != "-1":  # for comparison: no budget
                    info(f"typed_ms[{delay}][{word}]", f["typed_ms"], said)
                    info(f"gap_ms[{delay}][{word}]", f["gap_ms"], "ms")
                    info(f"gap_cpu_ms[{delay}][{word}]", f["gap_cpu_ms"], "ms of GUI CPU")
                    continue
                typed, gap = f["typed_ms"], f["gap_ms"]
                budget = f"<= {BUDGET_TYPED_MS:g}"
                status |= figure(f"typed_ms[{word}]", typed, said, budget, typed <= BUDGET_TYPED_MS)
                budget = f"<= {BUDGET_GAP_MS:g}"
                status |= figure(f"gap_ms[{word}]", gap, "ms", budget, gap <= BUDGET_GAP_MS)
                info(f"gap_cpu_ms[{word}]", f["gap_cpu_ms"], "ms of GUI CPU in that pause")
    return status


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "child":
        sys.path.insert(0, str(HERE.parents[1] / "desktop"))
        sys.exit(typing_child(sys.argv[2], sys.argv[3]))
    sys.exit(main())
