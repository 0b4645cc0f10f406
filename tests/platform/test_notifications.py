"""Notifier against a notification server on a private session bus."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtDBus import QDBusConnection

from jobdeck.platform.notifications import Notifier, Urgency

from .dbus_fakes import FakeNotificationServer, FakeService, Method

Connect = Callable[[str], QDBusConnection]


class Balloons:
    """Stands in for the tray balloon (the last-resort fallback)."""

    def __init__(self) -> None:
        self.shown: list[tuple[str, str, Urgency]] = []

    def __call__(self, title: str, body: str, urgency: Urgency) -> None:
        self.shown.append((title, body, urgency))


@pytest.fixture
def balloons() -> Balloons:
    return Balloons()


def test_a_failure_reaches_the_server_with_its_exact_signature(
    qtbot: Any, connect_bus: Connect, balloons: Balloons
) -> None:
    server = FakeNotificationServer(connect_bus("server"), ("body", "actions", "persistence"))
    notifier = Notifier(balloons, bus=connect_bus("app"))
    notifier.notify(
        "Failed: Copy photos",
        "exit status 1",
        urgency=Urgency.CRITICAL,
        actions=["retry"],
        job_id="JOB1",
    )
    qtbot.waitUntil(lambda: len(server.calls_to("Notify")) == 1, timeout=10_000)
    [call] = server.calls_to("Notify")
    assert call.signature == "susssasa{sv}i"  # uint32 replaces_id, byte urgency: as specified
    [sent] = server.notifications
    assert sent["app_name"] == "Jobdeck"
    assert sent["app_icon"].endswith("jobdeck.svg") and os.path.isfile(sent["app_icon"])
    assert sent["replaces_id"] == 0
    assert sent["summary"] == "Failed: Copy photos"
    assert sent["body"] == "exit status 1"
    assert sent["actions"] == ["default", "Open", "retry", "Retry"]
    assert sent["hints"] == {"urgency": 2, "desktop-entry": "jobdeck"}
    assert balloons.shown == []
    assert notifier.capabilities == {"body", "actions", "persistence"}
    notifier.close()
    server.stop()


def test_clicking_retry_or_the_notification_names_the_job(
    qtbot: Any, connect_bus: Connect, balloons: Balloons
) -> None:
    server = FakeNotificationServer(connect_bus("server"))
    notifier = Notifier(balloons, bus=connect_bus("app"))
    notifier.notify("Failed: A", "boom", actions=["open", "retry"], job_id="JOB-A")
    notifier.notify("Done: B", "ok", actions=["open"], job_id="JOB-B")
    qtbot.waitUntil(lambda: len(server.calls_to("Notify")) == 2, timeout=10_000)
    first_actions = server.notifications[0]["actions"]
    assert first_actions == ["default", "Open", "open", "Open", "retry", "Retry"]

    seen: list[tuple[str, str]] = []
    notifier.actionInvoked.connect(lambda action, job: seen.append((action, job)))
    # A click on another application's notification (id 99) must not reach us; signals from
    # one connection arrive in order, so once the later clicks arrived, it was ignored.
    server.click(99, "retry")
    server.click(1, "retry")
    server.click(2, "default")
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=10_000)
    assert seen == [("retry", "JOB-A"), ("open", "JOB-B")]
    notifier.close()
    server.stop()


def test_a_server_without_actions_gets_none(
    qtbot: Any, connect_bus: Connect, balloons: Balloons
) -> None:
    server = FakeNotificationServer(connect_bus("server"), ("body",))
    notifier = Notifier(balloons, bus=connect_bus("app"))
    notifier.notify("Done: x", "ok", actions=["open"], job_id="J")
    qtbot.waitUntil(lambda: len(server.notifications) == 1, timeout=10_000)
    assert server.notifications[0]["actions"] == []
    assert balloons.shown == []
    notifier.close()
    server.stop()


def test_body_markup_is_escaped_only_where_the_server_reads_markup(
    qtbot: Any, connect_bus: Connect, balloons: Balloons
) -> None:
    server = FakeNotificationServer(connect_bus("server"), ("body", "body-markup"))
    notifier = Notifier(balloons, bus=connect_bus("app"))
    notifier.notify("Failed: grep", "pattern <a&b> not found")
    qtbot.waitUntil(lambda: len(server.notifications) == 1, timeout=10_000)
    assert server.notifications[0]["body"] == "pattern &lt;a&amp;b&gt; not found"
    assert server.refused == []
    notifier.close()
    server.stop()


def test_without_a_server_the_tray_balloon_is_the_last_resort(
    qtbot: Any, connect_bus: Connect, balloons: Balloons
) -> None:
    notifier = Notifier(balloons, bus=connect_bus("app"))
    assert not notifier.server_available()
    notifier.notify("Failed: x", "why", urgency=Urgency.CRITICAL, job_id="J")
    assert balloons.shown == [("Failed: x", "why", Urgency.CRITICAL)]
    notifier.close()


def test_without_a_session_bus_it_falls_back_quietly(balloons: Balloons, qapp: Any) -> None:
    notifier = Notifier(balloons, bus=None)
    notifier.notify("Done: x", "ok")
    assert balloons.shown == [("Done: x", "ok", Urgency.NORMAL)]
    Notifier(None, bus=None).notify("dropped", "no fallback: only a debug log")
    notifier.close()


def test_a_server_refusing_the_call_falls_back(
    qtbot: Any, connect_bus: Connect, balloons: Balloons
) -> None:
    interface = "org.freedesktop.Notifications"
    server = FakeService(
        connect_bus("server"),
        interface,
        "/org/freedesktop/Notifications",
        [
            Method(interface, "GetCapabilities", "", lambda c: [["body"]]),
            Method(interface, "Notify", "x", lambda c, *a: []),  # refuses every real call
        ],
    )
    notifier = Notifier(balloons, bus=connect_bus("app"))
    notifier.notify("Failed: x", "why")
    qtbot.waitUntil(lambda: balloons.shown == [("Failed: x", "why", Urgency.NORMAL)], timeout=9000)
    assert [c.signature for c in server.refused] == ["susssasa{sv}i"]
    notifier.close()
    server.stop()


def test_a_restarted_server_is_asked_again_for_its_capabilities(
    qtbot: Any, connect_bus: Connect, balloons: Balloons
) -> None:
    first = FakeNotificationServer(connect_bus("server1"), ("body",))
    notifier = Notifier(balloons, bus=connect_bus("app"))
    notifier.notify("one", "1", job_id="J1", actions=["retry"])
    qtbot.waitUntil(lambda: len(first.notifications) == 1, timeout=10_000)
    assert first.notifications[0]["actions"] == []
    assert first.refused == []
    first.stop()
    qtbot.waitUntil(lambda: notifier.capabilities is None, timeout=10_000)

    # Later in the session a server with actions takes the name (e.g. a shell restart).
    second = FakeNotificationServer(connect_bus("server2"), ("body", "actions"))
    notifier.notify("two", "2", job_id="J2", actions=["retry"])
    qtbot.waitUntil(lambda: len(second.notifications) == 1, timeout=10_000)
    assert second.notifications[0]["actions"] == ["default", "Open", "retry", "Retry"]
    assert balloons.shown == []
    notifier.close()
    second.stop()


def test_unknown_actions_are_refused_by_name(balloons: Balloons, qapp: Any) -> None:
    notifier = Notifier(balloons, bus=None)
    with pytest.raises(ValueError, match=r"unknown notification action\(s\) \['reboot'\]"):
        notifier.notify("x", "y", actions=["open", "reboot"])
    assert balloons.shown == []
