"""The user's normal environment for benchmarked processes, and running them as children.

This machine (like many CI and container setups) exports ``PYTHONUNBUFFERED=1`` and
``PYTHONDONTWRITEBYTECODE=1``. A user's desktop does not: there a Python program's
``print`` to a pipe is block-buffered and imports use cached bytecode. Benchmarks that start
processes — the app itself, job programs, helpers — must measure what users get, so every
child runs with :func:`honest_env`, and each benchmark says so in its header
(:func:`header`).

Measurements that need a fresh process (start-up, memory, an app whose CPU is counted)
run as ``python <bench file> <child command> ...`` through :func:`run_json_child`, which
returns the one JSON object the child prints last.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "DESKTOP",
    "NOT_INHERITED",
    "QUICK",
    "header",
    "honest_env",
    "quick",
    "run_json_child",
    "scrub_environment",
]

#: Variables a user's session does not set, which change what is measured.
NOT_INHERITED = ("PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE")
DESKTOP = Path(__file__).resolve().parents[2] / "desktop"
#: ``JOBDECK_BENCH_QUICK=1`` makes every benchmark small enough for a smoke test.
QUICK = "JOBDECK_BENCH_QUICK"


def quick() -> bool:
    """True when the benchmark should run its small, seconds-long variant."""
    return os.environ.get(QUICK, "") not in ("", "0")


def honest_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without :data:`NOT_INHERITED`, with jobdeck importable
    from this checkout (``desktop/`` first on ``PYTHONPATH``) and ``extra`` on top."""
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    paths = [str(DESKTOP)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env.setdefault("QT_API", "pyside6")
    env.update(extra or {})
    return env


def scrub_environment() -> list[str]:
    """Remove :data:`NOT_INHERITED` from ``os.environ``, so that whatever this process starts
    from now on (e.g. a Runner's jobs) gets the user's normal environment. Returns the
    names that were set."""
    removed = [name for name in NOT_INHERITED if name in os.environ]
    for name in removed:
        del os.environ[name]
    return removed


def header(section: str, what: str) -> None:
    """Print the benchmark's header: what it measures and the environment it runs in."""
    machine = [name for name in NOT_INHERITED if name in os.environ]
    note = f" (this machine sets {', '.join(machine)}; unset for them)" if machine else ""
    print(f"# {section}: {what}")
    print(
        "# children and the app run with the user's normal environment: "
        f"{' and '.join(NOT_INHERITED)} not inherited{note}"
    )
    try:
        load = os.getloadavg()
        print(f"# load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    except OSError:
        pass
    if quick():
        print(f"# quick mode ({QUICK}=1): small sizes, figures are not meaningful")
    sys.stdout.flush()


def run_json_child(
    script: Path,
    args: Sequence[str],
    *,
    timeout: float,
    extra_env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> dict[str, Any]:
    """Run ``python script *args`` with :func:`honest_env`; the last JSON line it prints.

    Raises RuntimeError with the child's output when it fails or prints no JSON object.
    """
    done = subprocess.run(
        [sys.executable, str(script), *args],
        env=honest_env(extra_env),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"{script.name} {' '.join(args)} failed (exit {done.returncode}):\n"
            f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )
    result: dict[str, Any] = json.loads(lines[-1])
    return result
