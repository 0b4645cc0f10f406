"""The taskbar's learned ETA: "~4 min, usually", "re-estimating", "longer than usual".

Against the real tracker, the real JobSignals and RunHistories: the earlier runs of a job's
key come from the store (off the GUI thread), as after a restart of the app.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from jobdeck.core.clock import FakeClock
from jobdeck.core.eta import RunHistory
from jobdeck.core.job import Progress
from jobdeck.core.run_history import RunHistories
from jobdeck.core.tracker import JobTracker
from jobdeck.jobs import builtin_registry
from jobdeck.runtime.signals import JobSignals
from jobdeck.ui.job_row import JobRow
from jobdeck.ui.taskbar import Taskbar

from .fakes import make_job

ARGV = ["tar", "czf", "/tmp/backup.tgz", "/home"]


def past_runs(path, clock: FakeClock, seconds: list[int]) -> None:
    """A first session of the app that ran the same command a few times, then closed."""
    with JobTracker.open(path, clock=clock, registry=builtin_registry()) as tracker:
        for duration in seconds:
            ctx = tracker.create_job("command", params={"argv": ARGV})
            clock.advance(duration)
            tracker.complete_job(ctx.job_id)
    clock.advance(8 * 3600)  # a night later


@pytest.fixture
def jobs_db(tmp_path: Path, clock: FakeClock) -> Path:
    """The store as the first session left it: four runs of ARGV, 235 to 250 s."""
    path = tmp_path / "jobs.db"
    past_runs(path, clock, [240, 250, 235, 245])
    return path


@pytest.fixture
def session(real_tracker, real_signals) -> Iterator[tuple[JobTracker, JobSignals, RunHistories]]:
    histories = RunHistories(real_tracker)
    yield real_tracker, real_signals, histories
    histories.close()


def test_a_known_command_shows_what_it_usually_takes_then_a_smooth_eta(qtbot, session, clock):
    tracker, signals, histories = session
    bar = Taskbar(signals, history_for=histories.for_job)
    qtbot.addWidget(bar)
    ctx = tracker.create_job("command", params={"argv": ARGV, "env": {"X": "other"}})
    qtbot.waitUntil(lambda: bar.row_for(ctx.job_id) is not None, timeout=5000)
    row = bar.row_for(ctx.job_id)
    assert row is not None
    # before the first progress tick: the key's usual time, learned from the first session
    qtbot.waitUntil(lambda: "~4 min, usually" in row.time_label.text(), timeout=5000)
    assert "Usually takes ~4 min (4 earlier runs)" in row.toolTip()
    etas = []
    for second in range(10, 130, 10):
        clock.advance(10)
        ctx.update_progress(second, 240)
        qtbot.waitUntil(lambda s=second: row.job is not None and row.job.progress.current == s)
        bar.refresh()
        text = row.time_label.text()
        assert "left" in text, text
        estimate = row.learned_estimate(tracker.now())
        assert estimate is not None and estimate.seconds_left is not None
        etas.append(estimate.seconds_left)
    # on pace with its past: counts down with the clock, never jumps
    for earlier, later in itertools.pairwise(etas):
        assert 5 <= earlier - later <= 15
    tracker.complete_job(ctx.job_id)


def test_a_command_never_run_before_keeps_the_live_rate(qtbot, session, clock):
    tracker, signals, histories = session
    bar = Taskbar(signals, history_for=histories.for_job)
    qtbot.addWidget(bar)
    ctx = tracker.create_job("command", params={"argv": ["make", "-j4"]})
    qtbot.waitUntil(lambda: histories.lookups >= 1, timeout=5000)
    qtbot.waitUntil(lambda: bar.row_for(ctx.job_id) is not None, timeout=5000)
    row = bar.row_for(ctx.job_id)
    assert row is not None
    bar.refresh()
    assert "usually" not in row.time_label.text()
    assert row.learned_estimate(tracker.now()) is None
    tracker.complete_job(ctx.job_id)


def test_row_texts_for_re_estimating_and_longer_than_usual(qtbot) -> None:
    history = RunHistory((240.0, 250.0, 235.0, 245.0))
    row = JobRow(history_for=lambda job: history)
    qtbot.addWidget(row)
    job = make_job("backup", current=0, total=1000)
    start = job.started_ts
    assert start is not None
    row.set_job(job, start)
    assert "~4 min, usually" in row.time_label.text()
    # progress says four times slower than usual: the row says it is re-estimating
    texts = []
    for second in range(1, 60):
        row.set_job(replace(job, progress=Progress(second * 1000 / 960, 1000)), start + second)
        texts.append(row.time_label.text())
    assert any("re-estimating" in t for t in texts)
    # past every earlier run
    row.set_job(replace(job, progress=Progress(300, 1000)), start + 300)
    assert "longer than usual" in row.time_label.text()
    assert "-" not in row.time_label.text().split("\u00b7")[-1]  # never a negative ETA
