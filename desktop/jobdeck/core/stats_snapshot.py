"""The statistics' columns kept in a file beside the store, so a start need not re-read them.

Reading a million finished jobs into :class:`~.stats_data.Columns` takes 10-17 s (the rows'
params become job keys in Python); loading the same columns from a file takes a fraction
of a second. :class:`StatsSnapshot` writes what :class:`~.stats_data.StatsData` holds
— the columns, the texts their codes stand for, the newest end read and the ids read near
it, and the columns' queued / running :class:`~.occupancy.Occupancy` when made — to
``<database>.d/stats-columns.npz`` (numpy's uncompressed format, written to a temporary
file and renamed into place, so a reader never sees half a file) and reads it back.

The file is a cache, never the truth: :class:`~.stats_data.StatsData` checks what it
loads against the store before using it (each UTC day's count and a checksum of its end
times; a day that differs is read again from the store), and ignores a file of another
format, of another job-key rule (:func:`key_rule`: keys made by an older rule or another
registry would be wrong) or one it cannot read. Deleting it costs one slow refresh.
A SQLite file only: a board that other instances write is read at each start. No Qt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .job_key import KEY_RULE
from .occupancy import Occupancy

if TYPE_CHECKING:
    from .registry import JobRegistry
    from .stats_data import Columns, Rollup

__all__ = ["FILE_NAME", "Saved", "StatsSnapshot", "key_rule"]

log = logging.getLogger(__name__)

#: The file's name in the store's folder (``<database>.d``).
FILE_NAME = "stats-columns.npz"
#: The layout of the file; a file of another is ignored.
FORMAT = 1

#: The narrowest type each column is written with (read back as float64 / int64).
_STORED: dict[str, str] = {
    "completed": "f8",
    "started": "f8",
    "created": "f8",
    "duration": "f8",
    "rss": "f8",
    "cpu": "f8",
    "type": "i4",
    "key": "i4",
    "status": "i1",
    "bucket": "i1",
    "line": "i4",
}


def key_rule(registry: JobRegistry | None) -> str:
    """What the job keys of ``registry``'s types depend on, in short: the rule's version,
    and each type's name, key params and class (a class may write its key its own way)."""
    types = sorted(
        (t.name, list(t.key_params or ()), t.key_params is None, type(t).__qualname__)
        for t in (registry or ())
    )
    text = json.dumps([KEY_RULE, types])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class Saved:
    """What a :class:`~.stats_data.StatsData` keeps, as saved or loaded."""

    columns: Columns
    types: list[str]
    keys: list[str]
    lines: list[str]
    key_type: list[int]
    newest: float
    recent: dict[str, float]
    #: The columns' :meth:`~.stats_data.Columns.occupancy`, when it was made (None: not).
    occupancy: tuple[Occupancy, Occupancy] | None = None
    #: The roll-up as read, and the totals of the tables it was read from (None: not read).
    rollup: Rollup | None = None
    rollup_signature: list[Any] | None = None


