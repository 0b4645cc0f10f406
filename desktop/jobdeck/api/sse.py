"""``GET /api/jobs/stream``: Server-Sent Events of job changes, coalesced and resumable.

Messages (``data`` is one line of JSON)::

    retry: 1000                                     once, first: reconnect after 1 s

    id: <seq>
    event: snapshot
    data: {"jobs": [<job>, ...], "since": <epoch s> | null}

    id: <seq>
    event: jobs
    data: {"jobs": [{"event": "progress", "job": <job>, "logs": [<line>, ...]?}, ...]}

    : ping                                          a heartbeat, every ``heartbeat`` s

A new connection first gets a ``snapshot``: the active jobs and the most recent finished
ones (those the filters let through); a client replaces what it knew with it. Then each
``jobs`` message carries the latest state of every job that changed since the previous
message — at most one message per ``min_interval`` (0.1 s: <= 10 a second) per client,
however fast jobs report. ``logs`` are the log lines that arrived meanwhile (live only).

**Resuming**: a client that reconnects with ``Last-Event-ID`` (browsers' EventSource do it
by themselves; ``?lastEventId=`` works too) gets the latest state of every job that changed
since, so no finished job is missed. When the hub cannot tell (the id is from before the app
restarted, or too old), it gets a ``snapshot`` instead, with ``since`` set to the time of its
last id, holding also the jobs that finished since then among the most recent ones; a
client should then look up any job it knew as active and the snapshot does not mention.

**Filters**: ``?job=ID`` (repeatable; an id or a unique prefix) and ``?type=T`` (repeatable).

**Slow clients**: what waits for a client is one latest state per job, so it is bounded
whatever happens. A client whose socket stays full for ``send_timeout`` seconds, or whose
unsent data passes ``max_buffer`` bytes, is dropped (the browser's EventSource reconnects
and resumes). The app never waits for a client.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
from dataclasses import dataclass

from aiohttp import web

from jobdeck.core import Job, JobStatus, JobTracker, LogEntry

from .hub import Change, EventHub
from .jsonify import dumps, job_to_json

__all__ = ["StreamFilter", "StreamOptions", "Streams", "stream_jobs"]

_FINISHED = [s.value for s in JobStatus if s.finished]
#: Log lines one job may have waiting for a client; older ones are counted as dropped.
MAX_WAITING_LINES = 500
#: Jobs a client remembers having seen finished (to ignore stale states that follow).
MAX_REMEMBERED_FINISHED = 10_000


@dataclass(frozen=True)
class StreamOptions:
    """Timing and limits of the event stream (tests shorten them)."""

    heartbeat: float = 15.0
    min_interval: float = 0.1
    send_timeout: float = 10.0
    max_buffer: int = 1024 * 1024
    #: Kernel send buffer asked for each stream's socket (bounds what a stuck client holds).
    socket_buffer: int = 256 * 1024
    #: Finished jobs in a snapshot.
    recent_finished: int = 30


@dataclass(frozen=True)
class StreamFilter:
    """Which jobs a client wants: these ids and/or these types (empty: all)."""

    job_ids: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()

    def matches(self, job: Job) -> bool:
        if self.job_ids and job.id not in self.job_ids:
            return False
        return not self.types or job.type in self.types


class _Gone(Exception):
    """The client went away or was dropped."""


class _Client:
    """One connected stream: what waits for it, and its pacing. Loop thread only."""

    def __init__(self, flt: StreamFilter, options: StreamOptions) -> None:
        self.filter = flt
        self.options = options
        self.pending: dict[str, Change] = {}
        self.lines: dict[str, list[LogEntry]] = {}
        self.dropped_lines: dict[str, int] = {}
        self.finished_seen: dict[str, None] = {}
        #: Set by the streams' ticker when this client may be sent something.
        self.wake = asyncio.Event()
        self.ping = False
        self.closed = False
        self.last_sent = -math.inf
        #: Since when a write to this client has been waiting for its socket (loop time).
        self.writing_since: float | None = None
        self.transport: asyncio.Transport | None = None

    def offer(self, changes: list[Change]) -> None:
        """Hub listener: keep each matching job's latest change (and its new lines) until
        the streams' next tick sends them."""
        for change in changes:
            job = change.job
            if not self.filter.matches(job):
                continue
            if job.id in self.finished_seen and not job.status.finished:
                continue
            self.pending[job.id] = change
            if change.logs or change.dropped_logs:
                lines = self.lines.setdefault(job.id, [])
                lines.extend(change.logs)
                extra = len(lines) - MAX_WAITING_LINES + change.dropped_logs
                if len(lines) > MAX_WAITING_LINES:
                    del lines[: len(lines) - MAX_WAITING_LINES]
                if extra > 0:
                    self.dropped_lines[job.id] = self.dropped_lines.get(job.id, 0) + extra

    def remember_finished(self, jobs: list[Job]) -> None:
        for job in jobs:
            if job.status.finished:
                self.finished_seen[job.id] = None
        while len(self.finished_seen) > MAX_REMEMBERED_FINISHED:
            del self.finished_seen[next(iter(self.finished_seen))]

    def take_message(self) -> bytes | None:
        """The next ``jobs`` message from what waits, or None when nothing does."""
        if not self.pending:
            return None
        changes = sorted(self.pending.values(), key=lambda c: c.seq)
        self.pending = {}
        lines, self.lines = self.lines, {}
        dropped, self.dropped_lines = self.dropped_lines, {}
        self.remember_finished([c.job for c in changes])
        entries = ",".join(
            c.entry_json(lines.get(c.job.id), dropped.get(c.job.id, 0)) for c in changes
        )
        return sse_message("jobs", f'{{"jobs":[{entries}]}}', changes[-1].seq)

    def close(self) -> None:
        self.closed = True
        self.wake.set()


