"""The API server: aiohttp on an asyncio loop of its own thread, on a Unix socket and, when
asked, a TCP port.

Why a thread of its own and not the GUI's qasync loop (where aiohttp runs fine too): every
socket write releases the GIL, and while job threads run flat out, taking it back costs
the writing thread a few milliseconds. 100 event-stream clients at 10 messages a second are
1,000 writes a second: on the GUI thread that stretched its p99 gap from 27 ms to 224 ms
(``tests/bench/bench_api.py``); on a thread of its own the GUI does not wait for them.
The handlers only call the thread-safe tracker; the app's callbacks (``show_window``)
must be safe to call from this thread (the app marshals them to the GUI thread).

:meth:`ApiServer.start` binds the sockets at once, in the caller's thread (so errors surface
there and a second launch finds the app as soon as it holds the store), then serves them
from the thread. :meth:`ApiServer.close` stops listening, removes the socket file, ends the
streams and waits, finishes the open connections and stops the thread (a second or two at
most).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from aiohttp import web

from jobdeck.core import JobTracker
from jobdeck.core.registry import JobRegistry

from .auth import LOCAL_NAMES, TcpGuard, guard_middleware
from .context import CONTEXT, ApiContext
from .errors import MAX_BODY, error_middleware
from .hub import EventHub
from .options import ApiOptions, Listen
from .paths import ApiPaths
from .routes import add_routes, app_info
from .sse import StreamOptions, Streams
from .token_file import load_or_create_token

__all__ = ["ApiOptions", "ApiServer", "Listen"]

log = logging.getLogger(__name__)

STATIC = "static"


class ApiServer:
    """Serves Jobdeck's local API for ``tracker`` from a thread of its own.

    ``show_window()`` raises the main window (a second launch asks for it) and
    ``window_visible()`` says whether it shows; both are called on the server's thread, so
    they must be thread-safe; None without a GUI. No Qt here.
    """

    def __init__(
        self,
        tracker: JobTracker,
        registry: JobRegistry,
        paths: ApiPaths,
        *,
        db: str | None = None,
        listen: Listen | None = None,
        show_window: Callable[[], None] | None = None,
        window_visible: Callable[[], bool] | None = None,
        stream_options: StreamOptions | None = None,
    ) -> None:
        self.tracker = tracker
        self.registry = registry
        self.paths = paths
        self.listen = listen
        self._db = db
        self._show_window = show_window
        self._window_visible = window_visible
        self.streams = Streams(stream_options or StreamOptions())
        self._sockets: list[socket.socket] = []
        self._servers: list[asyncio.AbstractServer] = []
        self._socket_id: tuple[int, int] | None = None
        self._runner: web.AppRunner | None = None
        self._ctx: ApiContext | None = None
        self._tcp: TcpGuard | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._serving = threading.Event()
        self.hub: EventHub | None = None
        self.closed = False

    # -- starting -----------------------------------------------------------------------------

    def start(self) -> None:
        """Bind the sockets (raising OSError when that fails) and serve them from a thread."""
        self.paths.make_directory()
        self._sockets.append(self._bind_unix())
        if self.listen is not None:
            self._sockets.append(self._bind_tcp(self.listen))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="jobdeck-api", daemon=True)
        self._thread.start()

    def wait_serving(self, timeout: float = 30.0) -> bool:
        """Wait until the sockets are served (requests made before wait in the backlog)."""
        return self._serving.wait(timeout)

    def _run(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except Exception:
            log.exception("the local API could not start")
            self._serving.set()
            loop.close()
            return
        self._serving.set()
        loop.run_forever()
        try:
            loop.run_until_complete(self._finish())
        finally:
            loop.close()

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        self.hub = EventHub(self.tracker, loop)
        self._ctx = ApiContext(
            tracker=self.tracker,
            registry=self.registry,
            hub=self.hub,
            streams=self.streams,
            info=app_info(self._db, self._show_window is not None),
            show_window=self._show_window,
            window_visible=self._window_visible,
            listen_url=self.url,
        )
        app = web.Application(
            middlewares=[error_middleware, guard_middleware(lambda: self._tcp)],
            client_max_size=MAX_BODY,
        )
        app[CONTEXT] = self._ctx
        add_routes(app)
        add_board(app)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        for sock in self._sockets:
            server = await loop.create_server(self._runner.server, sock=sock)  # type: ignore[arg-type]
            self._servers.append(server)

    def _bind_unix(self) -> socket.socket:
        path = self.paths.socket
        # The app holds the store's lock, so a socket left here is a stale one of a run
        # that ended without removing it.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(os.fspath(path))
            os.chmod(path, 0o600)
            sock.listen(128)
            info = os.stat(path)
        except BaseException:
            sock.close()
            raise
        self._socket_id = (info.st_dev, info.st_ino)
        sock.setblocking(False)
        return sock

    def _bind_tcp(self, listen: Listen) -> socket.socket:
        host = "127.0.0.1" if listen.host == "localhost" else listen.host
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, listen.port), family=family, backlog=128)
        sock.setblocking(False)
        port = sock.getsockname()[1]
        named = host if family == socket.AF_INET else f"[{host}]"
        extra = frozenset() if listen.loopback else frozenset({named})
        self._tcp = TcpGuard(load_or_create_token(self.paths.token), port, extra)
        if not listen.loopback:
            log.warning(
                "the API listens on %s:%s: other machines can reach it (with the token)", host, port
            )
        return sock

    # -- what it is ---------------------------------------------------------------------------

    @property
    def socket_path(self) -> Path:
        return self.paths.socket

    @property
    def port(self) -> int | None:
        return None if self._tcp is None else self._tcp.port

    @property
    def url(self) -> str | None:
        """``http://127.0.0.1:<port>`` while the TCP listener is on, else None."""
        if self._tcp is None or self.listen is None:
            return None
        host = self.listen.host
        if host in LOCAL_NAMES:
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self._tcp.port}"

    @property
    def token(self) -> str | None:
        return None if self._tcp is None else self._tcp.token

    # -- stopping -----------------------------------------------------------------------------

    def close(self, timeout: float = 5.0) -> None:
        """Stop listening, remove the socket file, end the streams and waits, finish open
        connections and stop the thread (within about ``timeout`` seconds). Idempotent."""
        if self.closed:
            return
        self.closed = True
        self._remove_socket_file()
        loop, thread = self._loop, self._thread
        if thread is not None and thread.is_alive() and loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop ended already
                loop.call_soon_threadsafe(self._stop_serving)
            thread.join(timeout)
        for sock in self._sockets:
            sock.close()

    def _stop_serving(self) -> None:
        for server in self._servers:
            server.close()
        self.streams.close_all()
        if self._ctx is not None:
            self._ctx.closing.set()
            self._ctx.reader.shutdown(wait=False, cancel_futures=True)
        if self.hub is not None:
            self.hub.close()
        assert self._loop is not None
        self._loop.stop()

    async def _finish(self) -> None:
        """On the server's thread, after it stopped: let the handlers end, close all."""
        await asyncio.sleep(0)  # the streams and waits notice they were ended
        if self._runner is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._runner.cleanup(), 2.0)

    def _remove_socket_file(self) -> None:
        path = self.paths.socket
        try:
            info = os.stat(path)
        except OSError:
            return
        if (info.st_dev, info.st_ino) == self._socket_id:  # ours, not a later run's
            with contextlib.suppress(OSError):
                os.unlink(path)


def add_board(app: web.Application) -> None:
    """``GET /`` (the board page) and ``/static/*`` (its script and style)."""
    folder = resources.files("jobdeck.api") / STATIC

    async def page(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(Path(str(folder / "index.html")), headers=_PAGE_HEADERS)

    app.router.add_get("/", page)
    app.router.add_static("/static/", Path(str(folder)), append_version=False)


_PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    # Only the app's own files and connections: no inline script, no other site.
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
}
