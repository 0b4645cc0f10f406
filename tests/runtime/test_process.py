"""Tests for jobdeck.runtime.process (checks before start), .supervised (a program under
its supervisor: output, exit, stopping) and .process_tree: real processes, no Qt.

Every program is started through the ``spawn`` fixture, which tags it (and so all of its
descendants) with a unique environment variable and kills anything still carrying the tag
when the test ends, so no test leaves processes behind.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from jobdeck.core.params import ParamError
from jobdeck.core.process_spec import ProcessSpec
from jobdeck.runtime import program_watcher
from jobdeck.runtime.log_tail import TAIL_LINES
from jobdeck.runtime.process_launch import ProcessStartError, prepare_command
from jobdeck.runtime.program_watcher import ProgramEnd, ProgramWatcher, SupervisorRecords
from jobdeck.runtime.supervisor import process_start_time
from jobdeck.runtime.watcher_threads import WatcherThreads

MARKER = "JOBDECK_TEST_PROCESS_MARKER"
TIMEOUT = 30.0  # an upper bound for waits that normally take milliseconds (loaded CI)


class Recorder:
    """Collects on_line / on_exit calls and lets a test wait for them."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.results: list[ProgramEnd] = []
        self.exited = threading.Event()
        self._changed = threading.Condition()

    def on_line(self, line: str) -> None:
        with self._changed:
            self.lines.append(line)
            self._changed.notify_all()

    def on_exit(self, result: ProgramEnd) -> None:
        self.results.append(result)
        self.exited.set()

    def wait_for_lines(self, count: int, timeout: float = TIMEOUT) -> list[str]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.lines) >= count, timeout), self.lines
            return list(self.lines)


Spawn = Callable[..., ProgramWatcher]


