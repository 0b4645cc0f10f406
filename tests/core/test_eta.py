"""Learned ETAs (jobdeck.core.eta) and the past runs they learn from (core.run_history)."""

from __future__ import annotations

import itertools

import pytest

from jobdeck.core import FakeClock, JobTracker
from jobdeck.core.eta import MIN_RUNS_FOR_SLOW, EtaState, LearnedEta, RunHistory
from jobdeck.core.job import Job
from jobdeck.core.job_key import job_key
from jobdeck.core.registry import JobRegistry
from jobdeck.core.run_history import RunHistories

from .conftest import wait_until

# --- RunHistory ---------------------------------------------------------------------------


def test_history_typical_p90_and_longest() -> None:
    history = RunHistory(tuple(float(d) for d in range(10, 110, 10)))
    assert history.typical == 55
    assert history.p90 == 90
    assert history.longest == 100
    assert history.runs == 10
    assert RunHistory((60.0,)).p90 == 60  # one run: it is the p90 and the longest


def test_history_refuses_nothing_usable() -> None:
    assert RunHistory.of([float("nan"), -1.0]) is None
    with pytest.raises(ValueError, match="at least one finite"):
        RunHistory(())


def test_with_run_keeps_the_newest() -> None:
    history = RunHistory((1.0, 2.0, 3.0)).with_run(9.0, keep=3)
    assert history.durations == (9.0, 1.0, 2.0)


# --- job keys -----------------------------------------------------------------------------


def test_job_key_counts_only_the_identifying_params() -> None:
    a = job_key("command", {"argv": ["tar", "c", "x"], "env": {"A": "1"}}, ("argv", "cwd"))
    b = job_key("command", {"env": {"A": "2"}, "argv": ["tar", "c", "x"]}, ("argv", "cwd"))
    c = job_key("command", {"argv": ["tar", "c", "y"]}, ("argv", "cwd"))
    assert a == b != c
    assert job_key("a", {"x": 1, "y": 2}) == job_key("a", {"y": 2, "x": 1})
    assert job_key("a", {"x": 1}) != job_key("b", {"x": 1})


# --- LearnedEta ---------------------------------------------------------------------------


def four_minutes() -> RunHistory:
    return RunHistory((240.0, 230.0, 250.0, 245.0, 235.0))


def test_before_the_first_tick_it_says_what_the_key_usually_takes() -> None:
    eta = LearnedEta(four_minutes())
    estimate = eta.update(0.0, None)
    assert estimate.state is EtaState.USUALLY
    assert estimate.usual == 240
    assert estimate.seconds_left == pytest.approx(240)
    later = eta.update(60.0, 0.0)
    assert later.state is EtaState.USUALLY
    assert later.seconds_left == pytest.approx(180)


def test_history_leads_early_and_the_live_rate_later() -> None:
    # this run goes twice as fast as the earlier ones: 120 s in all
    eta = LearnedEta(four_minutes())
    eta.update(0.0, None)
    early = None
    for second in range(1, 61):
        early = eta.update(float(second), second / 120)
    assert early is not None and early.state in (EtaState.ESTIMATING, EtaState.RE_ESTIMATING)
    for second in range(61, 109):
        late = eta.update(float(second), second / 120)
    assert late.seconds_left is not None
    assert late.seconds_left == pytest.approx(12, abs=8)  # the live rate has taken over


