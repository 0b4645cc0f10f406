"""Commands that stream: ``jobdeck logs [-f]`` and ``jobdeck run --follow``.

A job that runs a program has an output file: ``logs`` prints it (``--tail N``: its last N
lines; ``-f``: as it grows, until the job ends). Other jobs, and ``--json``, print the
job's log lines. ``run --follow``
prints the output on stdout and, on a terminal, a progress line on stderr; Ctrl+C asks
whether to cancel the job too (without a terminal to ask, the job keeps running).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from jobdeck.api.client import ApiClient, ApiError, AppUnreachable, job_path, sse_events

from .commands import _call, exit_status, find_offline
from .connect import api_failure, connect, read_only_store
from .errors import EXIT_INTERRUPTED, EXIT_OK, CliError
from .render import log_line, percent, say_end

__all__ = ["cmd_logs", "follow_job"]

_PAGE = 4 * 1024 * 1024


def cmd_logs(args: argparse.Namespace) -> int:
    client = connect(args, start=False)
    if client is None:
        with read_only_store(args) as tracker:
            found = find_offline(tracker, args.job_id)
            if not args.follow or found.status.finished:
                return _print_offline(args, tracker, found)
        client = connect(args, start=True)  # it only moves on while the app runs
        assert client is not None
    with client:
        job = _call(client.get, job_path(args.job_id))
        if args.json or not _has_output(job):
            return _print_lines(client, job, args)
        if args.follow:
            job = _wait_started(client, job)
            if not job["log_path"]:
                return _print_lines(client, job, args)
        offset = 0
        if args.tail is not None:
            offset = _print_tail(
                lambda start, n: _read_output(client, job["id"], start, n), args.tail
            )
            if not args.follow:
                return EXIT_OK
        _copy_output(client, job["id"], follow=args.follow, offset=offset)
    return EXIT_OK


def _has_output(job: dict[str, Any]) -> bool:
    """Whether the job has (or, once started, will have) an output file."""
    waiting = job["status"] in ("pending", "running")  # its log file is told a moment later
    return bool(job["log_path"]) or (waiting and "argv" in job["params"])


def _print_offline(args: argparse.Namespace, tracker: Any, job: Any) -> int:
    from jobdeck.api.jsonify import log_to_json

    if job.log_path and not args.json:
        try:
            with open(job.log_path, "rb") as f:
                if args.tail is not None:
                    _print_tail(
                        lambda at, n: (os.pread(f.fileno(), n, at), os.fstat(f.fileno()).st_size),
                        args.tail,
                    )
                    return EXIT_OK
                while chunk := f.read(_PAGE):
                    sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
            return EXIT_OK
        except OSError as exc:
            print(f"jobdeck: cannot read {job.log_path}: {exc.strerror}", file=sys.stderr)
    entries = [log_to_json(e) for e in tracker.logs(job.id, limit=10_000)]
    if args.tail is not None:
        entries = entries[-args.tail :] if args.tail else []
    for entry in entries:
        print(json.dumps(entry, ensure_ascii=False) if args.json else log_line(entry))
    return EXIT_OK


def _read_output(client: ApiClient, job_id: str, start: int, limit: int) -> tuple[bytes, int]:
    """Up to ``limit`` bytes of the job's output from ``start``, and the output's size."""
    response = _call(
        lambda: client.stream(job_path(job_id, "/output"), {"offset": start, "limit": limit})
    )
    with response:
        data = response.read()
        return data, int(response.getheader("X-Output-Size") or 0)


def _print_tail(read: Callable[[int, int], tuple[bytes, int]], lines: int) -> int:
    """Print the last ``lines`` lines of an output, as ``tail -n`` does; ``read(start,
    limit)`` gives at most ``limit`` bytes from ``start`` and the output's size. Returns
    the offset where what was read ends (where following it goes on)."""
    size = read(2**62, 0)[1]  # nothing but the size
    span = 64 * 1024
    while True:
        start = max(0, size - span)
        data = b""
        while start + len(data) < size:  # a page may be shorter than asked
            page = read(start + len(data), min(size - start - len(data), _PAGE))[0]
            if not page:
                break
            data += page
        found = data.splitlines(keepends=True)
        if start == 0 or len(found) > lines:  # the first line may be cut: one more needed
            break
        span *= 4
    if lines:
        sys.stdout.buffer.write(b"".join(found[-lines:]))
        sys.stdout.flush()
    return start + len(data)


def _print_lines(client: ApiClient, job: dict[str, Any], args: argparse.Namespace) -> int:
    query: dict[str, Any] = {"follow": args.follow}
    if args.tail is not None:
        query["tail"] = args.tail
    if not args.follow:
        query["limit"] = 10_000
        entries = _call(lambda: client.get(job_path(job["id"], "/logs"), **query))["entries"]
        for entry in entries:
            print(json.dumps(entry, ensure_ascii=False) if args.json else log_line(entry))
        return EXIT_OK
    response = _call(lambda: client.stream(job_path(job["id"], "/logs"), query, timeout=None))
    with response:
        for raw in response:
            item = json.loads(raw)
            if "finished" in item:
                break
            print(json.dumps(item, ensure_ascii=False) if args.json else log_line(item), flush=True)
    return EXIT_OK


def _wait_started(client: ApiClient, job: dict[str, Any]) -> dict[str, Any]:
    """The job once its output file is known: a program's log file is recorded with its
    pid, a moment after it starts (or with its end, for a program that ends at once)."""

    def known(state: dict[str, Any]) -> bool:
        finished = state["status"] in ("completed", "failed", "cancelled")
        return state["status"] != "pending" and (bool(state["log_path"]) or finished)

    if known(job):
        return job
    response = _call(lambda: client.stream("/api/jobs/stream", {"job": job["id"]}, timeout=None))
    with response:
        for event in sse_events(response):
            items = event.json()["jobs"]
            for item in items:
                state = item.get("job", item)
                if known(state):
                    return dict(state)
    return dict(_call(client.get, job_path(job["id"])))


def _copy_output(
    client: ApiClient,
    job_id: str,
    *,
    follow: bool,
    lock: threading.Lock | None = None,
    offset: int = 0,
) -> None:
    """Write the job's output from ``offset`` to stdout as raw bytes (``follow``: until it
    ends)."""
    out = sys.stdout.buffer
    while True:
        query = {"follow": follow, "offset": offset, "limit": _PAGE}
        response = _call(lambda q=query: client.stream(job_path(job_id, "/output"), q))
        with response:
            while chunk := response.read1(64 * 1024):
                offset += len(chunk)
                if lock is None:
                    out.write(chunk)
                    out.flush()
                    continue
                with lock:
                    _clear_status()
                    out.write(chunk)
                    out.flush()
                    _draw_status()
        size = int(response.getheader("X-Output-Size") or 0)
        if follow or offset >= size:  # a followed stream sends it all; a page may not
            return


# -- run --follow ------------------------------------------------------------------------------

_status_text = ""
_status_on = sys.stderr.isatty()


def _clear_status() -> None:
    if _status_on and _status_text:
        sys.stderr.write("\r\x1b[K")


def _draw_status() -> None:
    if _status_on and _status_text:
        sys.stderr.write(_status_text)
        sys.stderr.flush()


def _status_line(job: dict[str, Any]) -> str:
    message = job["progress"]["message"]
    text = f"[{percent(job):>4}] {job['status']}" + (f": {message}" if message else "")
    return text[:200]


def follow_job(client: ApiClient, job_id: str) -> int:
    """Show the job's output and progress until it ends; its exit status. Ctrl+C asks
    whether to cancel it (exit 130 either way)."""
    global _status_text
    lock = threading.Lock()
    printer: threading.Thread | None = None
    final: dict[str, Any] | None = None
    try:
        response = client.stream("/api/jobs/stream", {"job": job_id}, timeout=None)
        with response:
            for event in sse_events(response):
                for item in event.json()["jobs"]:
                    job = item.get("job", item)
                    if printer is None and job["log_path"]:
                        printer = threading.Thread(
                            target=_output_thread, args=(client, job_id, lock), daemon=True
                        )
                        printer.start()
                    with lock:
                        _clear_status()
                        _status_text = _status_line(job)
                        _draw_status()
                    if job["status"] in ("completed", "failed", "cancelled"):
                        final = job
                if final is not None:
                    break
    except KeyboardInterrupt:
        with lock:
            _clear_status()
            _status_text = ""
        return _interrupted(client, job_id)
    except (ApiError, AppUnreachable) as exc:
        raise api_failure(exc) from None
    if printer is not None:
        printer.join(timeout=30)
    with lock:
        _clear_status()
        _status_text = ""
    if final is None:
        final = _call(client.get, job_path(job_id))
    assert final is not None
    say_end(final)
    return exit_status(final)


def _output_thread(client: ApiClient, job_id: str, lock: threading.Lock) -> None:
    with contextlib.suppress(CliError, OSError):
        _copy_output(client, job_id, follow=True, lock=lock)


def _interrupted(client: ApiClient, job_id: str) -> int:
    print(file=sys.stderr)
    if not sys.stdin.isatty():
        print(f"jobdeck: stopped following; job {job_id} keeps running", file=sys.stderr)
        return EXIT_INTERRUPTED
    try:
        answer = input(f"Cancel job {job_id} too? [y/N] ")
    except (KeyboardInterrupt, EOFError):
        answer = ""
    if answer.strip().lower() in ("y", "yes"):
        try:
            client.post(job_path(job_id, "/cancel"))
            print(f"jobdeck: cancelled {job_id}", file=sys.stderr)
        except ApiError as exc:
            print(f"jobdeck: {exc.message}", file=sys.stderr)
    else:
        print(f"jobdeck: job {job_id} keeps running (jobdeck logs -f {job_id})", file=sys.stderr)
    return EXIT_INTERRUPTED
