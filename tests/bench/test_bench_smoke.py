"""Each benchmark of issue 15 imports and its quick variant runs to the end, printing its
figures with their budgets and the environment note. The figures themselves are not
checked here: benchmarks run on demand (``python tests/bench/run.py NAME``), not in CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parent / "run.py"
DESKTOP = Path(__file__).resolve().parents[2] / "desktop"


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["output", "history", "startup", "commands", "store", "external", "stats", "typing"]
)
def test_quick_variant_runs_and_reports_budgets(name: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(DESKTOP),
        "JOBDECK_BENCH_CACHE": str(tmp_path / "cache"),
        "QT_QPA_PLATFORM": "offscreen",
    }
    done = subprocess.run(
        [sys.executable, str(RUN), "--quick", name],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 1: over budget, not broken
    assert "user's normal environment" in done.stdout
    assert "(budget " in done.stdout
    assert "Traceback" not in done.stderr, done.stderr