def _kill_tagged(marker: str) -> list[int]:
    killed = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(MARKER) == marker:
                process.kill()
                killed.append(process.pid)
        except psutil.Error:
            continue
    return killed


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Spawn]:
    marker = uuid.uuid4().hex
    handles: list[ProgramWatcher] = []
    records = SupervisorRecords(tmp_path / "supervised")

    def _spawn(argv: Any, **kwargs: Any) -> ProgramWatcher:
        env = {MARKER: marker, **(kwargs.pop("env", None) or {})}
        cwd = kwargs.pop("cwd", None)
        spec = ProcessSpec(argv, cwd=cwd, env=env, shell=kwargs.pop("shell", False))
        command = prepare_command(spec)
        log_path = kwargs.pop("log_path", tmp_path / "job.log")
        kwargs.setdefault("grace", 1.0)
        handle = ProgramWatcher.spawn(records, "job1", command, log_path, **kwargs)
        handles.append(handle)
        return handle

    yield _spawn
    for handle in handles:
        handle.kill()
    _kill_tagged(marker)
    for handle in handles:
        finished = handle.wait(TIMEOUT) is not None
        assert finished or handle.detached, f"{handle} did not finish"
    records.close()  # the supervisor service exits: nothing to watch, nobody connected


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_until(condition: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            return False
        pause.wait(0.005)
    return True


def _started(handle: ProgramWatcher) -> int:
    assert _wait_until(lambda: handle.pid is not None), "the program never started"
    assert handle.pid is not None
    return handle.pid


# ---------------------------------------------------------------------- output


def test_output_reaches_log_file_and_on_line(spawn: Spawn, tmp_path: Path) -> None:
    rec = Recorder()
    log = tmp_path / "logs" / "job.log"
    handle = spawn(
        ["sh", "-c", "echo hello; echo oops >&2"],
        log_path=log,
        on_line=rec.on_line,
        on_exit=rec.on_exit,
    )
    result = handle.wait(TIMEOUT)
    assert result is not None
    assert (result.kind, result.exit_code, result.signal) == ("exited", 0, None)
    assert result.tail == ("hello", "oops") and result.leftovers == 0
    assert not result.ended_before_watch and result.ended_at is not None
    assert rec.lines == ["hello", "oops"]
    assert log.read_bytes() == b"hello\noops\n"
    assert rec.results == [result]


def test_log_file_is_appended_not_truncated(spawn: Spawn, tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    log.write_bytes(b"earlier run\n")
    rec = Recorder()
    assert spawn(["echo", "again"], log_path=log, on_line=rec.on_line).wait(TIMEOUT) is not None
    assert log.read_bytes() == b"earlier run\nagain\n"
    assert rec.lines == ["again"]  # only what this run wrote


def test_carriage_returns_and_crlf_split_lines(spawn: Spawn, tmp_path: Path) -> None:
    rec = Recorder()
    handle = spawn(
        ["printf", r"10%%\r20%%\r30%%\r\nwin\r\nlast without newline"], on_line=rec.on_line
    )
    result = handle.wait(TIMEOUT)
    assert result is not None
    assert rec.lines == ["10%", "20%", "30%", "win", "last without newline"]
    assert (tmp_path / "job.log").read_bytes() == (b"10%\r20%\r30%\r\nwin\r\nlast without newline")


def test_real_tqdm_bar_becomes_lines(spawn: Spawn) -> None:
    rec = Recorder()
    code = (
        "import sys\n"
        "from tqdm import tqdm\n"
        "for _ in tqdm(range(4), file=sys.stderr, mininterval=0, miniters=1, ascii=True):\n"
        "    pass\n"
    )
    result = spawn([sys.executable, "-c", code], on_line=rec.on_line).wait(TIMEOUT)
    assert result is not None and result.exit_code == 0
    assert rec.lines[0].startswith("  0%|")
    assert rec.lines[-1].startswith("100%|##########| 4/4")
    assert len(rec.lines) >= 2
    assert not any("\r" in line or "\n" in line for line in rec.lines)


def test_ansi_escapes_stripped_and_bad_utf8_replaced(spawn: Spawn, tmp_path: Path) -> None:
    rec = Recorder()
    raw = r"\033[1;31mred\033[0m \033]0;title\007caf\303\251 \377\n"
    spawn(["printf", raw], on_line=rec.on_line).wait(TIMEOUT)
    assert rec.lines == ["red caf\u00e9 \ufffd"]
    assert b"\x1b[1;31m" in (tmp_path / "job.log").read_bytes()  # the log keeps raw bytes


def test_blank_lines_are_not_reported(spawn: Spawn) -> None:
    rec = Recorder()
    spawn(["printf", r"a\n\n   \nb\n"], on_line=rec.on_line).wait(TIMEOUT)
    assert rec.lines == ["a", "b"]


@pytest.mark.expected_log("on_line callback failed")
def test_failing_on_line_is_logged_and_reading_continues(
    spawn: Spawn, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    seen: list[str] = []

    def on_line(line: str) -> None:
        seen.append(line)
        raise RuntimeError(f"bad consumer {line}")

    rec = Recorder()
    with caplog.at_level(logging.ERROR, logger="jobdeck.runtime.program_watcher"):
        handle = spawn(["printf", r"one\ntwo\n"], on_line=on_line, on_exit=rec.on_exit)
        result = handle.wait(TIMEOUT)
    assert seen == ["one", "two"]
    assert result is not None and result.tail == ("one", "two")
    assert rec.results == [result]
    assert "bad consumer one" in caplog.text
    assert (tmp_path / "job.log").read_bytes() == b"one\ntwo\n"


# ---------------------------------------------------------------------- exit


def test_nonzero_exit_is_reported_with_tail(spawn: Spawn) -> None:
    rec = Recorder()
    handle = spawn(
        ["sh", "-c", "i=1; while [ $i -le 30 ]; do echo line $i; i=$((i+1)); done; exit 3"],
        on_exit=rec.on_exit,
    )
    assert rec.exited.wait(TIMEOUT)
    (result,) = rec.results
    assert result.exit_code == 3
    assert result.signal is None
    assert len(result.tail) == TAIL_LINES == 20
    assert result.tail == tuple(f"line {i}" for i in range(11, 31))
    assert handle.wait(TIMEOUT) is result


def test_on_exit_called_exactly_once_and_on_started_before_it(spawn: Spawn) -> None:
    """A program that runs a moment has its pid told by on_started, before on_exit."""
    calls: list[Any] = []
    returned = threading.Event()

    def on_exit(result: ProgramEnd) -> None:
        calls.append(result)
        returned.set()

    handle = spawn(["sleep", "1"], on_started=calls.append, on_exit=on_exit)
    assert returned.wait(TIMEOUT)
    first = handle.wait(TIMEOUT)
    handle.terminate(grace=0)
    handle.kill()
    assert handle.wait(TIMEOUT) is first
    assert calls == [handle.pid, first]
    assert first is not None and first.exit_code == 0 and first.pid is None  # told already


def test_the_pid_of_a_program_is_told_once_by_on_started_or_with_its_end(spawn: Spawn) -> None:
    """A program over before its start is worth a write of its own (the usual case for
    ``true``) has no on_started: its pid comes with its end, for the job's end to record
    it in the same commit. On a machine too busy to see it end that soon, on_started tells
    it instead; either way it is told exactly once."""
    calls: list[Any] = []
    returned = threading.Event()

    def on_exit(result: ProgramEnd) -> None:
        calls.append(result)
        returned.set()

    handle = spawn(["true"], on_started=calls.append, on_exit=on_exit)
    assert returned.wait(TIMEOUT)
    first = handle.wait(TIMEOUT)
    assert first is not None and first.exit_code == 0 and calls[-1] is first
    told = [*calls[:-1], *([first.pid] if first.pid is not None else [])]
    assert told == [handle.pid]


def test_a_program_over_before_anyone_follows_it_costs_no_pipe_and_no_process_tree(
    spawn: Spawn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With reused threads, a short program's end is finished on the client's reader
    thread: no wake pipe is made for it (no thread ever waits), and no process tree (the
    service had stopped what it left by the time it told the end). Its pid, exit status
    and leftovers come from the service all the same; one that runs on is still followed
    and stopped the usual way."""
    monkeypatch.setattr(program_watcher, "FOLLOW_DELAY", TIMEOUT)  # (no thread follows)
    pipes: list[int] = []
    trees: list[int] = []
    real_pipe2, real_tree = os.pipe2, program_watcher.ProcessTree

    def pipe2(flags: int) -> tuple[int, int]:
        pipes.append(flags)
        return real_pipe2(flags)

    def tree(pid: int, *args: Any, **kwargs: Any) -> Any:
        trees.append(pid)
        return real_tree(pid, *args, **kwargs)

    monkeypatch.setattr(program_watcher.os, "pipe2", pipe2)
    monkeypatch.setattr(program_watcher, "ProcessTree", tree)
    threads = WatcherThreads("jd-test-short", idle_timeout=TIMEOUT)
    try:
        rec = Recorder()
        handle = spawn(["sh", "-c", "exit 3"], threads=threads, on_exit=rec.on_exit)
        assert rec.exited.wait(TIMEOUT)
        (end,) = rec.results
        assert (end.kind, end.exit_code, end.leftovers) == ("exited", 3, 0)
        assert end.pid is not None and handle.pid == end.pid
        assert pipes == [] and trees == []
    finally:
        threads.close()
    # A program still running once a thread follows it: pipe and tree as before.
    monkeypatch.setattr(program_watcher, "FOLLOW_DELAY", 0.0)
    threads = WatcherThreads("jd-test-long", idle_timeout=TIMEOUT)
    try:
        rec = Recorder()
        handle = spawn(["sleep", "60"], threads=threads, on_exit=rec.on_exit)
        assert _wait_until(lambda: trees != [] and pipes != [])
        handle.terminate(grace=0.5)
        assert rec.exited.wait(TIMEOUT)
        assert rec.results[0].signal == signal.SIGTERM
    finally:
        threads.close()


def test_wait_inside_on_exit_returns_the_result(spawn: Spawn) -> None:
    inner: list[ProgramEnd | None] = []
    handles: list[ProgramWatcher] = []
    ready = threading.Event()
    done = threading.Event()

    def on_exit(result: ProgramEnd) -> None:
        ready.wait(TIMEOUT)
        inner.append(handles[0].wait())
        done.set()

    handles.append(spawn(["true"], on_exit=on_exit))
    ready.set()
    assert done.wait(TIMEOUT)
    assert inner == [handles[0].wait(TIMEOUT)]


def test_wait_times_out_while_running(spawn: Spawn) -> None:
    handle = spawn(["sleep", "60"])
    assert handle.wait(timeout=0.05) is None
    handle.kill()
    result = handle.wait(TIMEOUT)
    assert result is not None
    assert result.signal == signal.SIGKILL
    assert result.exit_code is None


def test_identity_pid_pgid_start_time_and_not_our_child(spawn: Spawn) -> None:
    handle = spawn(["sleep", "60"])
    pid = _started(handle)
    assert os.getpgid(pid) == os.getsid(pid) == pid != os.getpgid(0)
    process = psutil.Process(pid)
    assert process.ppid() != os.getpid()  # the supervisor's child, not ours
    assert handle.tree is not None and handle.tree.start_time == process_start_time(pid)
    assert handle.tree.alive()
    assert "job1" in repr(handle)


def test_resource_use_of_the_tree_is_measured(spawn: Spawn) -> None:
    code = "x = bytearray(40_000_000)\nimport time\nt = time.process_time()\n"
    code += "while time.process_time() - t < 0.3: pass\n"
    result = spawn([sys.executable, "-c", code]).wait(TIMEOUT)
    assert result is not None and result.exit_code == 0
    assert result.peak_rss is not None and result.peak_rss > 40_000_000
    assert result.cpu_seconds is not None and result.cpu_seconds >= 0.25


def test_background_child_left_behind_is_stopped(spawn: Spawn) -> None:
    rec = Recorder()
    handle = spawn(["sh", "-c", "sleep 60 & echo $!"], on_line=rec.on_line)
    result = handle.wait(TIMEOUT)
    assert result is not None and result.exit_code == 0
    grandchild = int(rec.lines[0])
    assert result.leftovers == 1
    assert _wait_until(lambda: _gone(grandchild), timeout=2.0), "grandchild survived"


# ---------------------------------------------------------------------- start errors


def test_a_child_stopping_with_its_group_is_no_leftover(spawn: Spawn) -> None:
    """A cancelled shell loop: SIGTERM reaches the shell and its child together; the shell
    goes at once, the child a moment later (here it tidies up for 50 ms). That child is
    stopping, not left running: the log said "stopped 1 process(es) the program left
    running" at every cancel of such a loop (QA sweep)."""
    tidy = (
        "import signal, sys, time\n"
        "def bye(*_):\n"
        "    time.sleep(0.05)\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    rec = Recorder()
    handle = spawn(["sh", "-c", f"'{sys.executable}' -c \"{tidy}\" & wait"], on_line=rec.on_line)
    assert rec.wait_for_lines(1) == ["ready"]
    handle.terminate(grace=2.0)
    result = handle.wait(TIMEOUT)
    assert result is not None and result.signal == signal.SIGTERM
    assert result.leftovers == 0


def test_missing_executable(spawn: Spawn, tmp_path: Path) -> None:
    with pytest.raises(ProcessStartError) as info:
        spawn(["jobdeck-no-such-program-xyz", "--flag"])
    assert str(info.value) == "executable not found: 'jobdeck-no-such-program-xyz' (searched PATH)"
    assert not (tmp_path / "job.log").exists()  # nothing ran, nothing was opened


def test_missing_executable_path(spawn: Spawn, tmp_path: Path) -> None:
    with pytest.raises(ProcessStartError, match=r"executable not found: '\./nope\.sh' \(in "):
        spawn(["./nope.sh"], cwd=tmp_path)


def test_non_executable_file(spawn: Spawn, tmp_path: Path) -> None:
    script = tmp_path / "x.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    with pytest.raises(ProcessStartError) as info:
        spawn(["./x.sh"], cwd=tmp_path)
    assert str(info.value).startswith("permission denied: './x.sh' is not executable")


def test_relative_executable_resolved_in_cwd(spawn: Spawn, tmp_path: Path) -> None:
    script = tmp_path / "x.sh"
    script.write_text("#!/bin/sh\necho ran in $(pwd)\n")
    script.chmod(0o755)
    rec = Recorder()
    result = spawn(["./x.sh"], cwd=str(tmp_path), on_line=rec.on_line).wait(TIMEOUT)
    assert result is not None and result.exit_code == 0
    assert rec.lines == [f"ran in {tmp_path}"]


def test_script_without_shebang_fails_to_start_saying_why(spawn: Spawn, tmp_path: Path) -> None:
    script = tmp_path / "noshebang"
    script.write_text("echo hi\n")
    script.chmod(0o755)
    result = spawn([str(script)]).wait(TIMEOUT)
    assert result is not None and result.kind == "start_failed"
    assert result.error is not None and "needs a '#!' line" in result.error


def test_bad_cwd(spawn: Spawn, tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ProcessStartError) as info:
        spawn(["true"], cwd=str(missing))
    assert str(info.value) == f"working directory does not exist: {missing}"
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(ProcessStartError, match="working directory is not a directory"):
        spawn(["true"], cwd=a_file)


@pytest.mark.parametrize(
    ("argv", "shell", "message"),
    [
        ("ls -l", False, "argv: must be a list of arguments, got the string 'ls -l'"),
        ([], False, "argv: is empty"),
        (["echo", 3], False, r"argv\[1\]: must be a string, got int 3"),
        ([""], False, r"argv\[0\]: the program to run is an empty string"),
        (["a\0b"], False, r"argv\[0\]: contains a NUL character"),
        (["echo", "a", "b"], True, "argv: shell=True needs one command string"),
        ("   ", True, "argv: the shell command is empty"),
    ],
)
def test_bad_argv_is_rejected(
    spawn: Spawn, tmp_path: Path, argv: Any, shell: bool, message: str
) -> None:
    """The spec refuses it (naming the field) before anything could run."""
    with pytest.raises(ParamError, match=message):
        spawn(argv, shell=shell)
    assert not (tmp_path / "job.log").exists()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"N": 1}, r"env\['N'\]: must be a string, got int 1"),
        ({"A=B": "x"}, r"env\['A=B'\]: is not a usable variable name: it contains '='"),
        ({"": "x"}, r"env\[''\]: is not a usable variable name: it is empty"),
        ({"A\0": "x"}, r"is not a usable variable name: it contains NUL"),
        ({"A": "x\0y"}, r"env\['A'\]: contains a NUL character"),
    ],
)
def test_bad_env_is_rejected(spawn: Spawn, env: dict[str, Any], message: str) -> None:
    with pytest.raises(ParamError, match=message):
        spawn(["true"], env=env)


# ---------------------------------------------------------------------- shell and env


def test_no_shell_passes_dollar_home_literally(spawn: Spawn) -> None:
    rec = Recorder()
    spawn(["echo", "$HOME", "*"], on_line=rec.on_line).wait(TIMEOUT)
    assert rec.lines == ["$HOME *"]


@pytest.mark.parametrize("command", ["echo $HOME", ["echo $HOME"]])
def test_shell_true_expands(command: Any) -> None:
    prepared = prepare_command(ProcessSpec(command, shell=True, env={"HOME": "/custom/home"}))
    assert prepared.argv == ("/bin/sh", "-c", "echo $HOME")
    assert prepared.env["HOME"] == "/custom/home"


def test_shell_true_runs_through_sh(spawn: Spawn) -> None:
    rec = Recorder()
    spawn("echo $HOME", shell=True, env={"HOME": "/custom/home"}, on_line=rec.on_line).wait(TIMEOUT)
    assert rec.lines == ["/custom/home"]


def test_env_is_merged_over_os_environ(spawn: Spawn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBDECK_INHERITED", "from parent")
    monkeypatch.setenv("JOBDECK_OVERRIDDEN", "old")
    rec = Recorder()
    spawn(
        ["sh", "-c", 'echo "$JOBDECK_INHERITED|$JOBDECK_OVERRIDDEN|$JOBDECK_NEW"'],
        env={"JOBDECK_OVERRIDDEN": "new", "JOBDECK_NEW": "42"},
        on_line=rec.on_line,
    ).wait(TIMEOUT)
    assert rec.lines == ["from parent|new|42"]


# ---------------------------------------------------------------------- stopping


def test_terminate_stops_a_well_behaved_process(spawn: Spawn) -> None:
    handle = spawn(["sleep", "60"])
    handle.terminate(grace=5.0)  # before the pid is known: applied once it is
    result = handle.wait(TIMEOUT)
    assert result is not None
    assert result.signal == signal.SIGTERM


def test_terminate_escalates_to_sigkill_after_grace(spawn: Spawn) -> None:
    rec = Recorder()
    handle = spawn(
        ["sh", "-c", 'trap "" TERM; echo ready; sleep 60'],
        on_line=rec.on_line,
        on_exit=rec.on_exit,
    )
    rec.wait_for_lines(1)  # the trap is installed
    grace = 1.0
    started = time.monotonic()
    handle.terminate(grace=grace)
    assert time.monotonic() - started < grace / 2  # does not block (wait out the grace)
    assert handle.wait(timeout=0.2) is None  # SIGTERM is ignored...
    result = handle.wait(timeout=grace + 0.5)  # ...until the SIGKILL
    elapsed = time.monotonic() - started
    assert result is not None, "still alive after grace + 0.5 s"
    assert elapsed >= grace - 0.05
    assert result.signal == signal.SIGKILL
    assert rec.results == [result]


def test_terminate_after_a_delay(spawn: Spawn) -> None:
    handle = spawn(["sleep", "60"])
    _started(handle)
    started = time.monotonic()
    handle.terminate(grace=5.0, delay=0.3)
    assert handle.wait(timeout=0.2) is None
    result = handle.wait(TIMEOUT)
    assert result is not None and result.signal == signal.SIGTERM
    assert time.monotonic() - started >= 0.25


@pytest.mark.parametrize("background", ["sleep 60", "setsid sleep 60"])
def test_terminate_reaches_grandchildren(spawn: Spawn, background: str) -> None:
    rec = Recorder()
    handle = spawn(["sh", "-c", f"{background} & echo $!; wait"], on_line=rec.on_line)
    grandchild = int(rec.wait_for_lines(1)[0])
    pid = _started(handle)
    if background.startswith("setsid"):  # make sure it really left our process group
        assert _wait_until(lambda: os.getsid(grandchild) == grandchild)
        assert os.getpgid(grandchild) != pid
    assert not _gone(grandchild)
    handle.terminate(grace=2.0)
    result = handle.wait(TIMEOUT)
    assert result is not None and result.signal == signal.SIGTERM
    assert _wait_until(lambda: _gone(grandchild), timeout=1.0), "grandchild survived"


def test_sigkill_reaches_a_setsid_grandchild_that_ignores_sigterm(
    spawn: Spawn, tmp_path: Path
) -> None:
    stubborn = tmp_path / "stubborn.sh"
    stubborn.write_text('#!/bin/sh\ntrap "" TERM\necho $$\nexec sleep 60\n')
    stubborn.chmod(0o755)
    rec = Recorder()
    handle = spawn(["sh", "-c", f"setsid {stubborn} & wait"], on_line=rec.on_line)
    grandchild = int(rec.wait_for_lines(1)[0])
    assert _wait_until(lambda: psutil.Process(grandchild).name() == "sleep")
    grace = 0.3
    handle.terminate(grace=grace)
    result = handle.wait(TIMEOUT)  # the shell dies on SIGTERM; its orphan lives on...
    assert result is not None and result.signal == signal.SIGTERM
    # ...until the escalation, which remembers it even though it was re-parented.
    assert _wait_until(lambda: _gone(grandchild), timeout=grace + 0.5), "grandchild survived"


def test_kill_kills_now(spawn: Spawn) -> None:
    rec = Recorder()
    handle = spawn(["sh", "-c", 'trap "" TERM; sleep 60 & echo $!; wait'], on_line=rec.on_line)
    grandchild = int(rec.wait_for_lines(1)[0])
    _started(handle)
    handle.kill()
    result = handle.wait(TIMEOUT)
    assert result is not None and result.signal == signal.SIGKILL
    assert _wait_until(lambda: _gone(grandchild), timeout=1.0)


def test_negative_grace_is_rejected(spawn: Spawn) -> None:
    handle = spawn(["sleep", "60"])
    assert handle.tree is not None or _started(handle)
    assert handle.tree is not None
    with pytest.raises(ValueError, match="grace must be >= 0"):
        handle.tree.terminate(grace=-1)


def test_detach_leaves_the_program_running(spawn: Spawn) -> None:
    rec = Recorder()
    handle = spawn(["sleep", "60"], on_exit=rec.on_exit)
    pid = _started(handle)
    handle.detach()
    assert handle.wait(0) is None
    assert not _gone(pid)
    os.kill(pid, signal.SIGKILL)
    assert _wait_until(lambda: _gone(pid))
    assert rec.results == []  # nobody is watching any more
