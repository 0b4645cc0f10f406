"""Record progress timelines of real jobs run on this machine, for ``run.py eta``.

``python tests/bench/record_eta.py [--runs N] [--out PATH]`` runs each job below ``N`` times
(5 by default) as a real child process, reads its progress from its output with Jobdeck's
own parser (:func:`jobdeck.runtime.output_progress.parse_progress_line`) and writes every
run's ``(seconds since start, fraction done)`` points to ``tests/fixtures/eta_timelines.json``.

The jobs:

* ``checksum`` -- sha256 of every file under /usr/share, one ``n/total`` line per file;
* ``compress`` -- gzip -6 of the files of /usr/lib/python3.11, one ``n/total`` line per file
  (big and small files: an uneven pace);
* ``speed-change`` -- a shell loop whose steps take three times longer after half way;
* ``rsync`` -- ``rsync -a --bwlimit=10000 --info=progress2`` of a folder of many small
  files and a few big ones (made once under a temporary folder) into a fresh copy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "desktop"))

from jobdeck.runtime.output_progress import OutputSplitter, parse_progress_line  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "eta_timelines.json"

CHECKSUM = r"""
import hashlib, os, sys
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(sys.argv[1]) for f in fs)
files = [f for f in files if os.path.isfile(f) and not os.path.islink(f)]
for i, path in enumerate(files, 1):
    with open(path, 'rb') as fh:
        hashlib.sha256(fh.read()).hexdigest()
    print(f'{i}/{len(files)}', flush=True)
"""

COMPRESS = r"""
import gzip, os, sys
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(sys.argv[1]) for f in fs)
files = [f for f in files if os.path.isfile(f) and not os.path.islink(f)][:1500]
for i, path in enumerate(files, 1):
    with open(path, 'rb') as fh:
        gzip.compress(fh.read(), 6)
    print(f'{i}/{len(files)}', flush=True)
"""

SPEED_CHANGE = (
    "for i in $(seq 1 60); do if [ $i -le 30 ]; then sleep 0.05; else sleep 0.15; fi; "
    "echo $i/60; done"
)


def make_tree(root: Path) -> Path:
    """Many small files and a few big ones: rsync's pace changes with the file sizes."""
    src = root / "src"
    src.mkdir()
    for i in range(400):
        (src / f"small-{i:03d}.txt").write_bytes(os.urandom(2048))
    for i in range(3):
        (src / f"big-{i}.bin").write_bytes(os.urandom(24 * 1024 * 1024))
    return src


def record(argv: list[str]) -> list[tuple[float, float]]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONUNBUFFERED",)}
    start = time.monotonic()
    points: list[tuple[float, float]] = [(0.0, 0.0)]
    splitter = OutputSplitter()
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env) as proc:
        assert proc.stdout is not None
        while chunk := os.read(proc.stdout.fileno(), 65536):
            now = time.monotonic() - start
            for line in splitter.feed(chunk):
                parsed = parse_progress_line(line)
                if parsed is not None and parsed.total > 0:
                    fraction = parsed.current / parsed.total
                    # at most 50 points a second: enough to replay, small to keep
                    if fraction > points[-1][1] and (now - points[-1][0] >= 0.02):
                        points.append((round(now, 3), round(fraction, 5)))
    end = time.monotonic() - start
    if points[-1][1] < 1.0:
        points.append((round(end, 3), 1.0))
    return points


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=FIXTURE)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tree = make_tree(Path(tmp))
        jobs: dict[str, list[str] | None] = {
            "checksum": [sys.executable, "-c", CHECKSUM, "/usr/share"],
            "compress": [sys.executable, "-c", COMPRESS, "/usr/lib/python3.11"],
            "speed-change": ["sh", "-c", SPEED_CHANGE],
            "rsync": None,
        }
        timelines: dict[str, list[list[tuple[float, float]]]] = {}
        for name, command in jobs.items():
            runs = []
            for i in range(args.runs):
                if command is None:
                    dest = Path(tmp) / f"dst-{i}"
                    command_now = [
                        "rsync",
                        "-a",
                        "--bwlimit=10000",  # KB/s: a few seconds, as over a network
                        "--info=progress2",
                        f"{tree}/",
                        f"{dest}/",
                    ]
                    runs.append(record(command_now))
                    shutil.rmtree(dest, ignore_errors=True)
                else:
                    runs.append(record(command))
                print(f"{name} run {i + 1}: {runs[-1][-1][0]:.1f} s, {len(runs[-1])} points")
            timelines[name] = runs
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"recorded_on": os.uname().nodename, "jobs": timelines}))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
