"""Occupancy (the statistics' queued / running counts): adding items to one already made
gives what making it from all of them gives, ties and items that never overlap included;
and the chart's numbers after jobs end equal those of a fresh read."""

from __future__ import annotations

import numpy as np
import pytest

from jobdeck.core.occupancy import Occupancy


def same(a: Occupancy, b: Occupancy) -> None:
    assert a.enter.tolist() == b.enter.tolist()
    assert a.leave.tolist() == b.leave.tolist()
    assert a.after_entry.tolist() == b.after_entry.tolist()


@pytest.mark.parametrize("seed", range(12))
def test_adding_items_equals_making_it_from_all(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(0, 400)), int(rng.integers(0, 40))
    enter = np.round(rng.random(n + k) * 50)  # whole seconds: many ties
    leave = enter + np.round(rng.random(n + k) * rng.choice([0, 3, 30]))
    made = Occupancy.of(enter[:n], leave[:n]).with_added(enter[n:], leave[n:])
    same(made, Occupancy.of(enter, leave))
    samples = 17
    assert (
        made.peaks(0, 3, samples).tolist()
        == Occupancy.of(enter, leave).peaks(0, 3, samples).tolist()
    )


def test_adding_nothing_is_the_same() -> None:
    made = Occupancy.of(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    assert made.with_added(np.array([]), np.array([])) is made
