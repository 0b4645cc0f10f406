"""How the app serves its API (:class:`ApiOptions`, :class:`Listen`): plain data, so the app
can decide it without importing the server (aiohttp), which it starts once its window
shows."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .paths import ApiPaths

if TYPE_CHECKING:
    from .sse import StreamOptions

__all__ = ["ApiOptions", "Listen"]


@dataclass(frozen=True)
class Listen:
    """A TCP listener: ``port`` (0: any free one) on ``host`` — 127.0.0.1 unless the user
    explicitly asks for another address (then other machines can reach it too)."""

    port: int
    host: str = "127.0.0.1"

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


@dataclass(frozen=True)
class ApiOptions:
    """How the app serves its API: where (``paths``), whether on TCP too (``listen``), and
    the event stream's timing."""

    paths: ApiPaths
    listen: Listen | None = None
    stream: StreamOptions | None = None
