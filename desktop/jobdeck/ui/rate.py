"""ETA from observed progress: a few recent ``(time, current)`` samples give the rate."""

from __future__ import annotations

from collections import deque

__all__ = ["RateEstimator"]

#: A step this many times faster than the rate measured so far is a jump, not speed.
JUMP_FACTOR = 10.0


class RateEstimator:
    """Estimates the remaining time of one job from its recent progress samples.

    Keeps at most ``max_samples`` samples spanning at most ``window_s`` seconds; the rate is
    the slope between the oldest and newest kept sample. Progress that *jumps* never counts
    as speed; the estimator starts afresh from the sample after the jump:

    * the first sample of a job that already had progress (``current > 0``: a job seen for
      the first time, e.g. re-attached after a restart, whose stored progress may be stale)
      is only a provisional baseline, replaced by the next sample that moves;
    * a sample after a silence longer than ``window_s`` (the app was suspended, the job was
      re-attached) restarts the history;
    * a step more than ``JUMP_FACTOR`` times faster than the rate measured so far restarts it;
    * a sample with a smaller ``current`` than the last (the job restarted or reset its
      counter) clears the history.
    """

    def __init__(self, max_samples: int = 8, window_s: float = 30.0) -> None:
        if max_samples < 2:
            raise ValueError(f"RateEstimator needs max_samples >= 2, got {max_samples}")
        self._samples: deque[tuple[float, float]] = deque(maxlen=max_samples)
        self._window_s = window_s
        self._provisional = False

    def clear(self) -> None:
        """Forget every sample: the next one starts a fresh estimate (e.g. at a re-attach)."""
        self._samples.clear()
        self._provisional = False

    restart = clear

    def add(self, t: float, current: float) -> None:
        """Record that progress was ``current`` at time ``t`` (seconds, any monotonic base)."""
        if not self._samples:
            self._samples.append((t, current))
            self._provisional = current > 0
            return
        last_t, last_c = self._samples[-1]
        if current < last_c:
            self.clear()
            self._samples.append((t, current))
            return
        if current == last_c:
            return  # no movement: keep the older sample so the rate decays naturally
        if t <= last_t:
            self._samples[-1] = (last_t, current)
            return
        if self._provisional or t - last_t > self._window_s or self._is_jump(t, current):
            self.clear()  # start afresh from this sample; the step is not speed
            self._samples.append((t, current))
            return
        self._samples.append((t, current))
        while len(self._samples) > 2 and t - self._samples[0][0] > self._window_s:
            self._samples.popleft()

    def _is_jump(self, t: float, current: float) -> bool:
        rate = self.rate()
        if rate is None or rate <= 0 or self._samples[-1][0] - self._samples[0][0] < 2.0:
            return False  # no established rate yet to compare with
        last_t, last_c = self._samples[-1]
        return (current - last_c) / (t - last_t) > JUMP_FACTOR * rate

    def rate(self) -> float | None:
        """Units per second, or None with fewer than two samples."""
        if len(self._samples) < 2:
            return None
        (t0, c0), (t1, c1) = self._samples[0], self._samples[-1]
        if t1 <= t0:
            return None
        return (c1 - c0) / (t1 - t0)

    def eta(self, current: float, total: float, now: float | None = None) -> float | None:
        """Seconds left to reach ``total``; None when unknown (no total, no rate).

        With ``now``, time since the last sample counts as stalled progress, so a job that
        stops moving shows a growing rather than a frozen ETA.
        """
        rate = self.rate()
        if not total or rate is None or rate <= 0:
            return None
        left = max(0.0, (total - current) / rate)
        if now is not None and self._samples:
            stalled = now - self._samples[-1][0]
            if stalled > 0:
                # the rate measured up to the last sample, diluted by the stall since
                t0 = self._samples[0][0]
                span = self._samples[-1][0] - t0
                diluted = rate * span / (span + stalled)
                left = max(0.0, (total - current) / diluted) if diluted > 0 else left
        return left
