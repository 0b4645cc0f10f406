"""Run Jobdeck's benchmarks on demand: ``python tests/bench/run.py core|runtime|ui|external|api``
(and ``output|history|startup|startup_instructions|commands|store``, issue 15; ``stats``,
issue 12; ``--quick`` runs their small variants, which only show that they work).

Each section lives in ``tests/bench/bench_<name>.py`` and has a ``main()`` that prints one
figure per line (``name value [unit] [(budget ...)]``) and returns non-zero when a figure is
over its budget. Benchmarks compare ratios measured side by side in one run, because the
machines are shared and noisy. They are not part of CI.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "desktop"))
sys.path.insert(0, str(HERE))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def main(argv: list[str]) -> int:
    if "--quick" in argv:
        argv = [a for a in argv if a != "--quick"]
        os.environ["JOBDECK_BENCH_QUICK"] = "1"
    names = argv or available()
    unknown = [n for n in names if n not in available()]
    if unknown:
        print(f"unknown benchmark section(s): {', '.join(unknown)}; have: {', '.join(available())}")
        return 2
    status = 0
    for name in names:
        print(f"# {name}")
        module = importlib.import_module(f"bench_{name}")
        status |= int(module.main() or 0)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
