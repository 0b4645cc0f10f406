"""How many items were in at once: the queue depth and running count of the statistics.

An :class:`Occupancy` holds items that are in from an ``enter`` time until a ``leave``
time (jobs queued from creation until they started, or running from start to end): both
times sorted, and how many are in just after each entry. From that the most in at any
moment of any interval is a few binary searches (:meth:`Occupancy.peaks`).

Made once for a million jobs it sorts and searches a million times (~0.1 s);
:meth:`Occupancy.with_added` adds a few more items to one already made in a fraction of
that (the jobs that ended since: see :meth:`~.stats_data.Columns.occupancy`). No Qt.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Occupancy"]

Floats = npt.NDArray[np.float64]


class Occupancy:
    """Items in from ``enter`` until ``leave`` (both sorted), with ``after_entry``: how
    many are in just after each entry."""

    def __init__(self, enter: Floats, leave: Floats, after_entry: npt.NDArray[np.int64]) -> None:
        self.enter = enter
        self.leave = leave
        self.after_entry = after_entry

    @classmethod
    def of(cls, enter: Floats, leave: Floats) -> Occupancy:
        """The items that enter at ``enter[i]`` and leave at ``leave[i]`` (any order)."""
        enter = np.sort(enter)
        leave = np.sort(leave)
        after = np.arange(1, len(enter) + 1) - np.searchsorted(leave, enter, side="right")
        return cls(enter, leave, after)

    def with_added(self, enter: Floats, leave: Floats) -> Occupancy:
        """These items and the ones given (as :meth:`of` all of them would make, in time
        proportional to this one's size but without sorting or searching it again)."""
        if not len(enter):
            return self
        enter = np.sort(enter)
        leave = np.sort(leave)
        enter_at = np.searchsorted(self.enter, enter, side="right")
        merged_enter = np.insert(self.enter, enter_at, enter)
        leave_at = np.searchsorted(self.leave, leave, side="right")
        merged_leave = np.insert(self.leave, leave_at, leave)
        # how many have left by each entry: by this one's count, plus the added leaves
        before = np.arange(1, len(self.enter) + 1) - self.after_entry
        left = before + np.searchsorted(leave, self.enter, side="right")
        left = np.insert(left, enter_at, np.searchsorted(merged_leave, enter, side="right"))
        after = np.arange(1, len(merged_enter) + 1) - left
        return Occupancy(merged_enter, merged_leave, after)

    def __len__(self) -> int:
        return len(self.enter)

    def at(self, moments: Any) -> Any:
        """How many are in at each of ``moments``."""
        inside = np.searchsorted(self.enter, moments, side="right") - np.searchsorted(
            self.leave, moments, side="right"
        )
        return inside

    def peaks(
        self, first: float, step: float, samples: int, also: Occupancy | None = None
    ) -> npt.NDArray[np.int64]:
        """The most in (counting ``also``'s items too) at any moment of each of ``samples``
        intervals of ``step`` seconds from ``first``."""
        edges = first + step * np.arange(samples)
        peak = self.at(edges)
        if also is not None and len(also.enter):
            peak = peak + also.at(edges)
        for mine, other in ((self, also), (also, self)):
            if mine is None or not len(mine.enter):
                continue
            low = int(np.searchsorted(mine.enter, first, side="right"))
            high = int(np.searchsorted(mine.enter, first + step * samples, side="left"))
            moments = mine.enter[low:high]
            count = mine.after_entry[low:high]
            if other is not None and len(other.enter):
                count = count + other.at(moments)
            index = np.minimum(((moments - first) // step).astype(np.int64), samples - 1)
            np.maximum.at(peak, index, count)
        return np.asarray(peak, np.int64)
