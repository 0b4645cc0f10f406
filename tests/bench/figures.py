"""Printing benchmark figures with their budgets, and the small statistics they need.

Every figure is one line: ``name value unit (budget ...) ok|OVER BUDGET``, or without a
budget for figures shown for context. :func:`figure` returns 1 when over budget, so a
benchmark's ``main()`` can OR the results into its exit status.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

__all__ = ["figure", "info", "median", "percentile"]


def figure(name: str, value: float, unit: str, budget: str, ok: bool) -> int:
    """Print a figure that has a budget; 0 when within it, 1 when over."""
    shown = " ".join(part for part in (name, f"{value:.3f}", unit) if part)
    print(f"{shown} (budget {budget}) {'ok' if ok else 'OVER BUDGET'}", flush=True)
    return 0 if ok else 1


def info(name: str, value: float | str, unit: str = "") -> None:
    """Print a figure shown for context (no budget)."""
    shown = f"{value:.3f}" if isinstance(value, float) else str(value)
    print(f"{name} {shown} {unit}".rstrip(), flush=True)


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (``fraction`` in 0..1)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