class StatsSnapshot:
    """The snapshot file of one store (see the module); ``rule``: :func:`key_rule` of the
    registry the keys are made with. Any thread; one writer at a time per process."""

    def __init__(self, path: Path, rule: str) -> None:
        self.path = path
        self.rule = rule

    @classmethod
    def beside(cls, database: Path, rule: str) -> StatsSnapshot:
        """The snapshot of the store file ``database`` (in ``<database>.d``)."""
        return cls(database.parent / (database.name + ".d") / FILE_NAME, rule)

    def load(self) -> Saved | None:
        """What the file holds, or None (no file, or one that cannot be used: logged)."""
        from .stats_data import Columns

        try:
            with np.load(self.path, allow_pickle=False) as npz:
                header = json.loads(bytes(npz["header"]).decode())
                if header.get("format") != FORMAT or header.get("rule") != self.rule:
                    log.info("statistics snapshot %s is of another version: ignored", self.path)
                    return None
                arrays: dict[str, Any] = {
                    name: np.asarray(npz[name], np.float64 if kind == "f8" else np.int64)
                    for name, kind in _STORED.items()
                }
                texts = {
                    name: _texts(npz[f"{name}_text"], npz[f"{name}_lengths"])
                    for name in ("types", "keys", "lines")
                }
                key_type = npz["key_type"].astype(np.int64).tolist()
                rollup = _rollup_of(npz) if "roll_day" in npz.files else None
                occupancy = (
                    tuple(
                        Occupancy(
                            np.asarray(npz[f"{name}_enter"], np.float64),
                            np.asarray(npz[f"{name}_leave"], np.float64),
                            np.asarray(npz[f"{name}_after"], np.int64),
                        )
                        for name in ("queued", "running")
                    )
                    if "queued_enter" in npz.files
                    else None
                )
        except FileNotFoundError:
            return None
        except Exception:  # damaged, truncated, another program's: read the store instead
            log.warning("statistics snapshot %s cannot be read: ignored", self.path, exc_info=True)
            return None
        columns = Columns(**arrays)
        sizes = {len(a) for a in arrays.values()}
        if (
            len(sizes) != 1
            or len(key_type) != len(texts["keys"])
            or (len(columns) and int(columns.key.max(initial=-1)) >= len(texts["keys"]))
            or (len(columns) and int(columns.type.max(initial=-1)) >= len(texts["types"]))
            or (len(columns) and int(columns.line.max(initial=-1)) >= len(texts["lines"]))
        ):
            log.warning("statistics snapshot %s does not hold together: ignored", self.path)
            return None
        if occupancy is not None:
            queued, running = occupancy
            ran = int(np.count_nonzero(~np.isnan(columns.started)))
            if {len(queued), len(queued.leave), len(queued.after_entry)} == {len(columns)} and {
                len(running),
                len(running.leave),
                len(running.after_entry),
            } == {ran}:
                columns.derived["occupancy"] = (queued, running)
        return Saved(
            columns=columns,
            types=texts["types"],
            keys=texts["keys"],
            lines=texts["lines"],
            key_type=key_type,
            newest=float(header["newest"]),
            recent={str(k): float(v) for k, v in header["recent"].items()},
            rollup=rollup if header.get("rollup_signature") is not None else None,
            rollup_signature=header.get("rollup_signature"),
        )

    def save(self, saved: Saved) -> None:
        """Write ``saved`` (atomically: to a temporary file renamed into place). Errors are
        logged, not raised: without the file the next start reads the store."""
        header = {
            "format": FORMAT,
            "rule": self.rule,
            "newest": saved.newest,
            "recent": saved.recent,
            "rollup_signature": saved.rollup_signature if saved.rollup is not None else None,
        }
        arrays: dict[str, Any] = {
            name: np.asarray(getattr(saved.columns, name), kind) for name, kind in _STORED.items()
        }
        for name in ("types", "keys", "lines"):
            texts: list[str] = getattr(saved, name)
            arrays[f"{name}_text"] = np.frombuffer("".join(texts).encode(), np.uint8)
            arrays[f"{name}_lengths"] = np.array([len(t) for t in texts], np.int64)
        arrays["key_type"] = np.array(saved.key_type, np.int32)
        if saved.rollup is not None:
            arrays.update(_rollup_arrays(saved.rollup))
        if saved.occupancy is not None:  # (sorting them again takes longer than reading)
            for name, made in zip(("queued", "running"), saved.occupancy, strict=True):
                arrays[f"{name}_enter"] = made.enter
                arrays[f"{name}_leave"] = made.leave
                arrays[f"{name}_after"] = made.after_entry
        arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
        folder = self.path.parent
        temporary = None
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(prefix=f".{FILE_NAME}.", dir=folder)
            with os.fdopen(fd, "wb") as out:
                np.savez(out, **arrays)
            os.replace(temporary, self.path)
            temporary = None
        except OSError as exc:
            log.warning("statistics snapshot %s not written: %s", self.path, exc)
        finally:
            if temporary is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)


def _texts(encoded: Any, lengths: Any) -> list[str]:
    """Texts written as one UTF-8 run and their lengths in characters."""
    text = bytes(encoded).decode()
    ends = np.cumsum(lengths).tolist()
    out: list[str] = []
    start = 0
    for end in ends:  # (a Python loop: the GUI thread gets the GIL meanwhile)
        out.append(text[start:end])
        start = end
    if start != len(text):
        raise ValueError("the texts' lengths do not add up")
    return out


_ROLLUP = (
    "day",
    "type",
    "key",
    "status",
    "runs",
    "seconds_sum",
    "seconds_max",
    "fail_day",
    "fail_type",
    "fail_key",
    "fail_line",
    "fail_runs",
)


def _rollup_arrays(roll: Rollup) -> dict[str, Any]:
    """The roll-up's arrays to write; its histograms as (row, bucket, runs) of the buckets
    that hold runs (a row holds few)."""
    arrays: dict[str, Any] = {f"roll_{name}": getattr(roll, name) for name in _ROLLUP}
    rows, buckets = np.nonzero(roll.hist)
    arrays["roll_hist_row"] = rows
    arrays["roll_hist_bucket"] = buckets
    arrays["roll_hist_runs"] = roll.hist[rows, buckets]
    return arrays


def _rollup_of(npz: Any) -> Rollup:
    from .stats_data import NBUCKETS, Rollup

    values: dict[str, Any] = {
        name: np.asarray(
            npz[f"roll_{name}"], np.float64 if name.startswith("seconds") else np.int64
        )
        for name in _ROLLUP
    }
    hist = np.zeros((len(values["day"]), NBUCKETS), np.int64)
    hist[npz["roll_hist_row"], npz["roll_hist_bucket"]] = npz["roll_hist_runs"]
    return Rollup(hist=hist, **values)
