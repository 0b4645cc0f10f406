"""Checks for values that go into the store: JSON-serializable data and progress numbers."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from numbers import Real
from typing import Any

__all__ = ["check_json", "check_progress_number"]


def _find_bad(value: Any, path: str) -> tuple[str, Any] | None:
    """The first path inside ``value`` that JSON cannot hold, with the value found there."""
    if value is None or isinstance(value, str | bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, value)
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                return (f"{path}[{key!r}] (keys must be strings)", key)
            found = _find_bad(item, f"{path}.{key}" if path else key)
            if found:
                return found
        return None
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _find_bad(item, f"{path}[{i}]")
            if found:
                return found
        return None
    return (path, value)


def check_json(value: Any, name: str) -> None:
    """Raise ValueError naming the key (e.g. ``metadata.when``) that is not JSON-serializable."""
    try:
        json.dumps(value, allow_nan=False)
        return
    except (TypeError, ValueError, RecursionError):
        pass
    found = _find_bad(value, "")
    where = f"{name}.{found[0]}" if found and found[0] else name
    what = found[1] if found else value
    raise ValueError(
        f"{where} is not JSON-serializable: {type(what).__name__} {_short(what)}"
    ) from None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_progress_number(name: str, value: Any) -> float:
    """A finite, non-negative real number, or ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"progress {name} must be a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"progress {name} must be a finite number >= 0, got {value!r}")
    return value if isinstance(value, int | float) else float(value)
