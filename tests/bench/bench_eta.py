"""Learned ETAs against rate-based ones: ``python tests/bench/run.py eta`` (issue 12).

Replays the progress timelines of real jobs recorded on this machine by
``tests/bench/record_eta.py`` (``tests/fixtures/eta_timelines.json``: a checksum and a
compression of real folders, a command whose speed changes half way, an rsync of mixed small
and big files; several runs each). Each run is replayed with the runs of the same job
recorded *before* it as its history (the first run of each job has none and is skipped).
At the first progress point at or past 10 %, 25 % and 50 % every estimator gives its ETA,
compared with the time the run really had left:

- ``learned``: :class:`jobdeck.core.eta.LearnedEta` (history blended with the live rate,
  smoothed, as the taskbar row shows it);
- ``tqdm``: tqdm's smoothed rate (an exponential moving average of the steps and of the
  time between them, smoothing 0.3), remaining / rate;
- ``plain``: elapsed / fraction - elapsed.

Figures: the median absolute error (seconds) and the median relative error (of the run's
duration) of each estimator at each point, and ``learned_vs_tqdm_at_10pct``: how many
times smaller the learned ETA's median absolute error is than tqdm's at 10 % (goal >= 2).
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "desktop"))

from figures import figure, info  # noqa: E402

from jobdeck.core.eta import LearnedEta, RunHistory  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "eta_timelines.json"
POINTS = (0.10, 0.25, 0.50)
GOAL_RATIO = 2.0

Timeline = list[tuple[float, float]]
#: estimator(timeline points up to now) -> seconds left, or None
Estimator = Callable[[float, float], float | None]


class Tqdm:
    """tqdm's ETA: EMAs (smoothing 0.3) of the steps and of the time between updates."""

    def __init__(self, smoothing: float = 0.3) -> None:
        self.alpha = smoothing
        self.dn: float | None = None
        self.dt: float | None = None
        self.last = (0.0, 0.0)

    def update(self, t: float, f: float) -> float | None:
        dn, dt = f - self.last[1], t - self.last[0]
        self.last = (t, f)
        if dt <= 0:
            return None
        a = self.alpha
        self.dn = dn if self.dn is None else a * dn + (1 - a) * self.dn
        self.dt = dt if self.dt is None else a * dt + (1 - a) * self.dt
        rate = self.dn / self.dt if self.dt else 0.0
        return (1.0 - f) / rate if rate > 0 else None


def replay(run: Timeline, history: RunHistory) -> dict[str, list[float | None]]:
    """Each estimator's ETA at each of POINTS of ``run``."""
    learned = LearnedEta(history)
    tqdm = Tqdm()
    estimates: dict[str, list[float | None]] = {"learned": [], "tqdm": [], "plain": []}
    wanted = list(POINTS)
    learned.update(0.0, None)
    for t, f in run[1:]:
        shown = learned.update(t, f).seconds_left
        tq = tqdm.update(t, f)
        if wanted and f >= wanted[0]:
            while wanted and f >= wanted[0]:
                wanted.pop(0)
                estimates["learned"].append(shown)
                estimates["tqdm"].append(tq)
                estimates["plain"].append(t / f - t if f > 0 else None)
    return estimates


def main() -> int:
    data = json.loads(FIXTURE.read_text())
    errors: dict[tuple[str, float], list[float]] = {}
    relative: dict[tuple[str, float], list[float]] = {}
    for _name, runs in data["jobs"].items():
        for i in range(1, len(runs)):
            history = RunHistory(tuple(r[-1][0] for r in reversed(runs[:i])))
            run = [(float(t), float(f)) for t, f in runs[i]]
            end = run[-1][0]
            at = {p: next(t for t, f in run if f >= p) for p in POINTS}
            for estimator, values in replay(run, history).items():
                for point, value in zip(POINTS, values, strict=False):
                    truth = end - at[point]
                    # no estimate at all counts as the whole run's time being wrong
                    error = abs((value if value is not None else 0.0) - truth)
                    errors.setdefault((estimator, point), []).append(error)
                    relative.setdefault((estimator, point), []).append(error / end)
    info("runs_replayed", str(len(next(iter(errors.values())))))
    for point in POINTS:
        for estimator in ("learned", "tqdm", "plain"):
            key = (estimator, point)
            label = f"{estimator}_at_{round(point * 100)}pct"
            info(f"{label}_median_abs_error", statistics.median(errors[key]), "s")
            info(f"{label}_median_rel_error", statistics.median(relative[key]))
    learned = statistics.median(errors[("learned", 0.10)])
    tqdm = statistics.median(errors[("tqdm", 0.10)])
    ratio = tqdm / learned if learned > 0 else float("inf")
    return figure("learned_vs_tqdm_at_10pct", ratio, "x", f">= {GOAL_RATIO}", ratio >= GOAL_RATIO)


if __name__ == "__main__":
    sys.exit(main())
