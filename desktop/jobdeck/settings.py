"""User settings kept in QSettings: concurrency, retention, notifications, the taskbar's
placement and visibility, and one-time hints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSettings

if TYPE_CHECKING:
    from datetime import timedelta

__all__ = ["AppSettings"]


class AppSettings:
    """Typed access to Jobdeck's QSettings. Values are read on every access (no caching),
    so a change made elsewhere is seen at once. Bad stored values fall back to defaults.

    Also passes ``value``/``setValue``/``remove`` through, so widgets that remember things
    of their own (the taskbar's position) can use it like a QSettings.
    """

    DEFAULTS: dict[str, Any] = {
        "concurrency": 4,
        "retention_days": 7,
        "notifications": True,
        "notify_after_s": 30.0,
        "taskbar/corner": "bottom-right",
        "taskbar/keep_finished_ms": 4000,
        "taskbar/visible": True,
        "taskbar/always_show": False,
        "tray/close_hint_shown": False,
        "tray/animate": True,
        "sleep/inhibit": "long",
        "sleep/inhibit_after_min": 10,
        "jobs/stall_after_min": 10,
        "api/listen_port": 0,
        "cluster/dask_scheduler": "",
    }

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self.qsettings = qsettings or QSettings("Jobdeck", "Jobdeck")

    # -- QSettings-compatible pass-through ------------------------------------------------------

    def value(self, key: str, default: Any = None, type: Any = None) -> Any:
        if type is None:
            return self.qsettings.value(key, default)
        return self.qsettings.value(key, default, type)

    def setValue(self, key: str, value: Any) -> None:
        self.qsettings.setValue(key, value)

    def remove(self, key: str) -> None:
        self.qsettings.remove(key)

    def sync(self) -> None:
        self.qsettings.sync()

    # -- typed settings -------------------------------------------------------------------------

    def _int(self, key: str, low: int, high: int) -> int:
        raw = self.qsettings.value(key, self.DEFAULTS[key])
        try:
            value = int(raw) if isinstance(raw, int | float) else int(str(raw))
        except (TypeError, ValueError):
            return int(self.DEFAULTS[key])
        return min(high, max(low, value))

    def _bool(self, key: str) -> bool:
        raw = self.qsettings.value(key, self.DEFAULTS[key])
        if isinstance(raw, str):
            return raw.lower() in ("1", "true", "yes", "on")
        return bool(raw)

    @property
    def concurrency(self) -> int:
        return self._int("concurrency", 1, 64)

    @concurrency.setter
    def concurrency(self, value: int) -> None:
        self.qsettings.setValue("concurrency", int(value))

    @property
    def retention(self) -> timedelta | None:
        """How long finished jobs are kept; None (stored as 0 days) keeps them all."""
        from datetime import timedelta  # (read with the store, not by the first window)

        days = self._int("retention_days", 0, 36500)
        return None if days == 0 else timedelta(days=days)

    @retention.setter
    def retention(self, value: timedelta | None) -> None:
        days = 0 if value is None else max(1, round(value.total_seconds() / 86400))
        self.qsettings.setValue("retention_days", days)

    @property
    def notifications(self) -> bool:
        return self._bool("notifications")

    @notifications.setter
    def notifications(self, value: bool) -> None:
        self.qsettings.setValue("notifications", bool(value))

    @property
    def notify_after_s(self) -> float:
        return float(self._int("notify_after_s", 0, 86400))

    @notify_after_s.setter
    def notify_after_s(self, value: float) -> None:
        self.qsettings.setValue("notify_after_s", float(value))

    @property
    def taskbar_corner(self) -> str:
        raw = str(self.qsettings.value("taskbar/corner", self.DEFAULTS["taskbar/corner"]))
        corners = ("top-left", "top-right", "bottom-left", "bottom-right")
        return raw if raw in corners else str(self.DEFAULTS["taskbar/corner"])

    @taskbar_corner.setter
    def taskbar_corner(self, value: str) -> None:
        self.qsettings.setValue("taskbar/corner", value)

    @property
    def keep_finished_ms(self) -> int:
        return self._int("taskbar/keep_finished_ms", 0, 600_000)

    @keep_finished_ms.setter
    def keep_finished_ms(self, value: int) -> None:
        self.qsettings.setValue("taskbar/keep_finished_ms", int(value))

    @property
    def taskbar_visible(self) -> bool:
        return self._bool("taskbar/visible")

    @taskbar_visible.setter
    def taskbar_visible(self, value: bool) -> None:
        self.qsettings.setValue("taskbar/visible", bool(value))

    @property
    def taskbar_always_show(self) -> bool:
        """Keep the taskbar on screen even when nothing runs (else it hides when idle)."""
        return self._bool("taskbar/always_show")

    @taskbar_always_show.setter
    def taskbar_always_show(self, value: bool) -> None:
        self.qsettings.setValue("taskbar/always_show", bool(value))

    @property
    def close_hint_shown(self) -> bool:
        """True once the user was told that closing the window leaves Jobdeck in the tray."""
        return self._bool("tray/close_hint_shown")

    @close_hint_shown.setter
    def close_hint_shown(self, value: bool) -> None:
        self.qsettings.setValue("tray/close_hint_shown", bool(value))

    @property
    def tray_animate(self) -> bool:
        """Turn the tray icon's busy ring (a few frames a second); False: a still ring."""
        return self._bool("tray/animate")

    @tray_animate.setter
    def tray_animate(self, value: bool) -> None:
        self.qsettings.setValue("tray/animate", bool(value))

    @property
    def sleep_inhibit(self) -> str:
        """Keep the computer awake: "off", "any" (while any job runs) or "long" (while a job
        has run longer than :attr:`sleep_inhibit_after_min`)."""
        raw = str(self.qsettings.value("sleep/inhibit", self.DEFAULTS["sleep/inhibit"]))
        return raw if raw in ("off", "any", "long") else str(self.DEFAULTS["sleep/inhibit"])

    @sleep_inhibit.setter
    def sleep_inhibit(self, value: str) -> None:
        self.qsettings.setValue("sleep/inhibit", str(value))

    @property
    def sleep_inhibit_after_min(self) -> int:
        return self._int("sleep/inhibit_after_min", 1, 24 * 60)

    @sleep_inhibit_after_min.setter
    def sleep_inhibit_after_min(self, value: int) -> None:
        self.qsettings.setValue("sleep/inhibit_after_min", int(value))

    @property
    def stall_after_min(self) -> int:
        """Minutes without progress or output after which a running job is stalled (a job
        type's own ``stall_after`` wins)."""
        return self._int("jobs/stall_after_min", 1, 7 * 24 * 60)

    @stall_after_min.setter
    def stall_after_min(self, value: int) -> None:
        self.qsettings.setValue("jobs/stall_after_min", int(value))

    # -- the local API (see jobdeck.api) --------------------------------------------------------

    @property
    def api_listen_port(self) -> int:
        """The localhost TCP port the API and the browser board listen on; 0: off (the Unix
        socket is always on)."""
        return self._int("api/listen_port", 0, 65535)

    @api_listen_port.setter
    def api_listen_port(self, value: int) -> None:
        self.qsettings.setValue("api/listen_port", int(value))

    # -- a Dask cluster (see jobdeck.runtime.executors.dask_cluster) ------------------------------

    @property
    def dask_scheduler(self) -> str:
        """The Dask scheduler (``tcp://host:8786``) on whose cluster the job types that ask
        for Dask run; empty: none, they run here (``--dask`` wins for one launch)."""
        value = self.qsettings.value("cluster/dask_scheduler", "")
        return value.strip() if isinstance(value, str) else ""

    @dask_scheduler.setter
    def dask_scheduler(self, value: str) -> None:
        self.qsettings.setValue("cluster/dask_scheduler", str(value).strip())
