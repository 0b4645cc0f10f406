"""How the app serves its API (:class:`ApiOptions`, :class:`Listen`): plain data, so the app
can decide it without importing the server (aiohttp), which it starts once its window
shows."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from jobdeck.core.value import Value

from .paths import ApiPaths

if TYPE_CHECKING:
    from .sse import StreamOptions

__all__ = ["ApiOptions", "Listen"]


class Listen(Value):
    """A TCP listener: ``port`` (0: any free one) on ``host`` — 127.0.0.1 unless the user
    explicitly asks for another address (then other machines can reach it too)."""

    __slots__ = ("port", "host")  # noqa: RUF023 (the fields, in order)
    port: int
    host: str

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self._set(port=port, host=host)

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


class ApiOptions(Value):
    """How the app serves its API: where (``paths``), whether on TCP too (``listen``), and
    the event stream's timing."""

    __slots__ = ("paths", "listen", "stream")  # noqa: RUF023 (the fields, in order)
    paths: ApiPaths
    listen: Listen | None
    stream: StreamOptions | None

    def __init__(
        self, paths: ApiPaths, listen: Listen | None = None, stream: StreamOptions | None = None
    ) -> None:
        self._set(paths=paths, listen=listen, stream=stream)
