"""``JobTracker.counts_by_type``: one read of how many jobs of each type the store holds per
status, for ``GET /api/stats`` and ``jobdeck stats`` alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobdeck.core import JobStatus, JobTracker
from jobdeck.core.store import Store


def _fill(tracker: JobTracker) -> None:
    for _ in range(3):
        tracker.complete_job(tracker.create_job("alpha").job_id)
    tracker.fail_pending(tracker.enqueue("alpha").id, "broke")
    tracker.create_job("beta")  # running
    tracker.enqueue("beta")
    tracker.cancel_job(tracker.enqueue("gamma").id)


@pytest.mark.parametrize("kept_counts", [True, False])
def test_counts_per_type_and_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kept_counts: bool
) -> None:
    """From the counts the store keeps, and counted from the jobs where it keeps none (a
    board): the same answer, every status named."""
    if not kept_counts:
        monkeypatch.setattr(Store, "keeps_counts", False)
    with JobTracker.open(tmp_path / "jobs.db") as tracker:
        _fill(tracker)
        zero = dict.fromkeys((s.value for s in JobStatus), 0)
        assert tracker.counts_by_type() == {
            "alpha": {**zero, "completed": 3, "failed": 1},
            "beta": {**zero, "running": 1, "pending": 1},
            "gamma": {**zero, "cancelled": 1},
        }
        for name, counts in tracker.counts_by_type().items():
            for status, n in counts.items():
                assert n == tracker.count_jobs(status=status, type=name)
