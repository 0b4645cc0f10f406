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
    assert fresh == 10 and stalled > fresh
    rate.add(21, 5)  # went backwards: restart
    assert rate.rate() is None


def test_old_samples_leave_the_window():
    rate = RateEstimator(max_samples=4, window_s=10)
    for t in range(0, 40, 2):
        rate.add(t, t * (1 if t < 30 else 3))
    assert rate.rate() > 1


def test_bad_sample_count_is_rejected():
    with pytest.raises(ValueError, match="max_samples"):
        RateEstimator(max_samples=1)
