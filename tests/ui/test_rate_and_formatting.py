from datetime import timedelta

import pytest

from jobdeck.ui.formatting import format_duration, format_percent
from jobdeck.ui.rate import RateEstimator


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "\u2014"),
        (0, "0s"),
        (59.4, "59s"),
        (65, "1m 05s"),
        (3 * 3600 + 120, "3h 02m"),
        (timedelta(days=2, hours=5), "2d 5h"),
    ],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_format_percent():
    assert format_percent(None) == "\u2014"
    assert format_percent(2.345) == "2.3%"
    assert format_percent(45.9) == "45%"


def test_rate_needs_two_samples_and_gives_eta():
    rate = RateEstimator()
    rate.add(0, 0)
    assert rate.eta(0, 100) is None
    rate.add(10, 20)
    assert rate.rate() == 2
    assert rate.eta(20, 100) == 40
    assert rate.eta(20, 0) is None  # unknown total


def test_a_stall_makes_the_eta_grow_and_a_reset_clears_history():
    rate = RateEstimator()
    rate.add(0, 0)
    rate.add(10, 50)
    fresh = rate.eta(50, 100, now=10)
    stalled = rate.eta(50, 100, now=20)
    assert fresh == 10 and stalled is not None and stalled > fresh
    rate.add(21, 5)  # went backwards: restart
    assert rate.rate() is None


def test_old_samples_leave_the_window():
    rate = RateEstimator(max_samples=4, window_s=10)
    for t in range(0, 40, 2):
        rate.add(t, t * (1 if t < 30 else 3))
    found = rate.rate()
    assert found is not None and found > 1


def test_bad_sample_count_is_rejected():
    with pytest.raises(ValueError, match="max_samples"):
        RateEstimator(max_samples=1)


def test_counts_and_progress_are_formatted_one_way():
    from jobdeck.ui.formatting import format_count, format_progress

    assert format_count(60) == "60" and format_count(60.0) == "60"
    assert format_count(5.82218) == "5.8"
    assert format_count(1250) == "1,250"
    assert format_progress(5.82218, 60) == "9.7% (5.8 of 60)"
    assert format_progress(3, 4) == "75% (3 of 4)"
    assert format_progress(3, 0) == "\u2014"  # unknown total


def test_error_summary_is_one_line_and_never_a_traceback():
    from jobdeck.core.job import JobError
    from jobdeck.ui.formatting import error_summary

    trace = (
        "Traceback (most recent call last):\n"
        '  File "x.py", line 1, in <module>\n'
        "    open('/nope')\n"
        "FileNotFoundError: [Errno 2] No such file or directory: '/nope'\n"
    )
    assert error_summary(trace) == "FileNotFoundError: [Errno 2] No such file or directory: '/nope'"
    assert error_summary(JobError("exit status 3\nlast lines:\nboom", trace)) == "exit status 3"
    assert error_summary(None) == "" and error_summary(JobError("  ")) == ""


def test_error_summary_of_a_program_says_its_status_and_last_output_line():
    """A failed program's one line is its exit status and the line that says why (its last
    output), not "exit status 3; last output:" that says nothing."""
    from jobdeck.core.job import JobError
    from jobdeck.runtime.executors.processes import failure_message
    from jobdeck.ui.formatting import error_summary

    message = failure_message(3, None, ["starting", "error: cannot open config.yml", ""])
    assert error_summary(JobError(message)) == "exit status 3: error: cannot open config.yml"
    killed = failure_message(None, 9, ["step 2 of 5"])
    assert error_summary(killed) == "killed by signal SIGKILL (9): step 2 of 5"
    assert error_summary(failure_message(1, None, [])) == "exit status 1 (no output)"


def test_a_jump_in_progress_never_counts_as_speed():
    rate = RateEstimator()
    rate.add(0, 40)  # first seen with progress already made (re-attached): provisional
    rate.add(0.5, 70)  # the live value arrives: a jump, so the estimate starts here
    assert rate.rate() is None
    rate.add(10.5, 80)
    assert rate.rate() == 1
    rate.add(11.0, 95)  # 30 units/s against 1 unit/s: a jump, start afresh
    assert rate.rate() is None
    rate.add(12.0, 96)
    assert rate.rate() == 1


def test_a_long_silence_starts_the_estimate_afresh():
    rate = RateEstimator(window_s=30)
    rate.add(0, 0)
    rate.add(10, 10)
    rate.add(100, 20)  # nothing heard for 90 s (the app was suspended)
    assert rate.rate() is None
    rate.add(102, 24)
    assert rate.rate() == 2