class Streams:
    """The open event streams, and the one ticker that paces them all.

    Every ``min_interval`` seconds (while any stream is open) the ticker wakes each client
    that has something waiting (or is due a heartbeat) and is not still writing: so each
    gets at most one message a tick, and no client has a timer of its own. A client whose
    write has waited for its socket longer than ``send_timeout``, or whose unsent data
    passes ``max_buffer``, is dropped there. Loop thread only.
    """

    def __init__(self, options: StreamOptions | None = None) -> None:
        self.options = options or StreamOptions()
        self.open: set[_Client] = set()
        self.dropped = 0
        self.served = 0
        self._tick_handle: asyncio.TimerHandle | None = None

    def add(self, client: _Client) -> None:
        self.open.add(client)
        self.served += 1
        if self._tick_handle is None:
            loop = asyncio.get_running_loop()
            self._tick_handle = loop.call_later(self.options.min_interval, self._tick)

    def remove(self, client: _Client) -> None:
        self.open.discard(client)

    def _tick(self) -> None:
        self._tick_handle = None
        if not self.open:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        options = self.options
        for client in list(self.open):
            if client.closed:
                continue
            if client.writing_since is not None:
                buffered = client.transport.get_write_buffer_size() if client.transport else 0
                if (
                    now - client.writing_since > options.send_timeout
                    or buffered > options.max_buffer
                ):
                    self.drop(client)
                continue
            if client.pending:
                client.wake.set()
            elif now - client.last_sent >= options.heartbeat:
                client.ping = True
                client.wake.set()
        self._tick_handle = loop.call_later(options.min_interval, self._tick)

    def drop(self, client: _Client) -> None:
        """Cut a client that fell behind (its pending write fails, its handler ends)."""
        self.dropped += 1
        client.close()
        if client.transport is not None:
            client.transport.abort()

    def close_all(self) -> None:
        for client in list(self.open):
            client.close()
        if self._tick_handle is not None:
            self._tick_handle.cancel()
            self._tick_handle = None


def sse_message(event: str, data: str, seq: int | None = None) -> bytes:
    head = f"id: {seq}\n" if seq is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n".encode()


def parse_last_id(text: str | None) -> int | None:
    if not text:
        return None
    text = text.strip()
    return int(text) if text.isdigit() and len(text) < 30 else None


def snapshot(
    tracker: JobTracker, flt: StreamFilter, seq: int, since_seq: int | None, recent: int
) -> tuple[list[Job], bytes]:
    """The jobs a fresh (or unresumable) client starts from, and the message with them."""
    if flt.job_ids:
        found = (tracker.get_job(job_id) for job_id in sorted(flt.job_ids))
        jobs = [job for job in found if job is not None]
    else:
        types = sorted(flt.types) or None
        active = [j for j in tracker.active_jobs() if flt.matches(j)]
        finished = tracker.list_jobs(status=_FINISHED, type=types, limit=recent)
        since = None if since_seq is None else since_seq / 1e6
        if since is not None:  # what finished while the client was away
            seen = {j.id for j in finished}
            more = tracker.list_jobs(status=_FINISHED, type=types, limit=max(200, recent))
            finished += [
                j
                for j in more
                if j.id not in seen and j.completed_ts is not None and j.completed_ts >= since
            ]
        jobs = active + finished
    since_text = "null" if since_seq is None else repr(since_seq / 1e6)
    data = f'{{"jobs":[{",".join(dumps(job_to_json(j)) for j in jobs)}],"since":{since_text}}}'
    return jobs, sse_message("snapshot", data, seq)


async def stream_jobs(
    request: web.Request,
    tracker: JobTracker,
    hub: EventHub,
    streams: Streams,
    flt: StreamFilter,
) -> web.StreamResponse:
    """Serve one client until it goes away, is dropped, or the server closes."""
    options = streams.options
    resp = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache, no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await resp.prepare(request)
    transport = request.transport
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, options.socket_buffer)
    client = _Client(flt, options)
    client.transport = transport
    streams.add(client)
    hub.add_listener(client.offer)
    try:
        last = parse_last_id(
            request.headers.get("Last-Event-ID") or request.query.get("lastEventId")
        )
        first = b"retry: 1000\n\n"
        replay = None if last is None else hub.changes_since(last)
        if replay is None:
            jobs, message = snapshot(tracker, flt, hub.seq, last, options.recent_finished)
            client.remember_finished(jobs)
            first += message
        else:
            client.offer([Change(c.seq, c.kind, c.job) for c in replay])  # states, no lines
            first += client.take_message() or b""
        await _write(client, resp, streams, first)
        while True:
            await client.wake.wait()
            client.wake.clear()
            if client.closed:
                break
            data = client.take_message()
            if data is None and client.ping:
                data = b": ping\n\n"
            client.ping = False
            if data is not None:
                await _write(client, resp, streams, data)
    except _Gone:
        pass
    finally:
        hub.remove_listener(client.offer)
        streams.remove(client)
    return resp


async def _write(client: _Client, resp: web.StreamResponse, streams: Streams, data: bytes) -> None:
    transport = client.transport
    if transport is None or transport.is_closing():
        raise _Gone
    if transport.get_write_buffer_size() > client.options.max_buffer:
        streams.drop(client)
        raise _Gone
    loop = asyncio.get_running_loop()
    client.writing_since = loop.time()
    try:
        await resp.write(data)
    except (ConnectionError, RuntimeError):
        raise _Gone from None
    finally:
        client.writing_since = None
    client.last_sent = loop.time()
