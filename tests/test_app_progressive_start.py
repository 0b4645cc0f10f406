"""The progressive start (issue 15 item 6): the window is painted before the store is
imported and opened, honestly empty ("Opening history…", Start disabled), then fills with
the store's jobs, and everything works from then on. A store that cannot be opened is still
reported as before, and the window goes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QSystemTrayIcon

from jobdeck.app import JobdeckApp, QuitChoice
from jobdeck.core import JobStatus
from jobdeck.core.schema import SCHEMA_VERSION
from jobdeck.settings import AppSettings

from .bench.realistic_store import build_store

JOBS = 40


@pytest.fixture
def settings(tmp_path: Path) -> AppSettings:
    return AppSettings(QSettings(str(tmp_path / "jobdeck.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "jobs.db"
    build_store(path, JOBS, newest_ts=time.time() - 60, seed=3)
    return path


@pytest.fixture
def unopened(qapp: QApplication, db: Path, settings: AppSettings) -> Iterator[JobdeckApp]:
    """The app as ``run_app`` makes it: the window first, the store not opened yet."""
    quit_calls: list[int] = []
    app = JobdeckApp(
        qapp,
        db,
        settings=settings,
        confirm_quit=lambda running, processes: QuitChoice.CANCEL_AND_QUIT,
        on_quit=lambda: quit_calls.append(1),
        open_store=False,
    )
    yield app
    app.shutdown()


def _close_the_dialog_once_up(read: Callable[[QMessageBox], None]) -> None:
    """Once the app's modal message box is up (looked for every 20 ms, up to 10 s, from
    inside the app's own event loop), let ``read`` see it, then close it as the user
    would."""
    looks = iter(range(500))

    def close_the_dialog() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):  # not up yet
            if next(looks, None) is not None:
                QTimer.singleShot(20, close_the_dialog)
            return
        read(box)
        box.close()

    QTimer.singleShot(0, close_the_dialog)


def test_the_window_shows_before_the_store_opens_then_fills_and_works(
    unopened: JobdeckApp, qtbot
) -> None:
    app, window = unopened, unopened.window
    assert app.show_first_frame(), "the window was not painted"
    # Painted with nothing from the store, saying so; nothing there can fail.
    assert not app.store_open and window.opening
    assert window.model.rowCount() == 0
    assert window.statusBar().currentMessage() == "Opening history\u2026"
    form = window.select_job_type("countdown")
    assert not form.start_button.isEnabled()
    assert form.submit() is None  # Ctrl+Return meanwhile: nothing queued, no error
    assert window.show_job("01NOSUCHJOB") is False

    app.open_store()
    with qtbot.waitSignal(app.cleanupFinished, timeout=10_000):
        app.start()  # retention's clean-up starts once the history shows its jobs
    qtbot.waitUntil(lambda: window.model.rowCount() == JOBS, timeout=5000)
    assert not window.opening and window.statusBar().currentMessage() == "Ready"
    assert form.start_button.isEnabled()

    # The launch form queues, the history shows the job, the runner runs it.
    form.fields["seconds"].set_value(0.2)
    qtbot.mouseClick(form.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.model.rowCount() == JOBS + 1, timeout=5000)
    newest = window.model.job_at(0)
    assert newest.title.startswith("Countdown") or newest.type == "countdown"
    # ... which the taskbar, made when the store opened, shows too.
    qtbot.waitUntil(lambda: newest.id in app.taskbar.job_ids(), timeout=5000)
    qtbot.waitUntil(
        lambda: app.tracker.get_job(newest.id).status is JobStatus.COMPLETED,
        timeout=10_000,
    )
    assert window.show_job(newest.id)
    assert window.details.job is not None and window.details.job.id == newest.id


def _tray(monkeypatch: pytest.MonkeyPatch, available: bool) -> None:
    """Whether the desktop has a system tray (the offscreen platform has none)."""
    monkeypatch.setattr(QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: available))


def test_closing_the_window_before_the_store_opens_quits_without_opening_it(
    unopened: JobdeckApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tray(monkeypatch, False)
    assert unopened.show_first_frame()
    unopened.window.close()  # no tray: closing is quitting
    assert unopened.quitting and not unopened.store_open
    assert not unopened.window.isVisible()


def test_closing_the_window_before_the_store_opens_hides_it_to_the_tray_as_once_open(
    unopened: JobdeckApp, monkeypatch: pytest.MonkeyPatch, settings: AppSettings, qtbot
) -> None:
    """Beside a tray, closing the window that says "Opening history…" hides it, as closing
    does once the store is open: the app opens the store and stays in the tray, where its
    icon says so once (it quit, as if there were no tray; QA sweep)."""
    _tray(monkeypatch, True)
    app = unopened
    assert app.show_first_frame()
    app.window.close()
    assert not app.quitting and not app.window.isVisible()
    app.open_store()
    told: list[str] = []
    monkeypatch.setattr(app.tray, "tell", lambda title, body: told.append(title))
    app.start()
    assert app.tray.available and not app.quitting
    assert not app.window.isVisible()  # start() did not show it again
    assert told == ["Jobdeck is still running"] and settings.close_hint_shown
    qtbot.waitUntil(lambda: app.window.model.rowCount() == JOBS, timeout=5000)
    app.show_window()  # the tray icon's "Show window" brings it back, with the jobs
    assert app.window.isVisible() and not app.window.opening


def test_closed_before_the_store_opens_and_no_tray_icon_came_it_quits(
    unopened: JobdeckApp, monkeypatch: pytest.MonkeyPatch, qtbot
) -> None:
    """The desktop said it had a tray, but no icon could be shown once the store was open:
    nothing could bring the window back, so the close quits after all."""
    _tray(monkeypatch, True)
    assert unopened.show_first_frame()
    unopened.window.close()
    _tray(monkeypatch, False)
    unopened.open_store()
    assert not unopened.tray.available
    unopened.start()
    qtbot.waitUntil(lambda: unopened.quitting, timeout=5000)


def _too_new(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE jobs (id TEXT)")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()


def test_a_store_that_cannot_be_opened_is_said_in_a_dialog_where_the_window_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, qapp: QApplication
) -> None:
    """``jobdeck --db newer.db`` started from the desktop: the window shows first, then a
    dialog over it says why the history cannot be opened (nobody reads stderr there) and,
    once the user closes it, the window goes and the error is raised for the CLI to print
    (its one line and exit status: the next test)."""
    import jobdeck.app as app_module
    from jobdeck.core.store_errors import StoreTooNew

    db = tmp_path / "newer.db"
    _too_new(db)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # no Jobdeck answers there
    said: list[tuple[str, str, bool]] = []

    def read(box: QMessageBox) -> None:
        window = box.parentWidget()
        said.append((box.text(), box.informativeText(), window is not None and window.isVisible()))

    _close_the_dialog_once_up(read)
    with pytest.raises(StoreTooNew):
        app_module.run_app(str(db))
    assert said, "no dialog"
    text, why, over_the_window = said[0]
    assert text == "Jobdeck cannot open its job history."
    assert "upgrade Jobdeck" in why and str(db) in why, why
    assert over_the_window
    assert not [w for w in QApplication.topLevelWidgets() if w.isVisible()], "a window stayed"


def test_a_store_that_cannot_be_opened_is_said_even_when_the_window_was_closed_to_the_tray(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, qapp: QApplication
) -> None:
    """Closed to the tray while it said "Opening history…", the app says in a dialog that
    the store cannot be opened, rather than going without a word."""
    import jobdeck.app as app_module
    from jobdeck.core.store_errors import StoreTooNew

    _tray(monkeypatch, True)
    db = tmp_path / "newer.db"
    _too_new(db)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # no Jobdeck answers there
    first_frame = JobdeckApp.show_first_frame

    def shown_then_closed(self: JobdeckApp) -> bool:
        painted = first_frame(self)
        self.window.close()  # the user closes it while the store opens
        assert not self.quitting and not self.window.isVisible()
        return painted

    monkeypatch.setattr(JobdeckApp, "show_first_frame", shown_then_closed)
    said: list[str] = []
    _close_the_dialog_once_up(lambda box: said.append(box.text()))
    with pytest.raises(StoreTooNew):
        app_module.run_app(str(db))
    assert said == ["Jobdeck cannot open its job history."]


def test_a_store_that_cannot_be_opened_is_one_line_and_exit_1_from_the_cli(
    tmp_path: Path,
) -> None:
    """``jobdeck --tray --db newer.db`` (as a command that needs the app starts it): no
    window, so no dialog; the error is printed as before (one line, no traceback), exit 1."""
    db = tmp_path / "newer.db"
    _too_new(db)
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    for sub in ("config", "data", "cache", "runtime"):
        (tmp_path / sub).mkdir(mode=0o700)
        key = "XDG_RUNTIME_DIR" if sub == "runtime" else f"XDG_{sub.upper()}_HOME"
        env[key] = str(tmp_path / sub)
    done = subprocess.run(
        [sys.executable, "-m", "jobdeck", "--tray", "--db", str(db)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("jobdeck: ") and "upgrade Jobdeck" in last, done.stderr


@pytest.mark.parametrize("tray", [False, True], ids=["jobdeck", "jobdeck --tray"])
def test_a_second_launch_while_the_first_is_starting_shows_no_window_of_its_own(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tray: bool
) -> None:
    """The first Jobdeck is starting and does not answer yet (its API starts once its
    window is painted): a second ``jobdeck`` waits for it and raises its window, instead of
    painting a window of its own that vanishes a moment later. A second one started in the
    tray (twenty ``jobdeck run`` at once, none running: each starts one) raises nothing."""
    import jobdeck.app as app_module
    from jobdeck.api.paths import ApiPaths

    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))  # no Jobdeck answers there
    paths = ApiPaths.for_store(str(db))
    paths.make_directory()
    first = subprocess.Popen(  # the first Jobdeck, starting: it holds the start lock
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time\n"
            "f = open(sys.argv[1], 'w'); fcntl.flock(f, fcntl.LOCK_EX)\n"
            "print('locked', flush=True); time.sleep(60)",
            str(paths.directory / f"api-{paths.key}.lock"),  # (paths.start_lock)
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "locked"
        waited: list[tuple[ApiPaths, bool]] = []

        def first_app_answers(paths: ApiPaths, *, raise_window: bool = True) -> int:
            waited.append((paths, raise_window))
            return 0  # it answered (and raised its window when asked to)

        def no_window(*args: object, **kwargs: object) -> None:
            raise AssertionError("the second launch made a window of its own")

        monkeypatch.setattr(app_module, "wait_for_starting_app", first_app_answers)
        monkeypatch.setattr(app_module, "JobdeckApp", no_window)
        assert app_module.run_app(str(db), tray=tray) == 0
        assert waited == [(paths, not tray)]
    finally:
        first.kill()
        first.wait()
    # The first one gone, the next launch takes the lock (and keeps it while it runs).
    assert app_module.claim_start(paths)


def _hold_start_lock(paths, *, listen: bool = False) -> subprocess.Popen[str]:
    """A process that holds ``paths``' start lock, as a Jobdeck that is starting does, and
    does nothing (a hung one). ``listen``: it also listens on the API socket and never
    answers (a Jobdeck whose event loop is held)."""
    paths.make_directory()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, socket, sys, time\n"
            "f = open(sys.argv[1], 'w'); fcntl.flock(f, fcntl.LOCK_EX)\n"
            "if sys.argv[2]:\n"
            "    s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[2]); s.listen(64)\n"
            "print('locked', flush=True); time.sleep(60)",
            str(paths.start_lock),
            str(paths.socket) if listen else "",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def _release(holder: subprocess.Popen[str]) -> None:
    holder.kill()
    holder.wait()


def test_a_second_launch_waits_for_a_slow_first_however_long_it_takes(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first Jobdeck takes a minute to answer (a big store on a slow disk: it keeps
    using the CPU or the disk): a second ``jobdeck`` still raises its window and exits 0.
    It gave up after ten seconds, painted a window of its own and took the store, and the
    first one's window vanished (QA sweep); now it says on stderr that it waits."""
    import jobdeck.api.launch as launch
    import jobdeck.app as app_module
    from jobdeck.api.paths import ApiPaths

    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    paths = ApiPaths.for_store(str(db))
    holder = _hold_start_lock(paths)
    try:
        now = [0.0]  # each look costs a second of a clock of our own: no real minute passes
        asked: list[bool] = []

        def first_answers_after_a_minute(paths: ApiPaths, *, raise_window=True, **how):
            asked.append(raise_window)
            now[0] += 1.0
            return 0 if now[0] >= 60 else None

        def no_window(*args: object, **kwargs: object) -> None:
            raise AssertionError("the second launch made a window of its own")

        monkeypatch.setattr(launch.time, "monotonic", lambda: now[0])
        monkeypatch.setattr(launch.time, "sleep", lambda s: None)
        monkeypatch.setattr(launch, "show_running_app", first_answers_after_a_minute)
        work = iter(range(10**6))  # its CPU and disk counters keep moving: it is busy
        monkeypatch.setattr(launch, "signs_of_life", lambda pid: ("D", next(work)))
        monkeypatch.setattr(app_module, "JobdeckApp", no_window)
        assert app_module.run_app(str(db)) == 0
        assert now[0] == 60 and all(asked)  # its window raised once it answered
        waiting = capsys.readouterr().err.splitlines()
        assert waiting == [
            "jobdeck: waiting for the Jobdeck that is starting on this store to answer "
            f"(pid {holder.pid})"
        ]
    finally:
        holder.kill()
        holder.wait()


