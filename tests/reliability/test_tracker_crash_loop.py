"""The crash loop of ``tests/bench/bench_crash.py``, short: a few SIGKILLs at random moments
while threads create, complete and cancel jobs; every change a call acknowledged (recorded
by the child after the call returned) is found after reopening. The benchmark runs the
long version (``python tests/bench/run.py crash``)."""

from __future__ import annotations

from pathlib import Path

from tests.bench.bench_crash import run_trials


def test_no_acknowledged_change_is_lost_across_sigkills(tmp_path: Path) -> None:
    report = run_trials(tmp_path, trials=3, threads=3, min_run=0.3, max_run=0.8, seed=11)
    assert report.trials == 3
    assert report.checked > 50, "the child acknowledged too little to prove anything"
    assert report.lost == []
    assert report.integrity_problems == []
