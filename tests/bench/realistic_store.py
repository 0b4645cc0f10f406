"""Build a job store of ``n`` finished jobs that look like a real user's history.

Most jobs are ``command`` jobs (rsync, make, pytest, ffmpeg, tar, wget, training scripts)
with their argv and working folder as params, a log file, an exit status, CPU time and
peak memory; the rest are the other built-in types. About 80 % completed, 12 % failed
(with the error a real failure leaves: an exit status and the program's last lines, or a
Python traceback) and 8 % cancelled part-way. Titles, messages and errors vary with the job
(folders, file names, line numbers, counts), so text search and sorting see realistic
data, and some jobs have a few log lines.

Rows are written through the store itself (``Store.insert`` and ``Store.add_logs`` in
large transactions), so whatever the store keeps in step with a row (indexes, a full-text
index) is kept here too. :func:`build_store` honours ``n`` exactly and is deterministic
for a given ``seed`` (ids aside: they are fresh ULIDs of each job's creation time). That
costs ~100-250 us a job, minutes for a million, so :func:`cached_store` keeps built files in
``$JOBDECK_BENCH_CACHE`` (default ``~/.cache/jobdeck-bench``) keyed by everything that
shapes them (``n``, seed, spacing, age, this module's and the schema's versions), and
copies one for each use.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from jobdeck.core import JobTracker, new_job_id
from jobdeck.core.events import LogEntry
from jobdeck.core.job import Job, JobError, JobStatus, Progress
from jobdeck.core.schema import SCHEMA_VERSION
from jobdeck.core.store import Store

__all__ = ["build_store", "cached_store", "realistic_jobs"]

#: Bump when the rows this module writes change, so cached stores are rebuilt.
BUILDER_VERSION = 1

HOME = "/home/ana"
LOGS = f"{HOME}/.local/share/jobdeck/jobs.db.d/logs"
PROJECTS = ("photon", "ledger", "atlas-api", "mapview", "kiln", "sparrow", "tidepool")
WORDS = ("holiday", "invoice", "render", "backup", "draft", "scan", "meeting", "family")
SYMBOLS = ("buf_len", "ctx", "node_count", "retry_delay", "frame_ptr", "opts")


def _command(rng: random.Random, i: int) -> dict[str, Any]:
    """A command job: argv, cwd, and what success, failure and cancel leave behind."""
    kind = rng.randrange(8)
    project = PROJECTS[i % len(PROJECTS)]
    year = 2015 + i % 10
    if kind == 0:
        src, dst = f"{HOME}/Photos/{year}/", f"/mnt/backup/photos/{year}/"
        argv = ["rsync", "-a", "--info=progress2", src, dst]
        files = rng.randrange(10, 5000)
        message = f"{rng.uniform(5, 120):.2f}MB/s, {files} files transferred"
        error = (
            "exit status 23; last output:\n"
            f'rsync: [sender] send_files failed to open "{src}IMG_{rng.randrange(9999):04}.jpg":'
            " Permission denied (13)\nrsync error: some files/attrs were not transferred "
            "(see previous errors) (code 23) at main.c(1338) [sender=3.2.7]"
        )
        return {"argv": argv, "cwd": HOME, "message": message, "error": error, "total": 100}
    if kind == 1:
        argv = ["make", f"-j{rng.choice((2, 4, 8))}", "-C", f"{HOME}/src/{project}"]
        source = f"src/{rng.choice(WORDS)}_{rng.randrange(40)}.c"
        error = (
            f"exit status 2; last output:\n{source}:{rng.randrange(20, 900)}:"
            f"{rng.randrange(1, 60)}: error: '{rng.choice(SYMBOLS)}' undeclared (first use in "
            f"this function)\nmake[1]: *** [Makefile:{rng.randrange(10, 90)}: build/"
            f"{Path(source).stem}.o] Error 1\nmake: *** [Makefile:12: all] Error 2"
        )
        steps = rng.randrange(20, 400)
        return {
            "argv": argv,
            "cwd": f"{HOME}/src/{project}",
            "message": f"[{steps}/{steps}] Linking {project}",
            "error": error,
            "total": steps,
        }
    if kind == 2:
        module = rng.choice(WORDS)
        argv = ["python", "-m", "pytest", "-q", f"tests/test_{module}.py"]
        passed, failed = rng.randrange(5, 800), rng.randrange(1, 9)
        error = (
            f"exit status 1; last output:\nFAILED tests/test_{module}.py::test_{rng.choice(WORDS)}"
            f"_{rng.randrange(99)} - AssertionError: assert {rng.randrange(999)} == "
            f"{rng.randrange(999)}\n{failed} failed, {passed} passed in {rng.uniform(1, 300):.2f}s"
        )
        return {
            "argv": argv,
            "cwd": f"{HOME}/src/{project}",
            "message": f"{passed} passed",
            "error": error,
            "total": passed + failed,
        }
    if kind == 3:
        clip = f"clip_{i % 100_000:05}"
        argv = ["ffmpeg", "-i", f"{clip}.mov", "-c:v", "libx264", "-crf", "23", f"{clip}.mp4"]
        frames = rng.randrange(500, 90_000)
        error = (
            f"exit status 1; last output:\n[mov,mp4,m4a] moov atom not found\n{clip}.mov: "
            "Invalid data found when processing input"
        )
        return {
            "argv": argv,
            "cwd": f"{HOME}/Videos/{year}",
            "message": f"frame={frames} fps={rng.randrange(20, 240)} q=28.0",
            "error": error,
            "total": 100,
        }
    if kind == 4:
        name = f"{rng.choice(WORDS)}-{year}-{i % 12 + 1:02}"
        argv = ["tar", "czf", f"/mnt/backup/{name}.tar.gz", f"{HOME}/Documents/{name}"]
        error = (
            f"exit status 2; last output:\ntar: {HOME}/Documents/{name}: Cannot stat: "
            "No such file or directory\ntar: Exiting with failure status due to previous errors"
        )
        return {"argv": argv, "cwd": HOME, "message": "", "error": error, "total": 0}
    if kind == 5:
        version = f"{rng.randrange(1, 40)}.{rng.randrange(10)}"
        url = f"https://releases.example.org/images/{project}-{version}-amd64.iso"
        argv = ["wget", "-c", url]
        error = (
            f"exit status 8; last output:\nHTTP request sent, awaiting response... 404 Not Found"
            f"\n2024-{i % 12 + 1:02}-{i % 28 + 1:02} ERROR 404: Not Found."
        )
        return {
            "argv": argv,
            "cwd": f"{HOME}/Downloads",
            "message": f"{rng.randrange(1, 900)}M {rng.uniform(1, 90):.1f}MB/s",
            "error": error,
            "total": 100,
        }
    if kind == 6:
        epochs = rng.choice((10, 20, 30, 50))
        argv = ["python", "train.py", "--epochs", str(epochs), "--lr", "0.001", "--data"]
        argv.append(f"/data/set{i % 40}")
        error = (
            'exit status 1; last output:\n  File "train.py", line 88, in <module>\n'
            "    loss.backward()\ntorch.OutOfMemoryError: CUDA out of memory. Tried to "
            f"allocate {rng.choice((512, 1024, 2048))}.00 MiB"
        )
        return {
            "argv": argv,
            "cwd": f"{HOME}/src/{project}",
            "message": f"Epoch {epochs}/{epochs} loss={rng.uniform(0.01, 2):.4f}",
            "error": error,
            "total": epochs,
        }
    folder = f"/srv/media/{rng.choice(WORDS)}"
    argv = ["find", folder, "-name", "*.tmp", "-delete"]
    error = f"exit status 1; last output:\nfind: '{folder}/cache': Permission denied"
    return {"argv": argv, "cwd": "/srv/media", "message": "", "error": error, "total": 0}


def _builtin(rng: random.Random, i: int) -> dict[str, Any]:
    """One of the other built-in job types (params as their launch forms write them)."""
    word, year = rng.choice(WORDS), 2015 + i % 10
    kind = rng.randrange(5)
    if kind == 0:
        n = rng.randrange(1, 3000)
        return {
            "type": "copy",
            "title": f"Copy {n} files to /mnt/usb/{word}-{year}",
            "params": {"sources": [f"{HOME}/Pictures/{word}"], "destination": "/mnt/usb"},
            "message": f"{n} files copied",
            "error": f"[Errno 28] No space left on device: '/mnt/usb/{word}-{year}'",
            "total": n,
        }
    if kind == 1:
        return {
            "type": "checksum",
            "title": f"Checksum {HOME}/Downloads/{word}",
            "params": {"folder": f"{HOME}/Downloads/{word}"},
            "message": f"{rng.randrange(1, 900)} files, sha256",
            "error": f"[Errno 13] Permission denied: '{HOME}/Downloads/{word}/private'",
            "total": rng.randrange(1, 900),
        }
    if kind == 2:
        return {
            "type": "compress",
            "title": f"Compress {HOME}/Projects/{word}-{year}",
            "params": {"folder": f"{HOME}/Projects/{word}-{year}", "format": "zip"},
            "message": f"{rng.randrange(1, 400)} MB written",
            "error": "[Errno 2] No such file or directory: 'build/output.bin'",
            "total": 100,
        }
    if kind == 3:
        return {
            "type": "python",
            "title": f"Run scripts/{word}_report.py",
            "params": {"script": f"{HOME}/scripts/{word}_report.py", "args": ["--year", year]},
            "message": f"step {rng.randrange(1, 40)} of 40",
            "error": f"KeyError: '{word}'",
            "total": 40,
        }
    seconds = rng.choice((10, 30, 60, 300))
    return {
        "type": "countdown",
        "title": f"Countdown {seconds} s",
        "params": {"seconds": seconds},
        "message": "",
        "error": "interrupted: Jobdeck stopped while this job was running",
        "total": seconds,
    }


def realistic_jobs(
    n: int, *, newest_ts: float, spacing_s: float = 0.5, seed: int = 1
) -> Iterator[tuple[Job, list[LogEntry]]]:
    """``n`` finished jobs, oldest first, the newest created at ``newest_ts``; each with
    its log lines (most have none)."""
    rng = random.Random(seed)
    for i in range(n):
        created = newest_ts - (n - 1 - i) * spacing_s
        job_id = new_job_id(created)
        roll = rng.random()
        status = (
            JobStatus.COMPLETED
            if roll < 0.80
            else JobStatus.FAILED
            if roll < 0.92
            else JobStatus.CANCELLED
        )
        if rng.random() < 0.7:
            spec = _command(rng, i)
            argv = spec["argv"]
            spec.update(
                type="command",
                title=" ".join(argv),
                params={"argv": argv, "cwd": spec["cwd"]},
            )
            process = True
        else:
            spec = _builtin(rng, i)
            process = spec["type"] == "python"
        started = created + rng.uniform(0, 2)
        duration = rng.lognormvariate(2.5, 1.6)  # median ~12 s, a long tail of hours
        total = spec["total"]
        error = None
        result = None
        if status is JobStatus.COMPLETED:
            progress = Progress(total, total, spec["message"])
            result = {"items": total} if rng.random() < 0.3 else None
        else:
            done = rng.uniform(0, total) if total else rng.randrange(0, 500)
            message = "cancelled by the user" if status is JobStatus.CANCELLED else ""
            progress = Progress(round(done, 1), total, message or spec["message"])
            if status is JobStatus.FAILED:
                trace = None
                if not process and rng.random() < 0.5:
                    trace = (
                        'Traceback (most recent call last):\n  File "jobdeck/jobs/'
                        f'{spec["type"]}.py", line {rng.randrange(30, 200)}, in run\n'
                        f"{spec['error']}"
                    )
                error = JobError(spec["error"], trace)
        job = Job(
            id=job_id,
            type=spec["type"],
            title=spec["title"],
            status=status,
            created_ts=created,
            params=spec["params"],
            progress=progress,
            started_ts=started,
            completed_ts=started + duration,
            attempts=1,
            error=error,
            result=result,
            pid=rng.randrange(1000, 4_000_000) if process else None,
            exit_code=(0 if status is JobStatus.COMPLETED else rng.choice((1, 2, 23)))
            if process
            else None,
            log_path=f"{LOGS}/{job_id}.log" if process else None,
            peak_rss=rng.randrange(2, 4000) * 1024 * 1024 if process else None,
            cpu_seconds=round(duration * rng.uniform(0.05, 1.8), 3) if process else None,
            last_seen_ts=started + duration,
        )
        logs: list[LogEntry] = []
        if rng.random() < 0.2:
            for k in range(rng.randrange(1, 4)):
                logs.append(
                    LogEntry(job_id, started + k, "info", f"step {k + 1}: {rng.choice(WORDS)}")
                )
        yield job, logs


def build_store(
    path: Path,
    n: int,
    *,
    newest_ts: float | None = None,
    spacing_s: float = 0.5,
    seed: int = 1,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Create (or add to) the store at ``path`` with ``n`` jobs from :func:`realistic_jobs`
    (the newest created at ``newest_ts``, a minute ago by default)."""
    JobTracker.open(path, retention=None).close()  # create and migrate it the normal way
    store = Store(path)
    try:
        batch = 20_000
        jobs = realistic_jobs(
            n,
            newest_ts=time.time() - 60 if newest_ts is None else newest_ts,
            spacing_s=spacing_s,
            seed=seed,
        )
        written = 0
        while written < n:
            with store.transaction() as conn:
                for _ in range(min(batch, n - written)):
                    job, logs = next(jobs)
                    store.insert(conn, job)
                    if logs:
                        store.add_logs(conn, logs)
                    written += 1
            if progress is not None:
                progress(written)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        store.close()


def cached_store(
    dest: Path,
    n: int,
    *,
    age_s: float = 60.0,
    spacing_s: float = 0.5,
    seed: int = 1,
    log: Callable[[str], None] = print,
) -> Path:
    """Copy to ``dest`` a store of ``n`` jobs whose newest was created ``age_s`` seconds
    before it was built (so at least that old now), building it into the cache first if
    needed. Returns ``dest``."""
    cache = Path(os.environ.get("JOBDECK_BENCH_CACHE", Path.home() / ".cache" / "jobdeck-bench"))
    name = f"realistic-n{n}-seed{seed}-every{spacing_s:g}s-age{age_s:g}s"
    cached = cache / f"{name}-builder{BUILDER_VERSION}-schema{SCHEMA_VERSION}.db"
    if not cached.exists():
        cache.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(".building")
        for leftover in cache.glob(partial.name + "*"):
            leftover.unlink()
        started = time.perf_counter()
        build_store(partial, n, newest_ts=time.time() - age_s, spacing_s=spacing_s, seed=seed)
        partial.rename(cached)
        log(f"# built {cached.name} in {time.perf_counter() - started:.0f} s")
    else:
        log(f"# using the cached {cached} (delete it to rebuild)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cached, dest)
    return dest
