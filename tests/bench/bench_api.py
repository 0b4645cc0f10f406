"""API benchmarks: ``python tests/bench/run.py api``. Side by side, in one run:

- **Start to finish from a terminal**: ``jobdeck run --wait -- true`` against a running
  ``jobdeck serve`` (a new CLI process, the enqueue, the Runner starting ``true`` under its
  supervisor, the wait), beside ``python -c pass`` (starting a Python process at all) and,
  where installed, task-spooler's ``tsp -f true`` doing the same. Also ``jobdeck run -- true``
  without waiting (the CLI and the enqueue alone). Medians of interleaved rounds. Budget:
  at most 100 ms added over ``python -c pass``.
- **Enqueue + cancel over the Unix socket**: p50 / p99 of one ``POST /api/jobs`` (a job
  queued for later, so it stays pending) plus its ``POST .../cancel``, from a kept-alive
  connection. Budget: p99 <= 10 ms.
- **100 SSE clients while 8 jobs flood progress**: the app (tracker, Runner and API on a
  qasync loop, as ``jobdeck serve`` builds them) runs 8 CPU-bound jobs calling
  ``update_progress`` flat out for a few seconds while 100 event-stream clients in another
  process read everything; the GUI thread's p99 / max gap (a 1 ms QTimer) beside the same
  load with no client, and the messages per second each client got. Budgets: GUI p99 gap
  <= 50 ms; <= 10 messages/s per client.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench_runtime import GapMeter, app, report, spin
from PySide6.QtCore import QSettings

ROOT = Path(__file__).resolve().parents[2]
DESKTOP = ROOT / "desktop"
ROUNDS = 15
PAIRS = 500
CLIENTS = 100
FLOOD_JOBS = 8
FLOOD_SECONDS = 4.0


def _env(runtime: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "DISPLAY", "WAYLAND_DISPLAY")
    }
    env.update(
        PYTHONPATH=str(DESKTOP),
        XDG_RUNTIME_DIR=str(runtime),
        XDG_CONFIG_HOME=str(runtime / "config"),
        TS_SOCKET=str(runtime / "tsp.sock"),
        TMPDIR=str(runtime),
    )
    return env


def _median_ms(command: list[str], env: dict[str, str], times: list[float]) -> None:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    times.append((time.perf_counter() - started) * 1000)


def _serve(db: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    from jobdeck.api.client import ApiClient, AppUnreachable
    from jobdeck.api.paths import ApiPaths, store_key

    proc = subprocess.Popen(
        [sys.executable, "-m", "jobdeck", "--db", str(db), "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    socket_path = ApiPaths(Path(env["XDG_RUNTIME_DIR"]) / "jobdeck", store_key(db)).socket
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with ApiClient(socket_path) as client:
                client.info()
            return proc
        except AppUnreachable:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("jobdeck serve did not answer")


def start_to_finish(runtime: Path) -> int:
    env = _env(runtime)
    db = runtime / "jobs.db"
    serve = _serve(db, env)
    try:
        jobdeck = [sys.executable, "-m", "jobdeck", "--db", str(db)]
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "jobdeck run -- true": [*jobdeck, "run", "--", "true"],
            "jobdeck run --wait -- true": [*jobdeck, "run", "--wait", "--", "true"],
        }
        tsp = shutil.which("tsp")
        if tsp:
            subprocess.run([tsp, "-f", "true"], env=env, check=True, stdout=subprocess.DEVNULL)
            commands["tsp -f true"] = [tsp, "-f", "true"]
        times: dict[str, list[float]] = {name: [] for name in commands}
        for command in commands.values():  # warm up (caches, the first job)
            _median_ms(command, env, [])
        for _ in range(ROUNDS):
            for name, command in commands.items():
                _median_ms(command, env, times[name])
        medians = {name: statistics.median(values) for name, values in times.items()}
        for name, value in medians.items():
            report(f"{name} (median ms)", value)
        added = medians["jobdeck run --wait -- true"] - medians["python -c pass"]
        status = report(
            "jobdeck run --wait -- true, added over python -c pass (ms)",
            added,
            "<= 100 ms",
            added <= 100,
        )
        if tsp:
            tsp_added = medians["tsp -f true"] - medians["python -c pass"]
            report("tsp -f true, added over python -c pass (ms)", tsp_added)
            subprocess.run([tsp, "-K"], env=env, check=False, stderr=subprocess.DEVNULL)
        return status
    finally:
        serve.terminate()
        serve.wait(timeout=30)


def enqueue_cancel(runtime: Path) -> int:
    from jobdeck.api.client import ApiClient
    from jobdeck.api.paths import ApiPaths, store_key

    env = _env(runtime)
    db = runtime / "pairs.db"
    serve = _serve(db, env)
    try:
        socket_path = ApiPaths(runtime / "jobdeck", store_key(db)).socket
        body = {"params": {"argv": ["true"]}, "run_at": time.time() + 86400}
        latencies = []
        with ApiClient(socket_path) as client:
            for i in range(PAIRS + 20):
                started = time.perf_counter()
                job = client.post("/api/jobs", body)
                client.post(f"/api/jobs/{job['id']}/cancel")
                if i >= 20:  # after a warm-up
                    latencies.append((time.perf_counter() - started) * 1000)
        latencies.sort()
        p50 = latencies[len(latencies) // 2]
        p99 = latencies[int(len(latencies) * 0.99)]
        report("enqueue + cancel over the socket, p50 (ms)", p50)
        return report("enqueue + cancel over the socket, p99 (ms)", p99, "<= 10 ms", p99 <= 10)
    finally:
        serve.terminate()
        serve.wait(timeout=30)


CLIENT_SCRIPT = """
    import json, selectors, socket, sys, time
    path, n, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    sel = selectors.DefaultSelector()
    counts, data = {}, {}
    for i in range(n):
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        s.sendall(b"GET /api/jobs/stream HTTP/1.1\\r\\nHost: localhost\\r\\n\\r\\n")
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
        counts[i], data[i] = 0, b""
    def pump(until, counting):
        while time.monotonic() < until:
            for key, _ in sel.select(0.05):
                chunk = key.fileobj.recv(1 << 16)
                if counting:
                    counts[key.data] += chunk.count(b"event: jobs")
                else:
                    data[key.data] += chunk
    pump(time.monotonic() + 0.5, False)
    while not all(b"event: snapshot" in d for d in data.values()):
        pump(time.monotonic() + 0.1, False)
    print("ready", flush=True)
    sys.stdin.readline()
    pump(time.monotonic() + seconds, True)
    print(json.dumps(counts), flush=True)
