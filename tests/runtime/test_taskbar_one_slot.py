"""The floating taskbar's header counts the jobs its rows show, one slot at a time (QA).

Regression: with "1 job at once" and several programs queued, the header read one job fewer
than the rows below it whenever a job had just ended: its row stays a few seconds showing
"Done", but the header counted only the running and queued jobs. Real command jobs run
through a Runner with one slot, JobSignals and the Taskbar, as the app wires them; the
header is compared with the rows every time the event loop turns, while jobs are queued,
start and end quickly, and again after an idle gap.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

from jobdeck.core import JobTracker
from jobdeck.runtime import JobSignals, Runner
from jobdeck.ui.taskbar import Taskbar

from .conftest import finished

WAIT_MS = 30_000
QUICK = [sys.executable, "-c", "import time; print('1/2', flush=True); time.sleep(0.05)"]


def header_count(bar: Taskbar) -> int:
    match = re.match(r"(\d+) jobs?\b", bar.summary())
    return int(match.group(1)) if match else 0


def more_shown(bar: Taskbar) -> int:
    """The "+N more" line's N, as shown (0 when hidden)."""
    if not bar.more_button.isVisibleTo(bar):
        return 0
    match = re.match(r"\+(\d+) more", bar.more_button.text())
    assert match, bar.more_button.text()
    return int(match.group(1))


class Mismatches:
    """Every moment the header's count differed from the rows (shown + "+N more"), as painted."""

    def __init__(self, bar: Taskbar) -> None:
        self.bar = bar
        self.seen: list[tuple[str, list[str]]] = []
        self.checks = 0

    def check(self) -> None:
        bar = self.bar
        self.checks += 1
        rows = [r.message_label.full_text() for r in bar.rows()]
        if not header_count(bar) == len(rows) + more_shown(bar) == len(rows) + bar.more_count():
            self.seen.append((bar.summary(), rows))

    def until(self, qtbot: Any, condition: Callable[[], bool]) -> None:
        def settled() -> bool:
            self.check()
            return condition()

        qtbot.waitUntil(settled, timeout=WAIT_MS)


def run_burst(qtbot: Any, tracker: JobTracker, watch: Mismatches, count: int) -> list[str]:
    ids = [
        tracker.enqueue("command", params={"argv": QUICK}, title=f"quick {i}").id
        for i in range(count)
    ]
    watch.until(qtbot, lambda: all(finished(tracker, i) for i in ids))
    watch.until(qtbot, lambda: not watch.bar.rows())  # the "Done" rows have gone too
    return ids


def test_header_counts_the_rows_with_one_job_at_a_time(
    qtbot: Any, tracker: JobTracker, make_runner: Callable[..., Runner]
) -> None:
    make_runner(max_workers=1)
    signals = JobSignals(tracker, interval_ms=10)
    bar = Taskbar(signals, tracker, keep_finished_ms=400, max_rows=3)  # "+N more" too
    qtbot.addWidget(bar)
    watch = Mismatches(bar)
    try:
        run_burst(qtbot, tracker, watch, 6)
        qtbot.wait(800)  # idle: the pump and the service quiet down
        watch.check()
        run_burst(qtbot, tracker, watch, 3)
    finally:
        signals.close()
    assert watch.checks > 20
    assert watch.seen == [], f"header vs rows: {watch.seen[:3]}"
    assert bar.summary() == "No active jobs"