def test_the_shown_eta_never_jumps_back_and_forth() -> None:
    eta = LearnedEta(four_minutes())
    shown = []
    for tenth in range(1, 2400):
        t = tenth / 10
        # noisy progress: bursts and pauses around the usual speed
        fraction = min(1.0, (t + (5 if (tenth // 50) % 2 else -5)) / 240)
        estimate = eta.update(t, max(fraction, 0.0))
        if estimate.seconds_left is not None:
            shown.append((t, estimate.seconds_left))
    # what is shown moves at most a few seconds per tenth of a second beyond the clock's tick
    steps = [abs((b - a) + (tb - ta)) for (ta, a), (tb, b) in itertools.pairwise(shown)]
    assert max(steps) < 3.0


def test_a_big_change_is_shown_as_re_estimating_then_settles() -> None:
    eta = LearnedEta(four_minutes())
    eta.update(0.0, None)
    # progress says the run will take four times as long as usual
    states = [eta.update(float(s), s / 960).state for s in range(1, 200)]
    assert states[0] is EtaState.ESTIMATING  # one tick is no reason to doubt the history
    assert EtaState.RE_ESTIMATING in states
    first = states.index(EtaState.RE_ESTIMATING)
    assert EtaState.ESTIMATING in states[first:]  # it settles
    final = eta.update(600.0, 600 / 960)
    assert final.seconds_left == pytest.approx(360, rel=0.2)


def test_past_every_earlier_run_it_is_longer_than_usual_never_negative() -> None:
    eta = LearnedEta(four_minutes())
    estimate = eta.update(300.0, 0.5)
    assert estimate.state is EtaState.LONGER_THAN_USUAL
    assert estimate.seconds_left is None or estimate.seconds_left > 0
    stuck = eta.update(400.0, 0.5)  # no progress since: the ETA grows, it does not freeze
    assert stuck.state is EtaState.LONGER_THAN_USUAL
    assert stuck.seconds_left is not None and stuck.seconds_left > 0


def test_slower_than_usual_needs_enough_runs() -> None:
    assert LearnedEta(four_minutes()).update(252.0, None).slower_than_usual
    assert not LearnedEta(four_minutes()).update(200.0, None).slower_than_usual
    few = RunHistory((240.0,) * (MIN_RUNS_FOR_SLOW - 1))
    assert not LearnedEta(few).update(250.0, None).slower_than_usual


# --- RunHistories over a real tracker ---------------------------------------------------------


def snapshot(tracker: JobTracker, job_id: str) -> Job:
    job = tracker.get_job(job_id)
    assert job is not None
    return job


def _copy(ctx: object, src: str = "", note: str = "") -> None:
    return None


def registry() -> JobRegistry:
    reg = JobRegistry()
    reg.register("copy", _copy, key_params=("src",))  # the note is not part of the key
    return reg


def test_histories_learn_per_key_at_start_and_from_completions(tmp_path, clock: FakeClock) -> None:
    tracker = JobTracker.open(tmp_path / "jobs.db", clock=clock, registry=registry())
    try:
        for seconds in (100, 120, 110):
            ctx = tracker.create_job("copy", params={"src": "/a", "note": str(seconds)})
            clock.advance(seconds)
            tracker.complete_job(ctx.job_id)
        ctx = tracker.create_job("copy", params={"src": "/b"})
        clock.advance(5)
        tracker.complete_job(ctx.job_id)

        histories = RunHistories(tracker)
        try:
            # the lookup starts as the job starts, off this thread
            ctx = tracker.create_job("copy", params={"src": "/a", "note": "new"})
            job = snapshot(tracker, ctx.job_id)
            assert wait_until(lambda: histories.for_job(job) is not None)
            history = histories.for_job(job)
            assert history is not None and sorted(history.durations) == [100, 110, 120]
            lookups = histories.lookups
            clock.advance(130)
            tracker.complete_job(job.id)
            again = tracker.create_job("copy", params={"src": "/a"})
            history = histories.for_job(
                snapshot(tracker, again.job_id)
            )  # from the cache: the new run is in it
            assert history is not None and history.durations[0] == 130
            assert histories.lookups == lookups  # no second lookup for the same key

            fresh = tracker.create_job("copy", params={"src": "/never"})
            assert wait_until(lambda: histories.lookups == lookups + 1)
            assert histories.for_job(snapshot(tracker, fresh.job_id)) is None  # no false history
        finally:
            histories.close()
    finally:
        tracker.close()


def test_a_second_launch_learns_from_the_first(tmp_path, clock: FakeClock) -> None:
    path = tmp_path / "jobs.db"
    with JobTracker.open(path, clock=clock, registry=registry()) as first:
        ctx = first.create_job("copy", params={"src": "/a"})
        clock.advance(42)
        first.complete_job(ctx.job_id)
    clock.advance(3600)  # the app was closed for an hour
    with JobTracker.open(path, clock=clock, registry=registry()) as second:
        histories = RunHistories(second)
        try:
            job = second.enqueue("copy", {"src": "/a"})  # pending: not looked up yet
            assert histories.for_job(job) is None  # unknown yet: a lookup starts
            assert wait_until(lambda: histories.for_job(job) is not None)
            history = histories.for_job(job)
            assert history is not None and history.typical == 42
        finally:
            histories.close()