"""


CLIENT = (sys.executable, "-c", textwrap.dedent(CLIENT_SCRIPT))


def sse_flood(runtime: Path, clients: int) -> tuple[float, float, list[int]]:
    """(GUI p99 gap ms, max gap ms, messages per client) with ``clients`` streams."""
    import qasync

    from jobdeck.api.paths import ApiPaths
    from jobdeck.api.server import ApiOptions
    from jobdeck.app import JobdeckService
    from jobdeck.jobs import builtin_registry
    from jobdeck.settings import AppSettings

    qapp = app()
    loop = qasync.QEventLoop(qapp, already_running=False)
    asyncio.set_event_loop(loop)
    registry = builtin_registry()
    registry.register("spin", spin)
    settings = AppSettings(QSettings(str(runtime / f"s{clients}.ini"), QSettings.Format.IniFormat))
    settings.concurrency = FLOOD_JOBS
    paths = ApiPaths(runtime / "jobdeck", f"flood{clients}")
    service = JobdeckService(
        qapp,
        runtime / f"flood{clients}.db",
        registry=registry,
        settings=settings,
        api=ApiOptions(paths),
        on_quit=lambda: None,
    )
    meter = GapMeter()
    counts: list[int] = []

    async def scenario() -> None:
        service.start()
        assert service.api is not None
        service.api.wait_serving()
        reader = None
        if clients:
            reader = subprocess.Popen(
                [*CLIENT, str(paths.socket), str(clients), str(FLOOD_SECONDS)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert reader.stdout is not None and reader.stdin is not None
            line = await loop.run_in_executor(threads, reader.stdout.readline)
            assert line.strip() == "ready", line
            reader.stdin.write("go\n")
            reader.stdin.flush()
        meter.start()
        for _ in range(FLOOD_JOBS):
            service.tracker.enqueue("spin", {"seconds": FLOOD_SECONDS})
        await asyncio.sleep(FLOOD_SECONDS)
        meter.stop()
        if reader is not None:
            assert reader.stdout is not None
            result = await loop.run_in_executor(threads, reader.stdout.readline)
            counts.extend(json.loads(result).values())
            reader.wait(timeout=30)
        while service.tracker.active_jobs():
            await asyncio.sleep(0.05)
        service.shutdown()

    with ThreadPoolExecutor(1) as threads:
        loop.run_until_complete(scenario())
    loop.close()
    asyncio.set_event_loop(None)
    p99, worst = meter.figures()
    return p99, worst, counts


def main() -> int:
    runtime = Path(tempfile.mkdtemp(prefix="jdb", dir="/tmp"))
    runtime.chmod(0o700)
    status = 0
    try:
        status |= start_to_finish(runtime)
        status |= enqueue_cancel(runtime)
        base_p99, base_max, _ = sse_flood(runtime, 0)
        p99, worst, counts = sse_flood(runtime, CLIENTS)
        report("GUI gaps, 8 flooding jobs, no SSE client: p99 (ms)", base_p99)
        report("GUI gaps, 8 flooding jobs, no SSE client: max (ms)", base_max)
        name = f"GUI gaps, 8 flooding jobs, {CLIENTS} SSE clients"
        status |= report(f"{name}: p99 (ms)", p99, "<= 50 ms", p99 <= 50)
        report(f"{name}: max (ms)", worst)
        rates = [c / FLOOD_SECONDS for c in counts]
        report("SSE messages per client per second: mean", statistics.mean(rates))
        status |= report(
            "SSE messages per client per second: max", max(rates), "<= 10 /s", max(rates) <= 10.5
        )
        report("SSE clients that got messages", sum(1 for c in counts if c))
    finally:
        shutil.rmtree(runtime, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
