"""``run.py scale``: Jobdeck beyond one machine (issue 14). Each part is a ``scale_<name>.py``
module beside this one with a ``main()``: ``scale_board`` (several instances on one
PostgreSQL board) and ``scale_dask`` (jobs on a Dask cluster against plain ``client.map``);
other engines add their own part the same way."""

from __future__ import annotations

import importlib
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    status = 0
    for path in sorted(HERE.glob("scale_*.py")):
        print(f"## {path.stem.removeprefix('scale_')}", flush=True)
        status |= int(importlib.import_module(path.stem).main() or 0)
    return status
