"""The quit question as a user meets it: Ctrl+Q in the main window while jobs run or wait.
Its text follows the jobs while it is open (three that finish, a queued one that goes), it
says what happens to queued jobs (and, when only those are left, asks whether to keep or
cancel them), and once nothing is left it says so and Enter quits."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication, QPushButton

from jobdeck.app import JobdeckApp
from jobdeck.core import JobStatus
from jobdeck.settings import AppSettings
from jobdeck.ui.quit_dialog import QuitDialog

WAIT_MS = 30_000  # jobs of ~1 s each on a machine shared by other test runs


class Quit:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


@pytest.fixture
def quit_called() -> Quit:
    return Quit()


@pytest.fixture
def app(qapp: QApplication, tmp_path: Path, quit_called: Quit, qtbot) -> Iterator[JobdeckApp]:
    settings = AppSettings(QSettings(str(tmp_path / "jobdeck.ini"), QSettings.Format.IniFormat))
    settings.concurrency = 4
    jobdeck = JobdeckApp(
        qapp, tmp_path / "jobs.db", settings=settings, on_quit=quit_called, session_bus=None
    )  # (no confirm_quit: the real question)
    jobdeck.start()
    qtbot.waitExposed(jobdeck.window)
    yield jobdeck
    jobdeck.shutdown()


def press_ctrl_q_and(app: JobdeckApp, qtbot, while_open: Callable[[QuitDialog], None]) -> None:
    """Press Ctrl+Q in the main window; ``while_open(dialog)`` runs once the question shows
    (inside its modal loop). Whatever it raises, the dialog is closed (Stay), so a failing
    check ends the test instead of leaving a modal dialog open for ever."""
    failures: list[BaseException] = []

    def when_shown() -> None:
        box = app.quit_dialog
        if box is None or not box.isVisible():
            QTimer.singleShot(10, when_shown)
            return
        try:
            while_open(box)
        except BaseException as exc:
            failures.append(exc)
            box.reject()

    QTimer.singleShot(0, when_shown)
    app.window.activateWindow()
    qtbot.waitActive(app.window)
    qtbot.keyClick(app.window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    if failures:
        raise failures[0]


def texts(box: QuitDialog) -> str:
    return f"{box.text()} {box.informativeText()}"


def shown_buttons(box: QuitDialog) -> list[str]:
    return [b.text() for b in box.findChildren(QPushButton) if b.isVisibleTo(box)]


def cut_buttons(box: QuitDialog) -> list[str]:
    """The shown buttons narrower than their text needs."""
    return [
        b.text()
        for b in box.findChildren(QPushButton)
        if b.isVisibleTo(box) and b.width() < b.sizeHint().width()
    ]


def keep_screenshot(box: QuitDialog, name: str) -> None:
    """A grab of the dialog in $JOBDECK_SCREENSHOTS (for a person to look at)."""
    keep = os.environ.get("JOBDECK_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        assert box.grab().save(str(Path(keep) / f"{name}.png"))


def test_the_quit_question_follows_the_jobs_until_all_have_finished(
    app: JobdeckApp, quit_called: Quit, qtbot
) -> None:
    tracker = app.tracker
    three = [
        tracker.enqueue("countdown", {"seconds": 1.5}, title=f"Countdown {n}") for n in range(3)
    ]
    later = tracker.enqueue("countdown", {"seconds": 5}, title="Tonight", run_at=time.time() + 3600)
    qtbot.waitUntil(lambda: app.running_count() == 3, timeout=WAIT_MS)
    seen: dict[str, str] = {}

    def while_open(box: QuitDialog) -> None:
        seen["first"] = texts(box)
        seen["first buttons"] = " | ".join(shown_buttons(box))
        seen["first default"] = box.defaultButton().text()
        keep_screenshot(box, "quit-3-running-1-queued")
        # The three finish while the question is open: it says so, the queued job waits.
        qtbot.waitUntil(lambda: box.text() == "No job is running; 1 is queued.", timeout=WAIT_MS)
        seen["after"] = texts(box)
        seen["after buttons"] = " | ".join(shown_buttons(box))
        # the button shown since (keep it queued) fits: none is cut
        qtbot.waitUntil(lambda: cut_buttons(box) == [], timeout=2000)
        keep_screenshot(box, "quit-none-running-1-queued")
        tracker.cancel_job(later.id)  # the queued one goes too (from the history, a terminal)
        qtbot.waitUntil(lambda: box.text() == "All jobs have finished.", timeout=WAIT_MS)
        seen["last"] = texts(box)
        seen["last default"] = box.defaultButton().text()
        keep_screenshot(box, "quit-all-finished")
        qtbot.keyClick(box, Qt.Key.Key_Return)  # Enter: quit, as the user asked

    press_ctrl_q_and(app, qtbot, while_open)

    assert seen["first"].startswith("3 jobs are still running. 1 more is queued.")
    assert "The queued job stays queued and starts when Jobdeck runs again." in seen["first"]
    assert set(seen["first buttons"].split(" | ")) == {"Cancel them and quit", "Stay"}
    assert seen["first default"] == "Stay"  # Enter would cancel nothing by mistake
    assert "Keep it queued to start it when Jobdeck runs again, or cancel it." in seen["after"]
    assert set(seen["after buttons"].split(" | ")) == {
        "Keep it queued and quit",
        "Cancel it and quit",
        "Stay",
    }
    assert "Nothing is running or queued" in seen["last"]
    assert seen["last default"] == "Quit"
    assert quit_called.calls == 1 and app.quitting
    with type(tracker).open(tracker.store.path, read_only=True) as reader:
        for job in three:
            stored = reader.get_job(job.id)
            assert stored is not None and stored.status is JobStatus.COMPLETED  # none cancelled


def test_a_job_that_starts_while_the_question_is_open_is_counted(
    app: JobdeckApp, quit_called: Quit, qtbot
) -> None:
    first = app.tracker.enqueue("countdown", {"seconds": 60}, title="Long")
    qtbot.waitUntil(lambda: app.running_count() == 1, timeout=WAIT_MS)
    seen: list[str] = []

    def while_open(box: QuitDialog) -> None:
        seen.append(box.text())
        app.tracker.enqueue("countdown", {"seconds": 60}, title="Queued from a terminal")
        qtbot.waitUntil(lambda: box.text() == "2 jobs are still running.", timeout=WAIT_MS)
        seen.append(box.quit_button.text())
        qtbot.keyClick(box, Qt.Key.Key_Escape)  # Escape: stay

    press_ctrl_q_and(app, qtbot, while_open)
    assert seen == ["1 job is still running.", "Cancel them and quit"]
    assert quit_called.calls == 0 and not app.quitting
    assert app.tracker.get_job(first.id).status is JobStatus.RUNNING  # type: ignore[union-attr]


def test_programs_can_be_kept_and_the_question_says_what_happens_to_the_rest(
    app: JobdeckApp, quit_called: Quit, qtbot
) -> None:
    if shutil.which("sleep") is None:
        pytest.skip("needs sleep(1)")
    program = app.tracker.enqueue("command", {"argv": ["sleep", "30"]}, title="A program")
    app.tracker.enqueue("countdown", {"seconds": 30}, title="In Jobdeck")
    qtbot.waitUntil(lambda: app.running_count() == 2, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: app.quit_counts().processes == 1, timeout=WAIT_MS)
    seen: dict[str, str] = {}

    def while_open(box: QuitDialog) -> None:
        seen["text"] = texts(box)
        seen["buttons"] = " | ".join(shown_buttons(box))
        keep_screenshot(box, "quit-program-and-thread")
        app.tracker.cancel_job(program.id)  # the program ends: nothing left to keep
        qtbot.waitUntil(lambda: not box.keep_button.isVisible(), timeout=WAIT_MS)
        seen["then"] = box.text()
        seen["then more"] = box.informativeText()
        qtbot.keyClick(box, Qt.Key.Key_Escape)

    press_ctrl_q_and(app, qtbot, while_open)
    assert seen["text"].startswith("2 jobs are still running.")
    assert "Jobdeck picks them up again when it next starts" in seen["text"]
    assert "The other running job is cancelled either way." in seen["text"]
    assert "Keep running in the background and quit" in seen["buttons"]
    assert seen["then"] == "1 job is still running." and seen["then more"] == ""
    assert quit_called.calls == 0


def test_quitting_from_elsewhere_while_the_question_is_open_closes_it(
    app: JobdeckApp, quit_called: Quit, qtbot
) -> None:
    """SIGTERM (or Ctrl+C in the terminal) quits without asking: an open question goes
    with the app, and a second Quit (the tray's menu) raises it instead of asking twice."""
    job = app.tracker.enqueue("countdown", {"seconds": 60}, title="Long")
    qtbot.waitUntil(lambda: app.running_count() == 1, timeout=WAIT_MS)
    seen: list[object] = []

    def while_open(box: QuitDialog) -> None:
        app.request_quit()  # the tray's Quit while the question is open: the same one
        seen.append(app.quit_dialog is box and box.isVisible())
        app.quit(0)  # what SIGTERM does (see quit_on_signals)
        seen.append(box.isVisible())

    press_ctrl_q_and(app, qtbot, while_open)
    assert seen == [True, False]
    assert quit_called.calls == 1 and app.quit_dialog is None and app.tracker.closed
    with type(app.tracker).open(app.tracker.store.path, read_only=True) as reader:
        stored = reader.get_job(job.id)
        assert stored is not None and stored.status is JobStatus.CANCELLED


@pytest.mark.parametrize("answer", ["Keep them queued and quit", "Cancel them and quit", "Enter"])
def test_quitting_with_only_queued_jobs_asks_whether_to_keep_or_cancel_them(
    app: JobdeckApp, quit_called: Quit, qtbot, answer: str
) -> None:
    """Nothing runs, two jobs wait for later: Ctrl+Q asks what to do with them. Keeping
    them (Enter) leaves them queued for the next start; cancelling them cancels both."""
    tracker = app.tracker
    tonight = time.time() + 3600
    later = [
        tracker.enqueue("countdown", {"seconds": 5}, title=f"Tonight {n}", run_at=tonight)
        for n in range(2)
    ]
    seen: dict[str, str] = {}

    def while_open(box: QuitDialog) -> None:
        seen["text"] = texts(box)
        seen["buttons"] = " | ".join(shown_buttons(box))
        seen["default"] = box.defaultButton().text()
        keep_screenshot(box, "quit-only-queued")
        if answer == "Enter":
            qtbot.keyClick(box, Qt.Key.Key_Return)
            return
        button = next(b for b in box.findChildren(QPushButton) if b.text() == answer)
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)

    press_ctrl_q_and(app, qtbot, while_open)
    assert seen["text"].startswith("No job is running; 2 are queued.")
    assert "Keep them queued to start them when Jobdeck runs again, or cancel them." in seen["text"]
    assert set(seen["buttons"].split(" | ")) == {
        "Keep them queued and quit",
        "Cancel them and quit",
        "Stay",
    }
    assert seen["default"] == "Keep them queued and quit"  # Enter drops nothing
    assert quit_called.calls == 1 and app.tracker.closed
    expected = JobStatus.CANCELLED if answer == "Cancel them and quit" else JobStatus.PENDING
    with type(tracker).open(tracker.store.path, read_only=True) as reader:
        assert [reader.get_job(job.id).status for job in later] == [expected, expected]  # type: ignore[union-attr]


def test_staying_with_only_queued_jobs_keeps_the_app_and_the_jobs(
    app: JobdeckApp, quit_called: Quit, qtbot
) -> None:
    later = app.tracker.enqueue("countdown", {"seconds": 5}, run_at=time.time() + 3600)
    press_ctrl_q_and(app, qtbot, lambda box: qtbot.keyClick(box, Qt.Key.Key_Escape))
    assert quit_called.calls == 0 and not app.quitting
    assert app.tracker.get_job(later.id).status is JobStatus.PENDING  # type: ignore[union-attr]