def test_a_second_launch_starts_itself_when_the_starting_first_goes_without_answering(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first Jobdeck dies while starting: the second stops waiting, holds the start
    lock and starts Jobdeck itself."""
    from jobdeck.api.launch import claim_start, wait_for_starting_app
    from jobdeck.api.paths import ApiPaths

    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    paths = ApiPaths.for_store(str(db))
    holder = _hold_start_lock(paths)
    try:
        assert not claim_start(paths)
        dies = threading.Timer(0.3, holder.kill)  # while the second waits
        dies.start()
        assert wait_for_starting_app(paths, poll=0.01) is None
        dies.join()
        assert claim_start(paths)  # this process holds it now
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def _fake_clock(monkeypatch: pytest.MonkeyPatch, launch) -> list[float]:
    """Time for ``launch`` that passes only when it sleeps (a second per nap), so that
    minutes of waiting take none; it fails the test rather than wait for ever."""
    now = [0.0]

    def nap(seconds: float) -> None:
        now[0] += 1.0
        assert now[0] < 1000, "the second launch waited for ever"

    monkeypatch.setattr(launch.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(launch.time, "sleep", nap)
    return now


def test_a_second_launch_names_a_first_that_hangs_while_starting_and_exits_1(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, qapp: QApplication
) -> None:
    """The first Jobdeck hangs while starting (holds the store, does nothing, never
    answers): a second ``jobdeck`` from the desktop waited for it for ever, showing
    nothing. Now, once the first has done nothing for IDLE_LIMIT, it says in a dialog (and
    on stderr) which process it is and what to do, and exits 1, painting no window of its
    own (the first keeps the store)."""
    import jobdeck.api.launch as launch
    import jobdeck.app as app_module
    from jobdeck.api.paths import ApiPaths

    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    paths = ApiPaths.for_store(str(db))
    holder = _hold_start_lock(paths)
    try:
        now = _fake_clock(monkeypatch, launch)

        def no_window(*args: object, **kwargs: object) -> None:
            raise AssertionError("the second launch made a window of its own")

        monkeypatch.setattr(app_module, "JobdeckApp", no_window)
        said: list[tuple[str, str]] = []
        looks = iter(range(500))

        def close_the_dialog() -> None:
            box = QApplication.activeModalWidget()
            if not isinstance(box, QMessageBox):  # not up yet
                if next(looks, None) is not None:
                    QTimer.singleShot(20, close_the_dialog)
                return
            said.append((box.text(), box.informativeText()))
            box.close()

        QTimer.singleShot(0, close_the_dialog)
        assert app_module.run_app(str(db)) == 1
        assert launch.IDLE_LIMIT <= now[0] <= launch.IDLE_LIMIT + 2
        assert said, "no dialog"
        text, why = said[0]
        assert text == "Jobdeck already runs on this history but does not answer."
        assert f"Jobdeck (pid {holder.pid}) has been starting on this store" in why, why
        assert "has done nothing" in why and f"kill {holder.pid}" in why, why
        assert holder.poll() is None  # left as it was
    finally:
        _release(holder)


def test_a_second_launch_names_a_stopped_first_and_says_how_to_resume_it(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first Jobdeck was stopped while starting (Ctrl+Z in its terminal): a second one
    (in the tray, as a command starts it) says so on stderr within a few seconds, with how
    to resume it, and exits 1."""
    import signal

    import jobdeck.api.launch as launch
    import jobdeck.app as app_module
    from jobdeck.api.lock_holder import signs_of_life
    from jobdeck.api.paths import ApiPaths

    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    paths = ApiPaths.for_store(str(db))
    holder = _hold_start_lock(paths)
    try:
        holder.send_signal(signal.SIGSTOP)
        while (signs_of_life(holder.pid) or ("T",))[0] not in ("T", "t"):
            threading.Event().wait(0.01)  # (the signal is delivered)
        now = _fake_clock(monkeypatch, launch)
        monkeypatch.setattr(app_module, "JobdeckApp", None)  # (no window: it would fail)
        assert app_module.run_app(str(db), tray=True) == 1
        assert now[0] <= launch.STOPPED_LIMIT + 2
        err = capsys.readouterr().err
        assert (
            f"jobdeck: Jobdeck (pid {holder.pid}) is starting on this store but is stopped" in err
        )
        assert f"kill -CONT {holder.pid}" in err, err
    finally:
        holder.send_signal(signal.SIGCONT)
        _release(holder)


def test_a_second_launch_names_a_first_that_listens_but_does_not_answer(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first Jobdeck accepts connections on its socket but answers none (its event
    loop is held): a second one says after SILENT_LIMIT that it seems hung, naming it, and
    exits 1 (short limits here; real time)."""
    import jobdeck.api.launch as launch
    import jobdeck.app as app_module
    from jobdeck.api.paths import ApiPaths

    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    paths = ApiPaths.for_store(str(db))
    holder = _hold_start_lock(paths, listen=True)
    try:
        monkeypatch.setattr(launch, "ANSWER_TIMEOUT", 0.2)
        monkeypatch.setattr(launch, "SILENT_LIMIT", 0.5)
        monkeypatch.setattr(launch, "IDLE_LIMIT", 60.0)  # (the silence is what is judged)
        monkeypatch.setattr(app_module, "JobdeckApp", None)
        started = time.monotonic()
        assert app_module.run_app(str(db), tray=True) == 1
        assert time.monotonic() - started < 10
        err = capsys.readouterr().err
        assert f"jobdeck: Jobdeck (pid {holder.pid}) runs on this store but has not answered" in err
        assert "seems hung" in err and f"kill {holder.pid}" in err, err
    finally:
        _release(holder)


def test_a_command_names_a_jobdeck_that_does_not_answer_instead_of_starting_another(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``jobdeck run -- true`` while the Jobdeck on the store accepts connections but
    answers none: the command took it for none running and started another, which waited
    (for ever, before the limit) behind it. Now it fails after ANSWER_TIMEOUT with a
    readable error that names the process (exit 3, no traceback); the job is queued
    nowhere, and no other Jobdeck is started."""
    from jobdeck.api.launch import TEST_LIMITS_ENV
    from jobdeck.api.paths import ApiPaths

    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    for sub in ("config", "data", "cache", "runtime"):
        (tmp_path / sub).mkdir(mode=0o700, exist_ok=True)
        key = "XDG_RUNTIME_DIR" if sub == "runtime" else f"XDG_{sub.upper()}_HOME"
        env[key] = str(tmp_path / sub)
    env[TEST_LIMITS_ENV] = "ANSWER_TIMEOUT=1"  # (5 s by default)
    monkeypatch.setenv("XDG_RUNTIME_DIR", env["XDG_RUNTIME_DIR"])
    paths = ApiPaths.for_store(str(db))
    holder = _hold_start_lock(paths, listen=True)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "jobdeck", "--db", str(db), "run", "--", "true"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 3, done.stderr
        assert "Traceback" not in done.stderr, done.stderr
        assert "starting Jobdeck" not in done.stderr, done.stderr  # no other one started
        said = done.stderr.strip().splitlines()[-1]
        assert said.startswith(
            f"jobdeck: Jobdeck (pid {holder.pid}) runs on this store but has not answered"
        ), said
        assert f"kill {holder.pid}" in said and "run the command again" in said, said
        assert not paths.start_log.exists()  # (where a started one writes)
    finally:
        _release(holder)


def test_a_command_fails_readably_when_the_jobdeck_starting_on_the_store_hangs(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``jobdeck run -- true`` (with a display) while a Jobdeck that hangs holds the store's
    start lock: the command started one in the tray, which waited for the hung one for ever
    (the command gave up after 30 s, saying only that its Jobdeck did not answer, and left
    it waiting). Now the command waits for the starting one itself, starting none, and
    after IDLE_LIMIT names the hung Jobdeck and says to run the command again (exit 3; it
    said "start jobdeck again", the words of a Jobdeck in the tray); the job is queued
    nowhere."""
    from jobdeck.api.launch import TEST_LIMITS_ENV
    from jobdeck.api.paths import ApiPaths

    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    for sub in ("config", "data", "cache", "runtime"):
        (tmp_path / sub).mkdir(mode=0o700, exist_ok=True)
        key = "XDG_RUNTIME_DIR" if sub == "runtime" else f"XDG_{sub.upper()}_HOME"
        env[key] = str(tmp_path / sub)
    env.update(DISPLAY=":99", QT_QPA_PLATFORM="offscreen")  # (a display: --tray is started)
    idle_limit = 1.0  # (10 s by default)
    env[TEST_LIMITS_ENV] = f"IDLE_LIMIT={idle_limit}"
    monkeypatch.setenv("XDG_RUNTIME_DIR", env["XDG_RUNTIME_DIR"])
    paths = ApiPaths.for_store(str(db))
    holder = _hold_start_lock(paths)
    try:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "jobdeck", "--db", str(db), "run", "--", "true"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert idle_limit <= time.monotonic() - started < idle_limit + 15
        assert done.returncode == 3, done.stderr
        assert "Traceback" not in done.stderr, done.stderr
        assert "starting Jobdeck" not in done.stderr, done.stderr  # none started
        said = done.stderr.strip().splitlines()[-1]
        assert said.startswith(
            f"jobdeck: Jobdeck (pid {holder.pid}) has been starting on this store"
        ), said
        assert f"kill {holder.pid}" in said and said.endswith("run the command again"), said
        assert holder.poll() is None
    finally:
        _release(holder)
    assert not paths.start_log.exists()  # (where a started one writes)
    assert not paths.socket.exists()  # no other Jobdeck took the store
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM jobs").fetchone()[0] == JOBS  # none queued
