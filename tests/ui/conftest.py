"""Fixtures for widget tests: a fake tracker and signals that follow the real contracts."""

from __future__ import annotations

import pytest

from .fakes import FakeSettings, FakeSignals, FakeTracker


@pytest.fixture
def tracker() -> FakeTracker:
    return FakeTracker()


@pytest.fixture
def signals(qtbot, tracker: FakeTracker) -> FakeSignals:
    return FakeSignals(tracker)


@pytest.fixture
def settings() -> FakeSettings:
    return FakeSettings()
