"""ETAs learned from past runs: what a job's earlier runs say about this one.

* :class:`RunHistory` -- the durations of the recent successful runs of one job key
  (:mod:`.job_key`): typical (median), p90 and longest.
* :class:`LearnedEta` -- the estimate for one running job. Before its first progress tick
  it says what the key usually takes ("~4 min, usually"); as progress arrives it blends the
  history's total with the total the live rate points to, trusting the live rate more as the
  job advances and the less the history agrees with itself; what it shows moves smoothly
  towards a new estimate (no jumping back and forth) and says it is *re-estimating* while
  the two are far apart. A job running past every earlier run is *longer than usual* (never
  a negative or frozen ETA); past the p90 of at least :data:`MIN_RUNS_FOR_SLOW` runs it is
  *slower than usual*.

All times are seconds since the job started, so a change of the wall clock cannot disturb an
estimate. Pure computation, no I/O, no Qt; one :class:`LearnedEta` per job, used from one
thread.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "MIN_RUNS_FOR_SLOW",
    "EtaEstimate",
    "EtaState",
    "LearnedEta",
    "RunHistory",
]

#: "Slower than usual" needs this many earlier runs: one or two runs are no "usual".
MIN_RUNS_FOR_SLOW = 3
#: Seconds over which the shown ETA moves most of the way to a new estimate.
SMOOTHING_S = 8.0
#: An estimate whose target moves (beyond the clock's countdown) faster than this many
#: seconds per second per minute left is re-estimating, until it moves slower than
#: SETTLED_DRIFT. Below RE_ESTIMATE_MIN_S left, moves are judged as at that much.
RE_ESTIMATE_DRIFT = 0.5
SETTLED_DRIFT = 0.2
RE_ESTIMATE_MIN_S = 5.0
#: The least disagreement assumed between runs of a key (relative): no history is exact.
MIN_SPREAD = 0.05
#: How far (in log terms) the live rate's total may be off with half the run seen; it
#: shrinks as sqrt((1 - f) / f) as more of the run is seen.
LIVE_NOISE = 0.3
#: Seconds of recent progress the live rate is measured over.
LIVE_WINDOW_S = 30.0


@dataclass(frozen=True, slots=True)
class RunHistory:
    """Durations (seconds) of the recent successful runs of one job key, newest first."""

    durations: tuple[float, ...]
    typical: float = field(init=False)
    p90: float = field(init=False)
    longest: float = field(init=False)

    def __post_init__(self) -> None:
        kept = tuple(float(d) for d in self.durations if math.isfinite(d) and d >= 0)
        if not kept:
            raise ValueError("a RunHistory needs at least one finite, non-negative duration")
        ordered = sorted(kept)
        object.__setattr__(self, "durations", kept)
        object.__setattr__(self, "typical", statistics.median(ordered))
        # nearest rank: with fewer than ten runs the p90 is the longest one
        object.__setattr__(self, "p90", ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)])
        object.__setattr__(self, "longest", ordered[-1])

    @classmethod
    def of(cls, durations: Iterable[float]) -> RunHistory | None:
        """A history of ``durations``, or None when there is none usable."""
        kept = tuple(d for d in durations if d is not None and math.isfinite(d) and d >= 0)
        return cls(kept) if kept else None

    @property
    def runs(self) -> int:
        return len(self.durations)

    @property
    def spread(self) -> float:
        """How much the runs disagree: (p90 - typical) / typical, 0 for identical runs."""
        return (self.p90 - self.typical) / self.typical if self.typical > 0 else 1.0

    def is_slow(self, elapsed: float) -> bool:
        """True when a run ``elapsed`` seconds long is slower than usual: past the p90 of at
        least :data:`MIN_RUNS_FOR_SLOW` runs."""
        return self.runs >= MIN_RUNS_FOR_SLOW and elapsed > self.p90

    def with_run(self, duration: float, keep: int) -> RunHistory:
        """This history with a newer run in front, at most ``keep`` runs long."""
        return RunHistory((duration, *self.durations)[:keep])


class EtaState(StrEnum):
    """What a :class:`EtaEstimate` is based on, as the row says it."""

    #: No progress yet: the key's typical duration ("~4 min, usually").
    USUALLY = "usually"
    #: History and live rate agree well enough: "3 min left".
    ESTIMATING = "estimating"
    #: The estimate moved a lot and what is shown is catching up: "re-estimating".
    RE_ESTIMATING = "re-estimating"
    #: Running past every earlier run: "longer than usual".
    LONGER_THAN_USUAL = "longer than usual"


@dataclass(frozen=True, slots=True)
class EtaEstimate:
    """One estimate: ``seconds_left`` (None when there is none to show), its ``state``, the
    key's ``usual`` (typical) duration, and whether the job is ``slower_than_usual`` (past
    the p90 of enough earlier runs)."""

    seconds_left: float | None
    state: EtaState
    usual: float
    slower_than_usual: bool = False


class LearnedEta:
    """The ETA of one running job whose key has a :class:`RunHistory` (see the module).

    Call :meth:`update` with the seconds since the job started and its fraction done
    (None or 0 while there is no progress); it returns the estimate to show. Calls must
    come in non-decreasing ``elapsed`` order (an earlier one is treated as no time passing).
    """

    def __init__(self, history: RunHistory) -> None:
        self.history = history
        self._samples: deque[tuple[float, float]] = deque()
        self._shown: float | None = None  # the ETA shown at self._shown_at
        self._shown_at = 0.0
        self._last_target: float | None = None
        self._drift = 0.0  # smoothed movement of the target beyond the clock (see _smooth)
        self._re_estimating = False

    # -- the live rate ------------------------------------------------------------------------

    def _add_sample(self, elapsed: float, fraction: float) -> None:
        samples = self._samples
        if samples and fraction < samples[-1][1]:
            samples.clear()  # the job went back (a reset counter): measure afresh
        if not samples or fraction > samples[-1][1]:
            samples.append((elapsed, fraction))
        while len(samples) > 2 and elapsed - samples[1][0] >= LIVE_WINDOW_S:
            samples.popleft()

    def _live_left(self, elapsed: float, fraction: float) -> float | None:
        """Seconds left at the recent rate (measured up to now, so a stall slows it)."""
        samples = self._samples
        if len(samples) >= 2:
            t0, f0 = samples[0]
            if elapsed > t0 and fraction > f0:
                return (1.0 - fraction) * (elapsed - t0) / (fraction - f0)
        if fraction > 0 and elapsed > 0:
            return (1.0 - fraction) * elapsed / fraction  # the average rate so far
        return None

    # -- the estimate -------------------------------------------------------------------------

    def _live_weight(self, fraction: float, live_total: float) -> float:
        """How much the live rate's total counts against the history's at ``fraction``
        done: inverse-variance weights of the two totals' logarithms. The live total is the
        less certain the less of the run is seen; the history as uncertain as its runs
        disagree, and more so the further the live total is from it (a robust prior: a run
        that is plainly different soon stops being held to its key's past)."""
        history = self.history
        history_sd = max(history.spread, MIN_SPREAD) / min(1.0, history.runs / 3.0)
        distance = abs(math.log(max(live_total, 1e-9) / max(history.typical, 1e-9)))
        history_sd += max(0.0, distance - 2.0 * history_sd)
        live_sd = LIVE_NOISE * math.sqrt((1.0 - fraction) / fraction)
        if live_sd <= 0:
            return 1.0
        history_w = 1.0 / (history_sd * history_sd)
        live_w = 1.0 / (live_sd * live_sd)
        return live_w / (live_w + history_w)

    def target(self, elapsed: float, fraction: float | None) -> float | None:
        """The unsmoothed seconds left: history alone before progress, else the blend."""
        history = self.history
        if not fraction or fraction <= 0:
            left = history.typical - elapsed
            return left if left > 0 else None
        fraction = min(fraction, 1.0)
        live = self._live_left(elapsed, fraction)
        if live is None:
            left = history.typical - elapsed
            return left if left > 0 else None
        live_total = elapsed + live
        weight = self._live_weight(fraction, live_total)
        if history.typical <= 0 or live_total <= 0:
            total = live_total
        else:
            total = math.exp(
                (1.0 - weight) * math.log(history.typical) + weight * math.log(live_total)
            )
        left = total - elapsed
        return left if left > 0 else live

    def update(self, elapsed: float, fraction: float | None) -> EtaEstimate:
        """The estimate to show ``elapsed`` seconds into the run at ``fraction`` done."""
        history = self.history
        elapsed = max(elapsed, self._shown_at)
        if fraction is not None and fraction > 0:
            self._add_sample(elapsed, min(fraction, 1.0))
        slower = history.is_slow(elapsed)
        target = self.target(elapsed, fraction)
        shown = self._smooth(elapsed, target)
        if elapsed > history.longest:
            # past every earlier run: the history has nothing left to say
            return EtaEstimate(shown, EtaState.LONGER_THAN_USUAL, history.typical, slower)
        if not fraction or fraction <= 0:
            return EtaEstimate(shown, EtaState.USUALLY, history.typical, slower)
        state = EtaState.RE_ESTIMATING if self._re_estimating else EtaState.ESTIMATING
        return EtaEstimate(shown, state, history.typical, slower)

    def _smooth(self, elapsed: float, target: float | None) -> float | None:
        """Move what is shown towards ``target`` over about :data:`SMOOTHING_S`.

        A steady estimate counts down one second per second. The drift -- how fast the
        target moves beyond that, smoothed over the same time -- says whether the job is
        re-estimating: it starts past :data:`RE_ESTIMATE_DRIFT` and ends below
        :data:`SETTLED_DRIFT` (a hysteresis, so the word does not flicker)."""
        if target is None:
            self._shown = self._last_target = None
            self._shown_at = elapsed
            self._drift = 0.0
            self._re_estimating = False
            return None
        if self._shown is None or self._last_target is None:
            self._shown, self._shown_at, self._last_target = target, elapsed, target
            return target
        dt = elapsed - self._shown_at
        if dt <= 0:
            self._last_target = target
            return self._shown
        blend = 1.0 - math.exp(-dt / SMOOTHING_S)
        moved = (target - self._last_target) / dt + 1.0  # seconds per second, beyond the clock
        scale = max(target, RE_ESTIMATE_MIN_S) / 60.0  # per minute left: large ETAs move more
        self._drift += blend * (moved / max(scale, 1.0) - self._drift)
        if abs(self._drift) > RE_ESTIMATE_DRIFT:
            self._re_estimating = True
        elif abs(self._drift) < SETTLED_DRIFT:
            self._re_estimating = False
        expected = max(0.0, self._shown - dt)
        shown = expected + blend * (target - expected)
        self._shown, self._shown_at, self._last_target = shown, elapsed, target
        return shown
