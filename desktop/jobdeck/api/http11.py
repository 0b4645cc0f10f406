"""A small HTTP/1.1 client over a Unix socket, for the command-line client.

Standard library's ``http.client`` would do, but it imports the ``email`` package, which
alone costs a ``jobdeck`` command about as much as the rest of its imports together. The
app's answers are simple (``Content-Length`` bodies, or ``chunked`` streams), so this reads
exactly those: a status line, headers, then the body by length, by chunks, or up to the
end of the connection. Connections are kept alive between requests.
"""

from __future__ import annotations

import contextlib
import socket
from typing import BinaryIO

__all__ = ["Connection", "ProtocolError", "Response"]

_MAX_LINE = 64 * 1024
_MAX_HEADERS = 100


class ProtocolError(ConnectionError):
    """The other end did not answer in HTTP/1.1, or closed the connection mid-answer."""


class Connection:
    """One connection to ``path``; ``timeout``: seconds per socket operation (None: none)."""

    def __init__(self, path: str, timeout: float | None) -> None:
        self.path = path
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self._file: BinaryIO | None = None

    def set_timeout(self, timeout: float | None) -> None:
        self.timeout = timeout
        if self.sock is not None:
            self.sock.settimeout(timeout)

    def request(
        self, method: str, target: str, body: bytes | None, headers: dict[str, str]
    ) -> Response:
        """Send a request and read the answer's head (the body is read from the Response)."""
        if self.sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(self.path)
            except BaseException:
                sock.close()
                raise
            self.sock = sock
            self._file = sock.makefile("rb")
        assert self._file is not None
        lines = [f"{method} {target} HTTP/1.1", "Host: localhost"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            self.sock.sendall(head + (body or b""))
            return Response(self, self._file, method)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class Response:
    """An answer: ``status``, ``headers`` (lower-case names), and its body to read."""

    def __init__(self, conn: Connection, fp: BinaryIO, method: str) -> None:
        self._conn = conn
        self.fp = fp
        status_line = fp.readline(_MAX_LINE)
        if not status_line:
            raise ProtocolError("the connection was closed before an answer")
        parts = status_line.decode("latin-1").split(None, 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ProtocolError(f"not an HTTP answer: {status_line[:80]!r}")
        self.status = int(parts[1])
        self.headers: dict[str, str] = {}
        for _ in range(_MAX_HEADERS):
            line = fp.readline(_MAX_LINE).decode("latin-1").rstrip("\r\n")
            if not line:
                break
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self.will_close = self.headers.get("connection", "").lower() == "close"
        self._chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        length = self.headers.get("content-length")
        self._left: int | None = int(length) if length and length.isdigit() else None
        if method == "HEAD" or self.status in (204, 304):
            self._left = 0
        if self._left is None and not self._chunked:
            self.will_close = True  # the body ends with the connection
        self._chunk_left = 0
        self._eof = self._left == 0
        self._buffer = b""

    def getheader(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def _next(self, size: int) -> bytes:
        """Some body bytes (at most ``size``), b"" at the end."""
        if self._eof:
            return b""
        if self._chunked:
            if self._chunk_left == 0:
                line = self.fp.readline(_MAX_LINE)
                try:
                    self._chunk_left = int(line.split(b";")[0].strip() or b"x", 16)
                except ValueError:
                    raise ProtocolError(f"bad chunk size {line[:40]!r}") from None
                if self._chunk_left == 0:
                    while self.fp.readline(_MAX_LINE) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    self._eof = True
                    return b""
            data = self.fp.read1(min(size, self._chunk_left))  # type: ignore[attr-defined]
            if not data:
                raise ProtocolError("the connection was closed mid-answer")
            self._chunk_left -= len(data)
            if self._chunk_left == 0:
                self.fp.readline(_MAX_LINE)  # the CRLF after the chunk
            return bytes(data)
        want = size if self._left is None else min(size, self._left)
        data = self.fp.read1(want)  # type: ignore[attr-defined]
        if self._left is not None:
            if not data:
                raise ProtocolError("the connection was closed mid-answer")
            self._left -= len(data)
            self._eof = self._left == 0
        elif not data:
            self._eof = True
        return bytes(data)

    def read1(self, size: int = 64 * 1024) -> bytes:
        """What has arrived (at least one byte, unless the body has ended)."""
        if self._buffer:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
            return data
        return self._next(size)

    def read(self) -> bytes:
        """The rest of the body."""
        parts = [self._buffer]
        self._buffer = b""
        while chunk := self._next(1 << 16):
            parts.append(chunk)
        self._finished()
        return b"".join(parts)

    def readline(self) -> bytes:
        """The next line (with its ``\\n``), or what is left at the end (b"" once ended)."""
        while b"\n" not in self._buffer:
            chunk = self._next(1 << 16)
            if not chunk:
                line, self._buffer = self._buffer, b""
                return line
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line + b"\n"

    def __iter__(self) -> Response:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def _finished(self) -> None:
        if self.will_close:
            self._conn.close()

    def shutdown(self) -> None:
        """Cut the connection (a reader blocked on it, in another thread, returns)."""
        sock = self._conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
